"""Trainer configs: one frozen dataclass per trainer, a doc line per field, checked once.

Each trainer ``train_x(data, config=None, **options)`` takes an ``XConfig`` (or keyword
options that override it), checks every setting once, when the config is made, and records
the whole config in its result, so that ``train_x(<same data>, **result.config)`` reproduces
the run exactly. The command line builds its flags, defaults and help from the same fields
(:mod:`rlhf_mini.cli`), so a default lives in one place.

A field's doc line is the string literal under it, as in CleanRL's ``Args`` (and read the
same way: tyro and mkdocstrings parse the source, :func:`field_docs` does too)::

    @dataclass(frozen=True)
    class PPOConfig(TrainerConfig):
        beta: float = 0.1
        \"\"\"KL coefficient of the penalty against the reference.\"\"\"

A field whose value must be one of a fixed set says so in its metadata,
``field(default=..., metadata={"choices": (...)})``; the command line offers those choices.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import textwrap
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rlhf_mini.core.checks import check_choice, check_int

__all__ = ["Config", "TrainerConfig", "field_docs"]

C = TypeVar("C", bound="Config")


@dataclass(frozen=True)
class Config:
    """Base of every config: checked on creation, JSON-ready as a dict."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices is not None:
                check_choice(getattr(self, f.name), f.name, choices)
        for name, value in self.check().items():
            object.__setattr__(self, name, value)

    def check(self) -> dict[str, Any]:
        """Check every field; return the normalised values (e.g. ``1`` -> ``1.0``)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """Every field, by name (what a result records as its ``config``)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_options(cls: type[C], config: C | None = None, **options: Any) -> C:
        """``config`` (default: all defaults) with ``options`` replacing its fields.

        Raises ``TypeError`` for a config of another class or an option that is not a
        field, naming it.
        """
        if config is None:
            config = cls()
        elif not isinstance(config, cls):
            raise TypeError(f"config must be a {cls.__name__}, got {type(config).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(
                f"{cls.__name__} has no setting {unknown[0]!r}; settings: {sorted(names)}"
            )
        return dataclasses.replace(config, **options) if options else config


@dataclass(frozen=True)
class TrainerConfig(Config):
    """Settings every trainer shares: where it computes and how it is seeded."""

    seed: int = 0
    """Seed of the numpy Generator behind every random choice of the run."""
    backend: str = field(default="numpy", metadata={"choices": ("numpy", "torch")})
    """Array library to compute with (torch runs the same code on CPU or CUDA)."""
    device: str | None = None
    """torch device, e.g. "cuda" (None: the CPU)."""
    dtype: str = field(default="float64", metadata={"choices": ("float64", "float32")})
    """Precision of every array (float32 is the usual choice on a GPU)."""

    def check(self) -> dict[str, Any]:
        return {"seed": check_int(self.seed, "seed", 0)}


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The doc line under each field of a dataclass and of its bases, by field name.

    Examples
    --------
    >>> field_docs(TrainerConfig)["seed"]
    'Seed of the numpy Generator behind every random choice of the run.'
    """
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is object:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):  # no source (e.g. a frozen build): no help text
            continue
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, after in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs[node.target.id] = " ".join(after.value.value.split())
    return docs
