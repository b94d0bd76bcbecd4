"""What a trainer returns: one result type with the same history conventions everywhere.

``history`` maps a metric's name to a list with one value per logged step; ``history["step"]``
comes first and says which steps were logged (always the first, 0, and the last).
``config`` is the trainer's whole config as a dict, so ``train_x(<same data>, **config)``
reproduces the run. ``final()`` is the last logged value of every metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PolicyRun", "RunResult"]


@dataclass(kw_only=True)
class RunResult:
    """A training run: its ``config`` and its logged ``history``."""

    history: dict[str, list[Any]]
    config: dict[str, Any] = field(default_factory=dict)

    def final(self) -> dict[str, Any]:
        """The last logged value of every history entry."""
        return {k: v[-1] for k, v in self.history.items() if v}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: config, final values and history (subclasses add their model)."""
        return {
            "config": dict(self.config),
            "final": self.final(),
            "history": {k: list(v) for k, v in self.history.items()},
        }


@dataclass(kw_only=True)
class PolicyRun(RunResult):
    """A run that trained a :class:`rlhf_mini.SoftmaxPolicy`: also the final ``policy`` and
    the frozen ``reference`` it started from."""

    # rlhf_mini.SoftmaxPolicy (typed Any: core imports no layer above it)
    policy: Any
    reference: Any

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: config, final values, history and the policy's probabilities."""
        return {**super().to_dict(), "policy": self.policy.to_numpy().tolist()}
