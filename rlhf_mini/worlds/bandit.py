"""The response bandit: the toy world the course trains on - prompts, candidate responses, labellers.

Public functions
----------------
load_world()              -> World   (cached; the data lives in ``rlhf_mini/worlds/data/world.json``)
simulate_comparisons(...) -> Comparisons  (noisy Bradley–Terry labellers, optionally biased)

Each of the world's prompts (safe requests, harmful requests, factual questions - some whose
honest answer is "nobody knows" - and open questions) has the same number K of hand-written
candidate responses. Each response is labelled with the behaviour it shows (e.g.
``"verbose_repetitive"``, ``"refuses_harmful_helps"``) and annotated with interpretable
features in [0, 1] (helpfulness, harmlessness, honesty, respect, verbosity, compliance,
confidence).

Two fixed linear functions of the features stand for people and for pretraining:

    gold utility     u(x, y) = w_gold . phi(x, y)    "what humans really want" (hidden from
                                                     the learner: it only sees comparisons)
    base logits      z(x, y) = w_base . phi(x, y)    the pretrained model's taste: fluent,
                                                     verbose, compliant, confident answers

Simulated labellers compare two responses to one prompt with the Bradley–Terry model
(Bradley & Terry 1952; Christiano et al. 2017, arXiv 1706.03741):

    P(a preferred to b) = sigmoid((u_a - u_b + bias * (verbosity_a - verbosity_b)) / temperature)

``temperature`` is label noise; ``verbosity_bias > 0`` gives labellers who like long answers,
the seed of the reward-hacking experiment.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from rlhf_mini.core.checks import check_int, check_positive, check_real_scalar
from rlhf_mini.core.numerics import sigmoid

__all__ = ["Comparisons", "Prompt", "Response", "World", "load_world", "simulate_comparisons"]


@dataclass(frozen=True)
class Response:
    """One hand-written candidate response."""

    text: str
    behaviour: str  # e.g. "clear_concise", "complies_harmful" (see World.behaviours)
    features: tuple[float, ...]  # one value in [0, 1] per World.features

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "behaviour": self.behaviour, "features": list(self.features)}


@dataclass(frozen=True)
class Prompt:
    """A prompt with its candidate responses; ``demonstration`` indexes the response a
    human demonstrator wrote for supervised fine-tuning (None: no demonstration)."""

    id: str
    category: str  # "safe" | "harmful" | "factual" | "open"
    text: str
    responses: tuple[Response, ...]
    demonstration: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "text": self.text,
            "demonstration": self.demonstration,
            "responses": [r.to_dict() for r in self.responses],
        }


@dataclass(frozen=True)
class World:
    """The prompts, their responses and the two fixed weight vectors (gold, base)."""

    features: tuple[str, ...]
    feature_descriptions: dict[str, str]
    behaviours: dict[str, str]  # behaviour label -> one-line description
    prompts: tuple[Prompt, ...]
    gold_weights: np.ndarray  # (F,)
    base_weights: np.ndarray  # (F,)

    @property
    def n_prompts(self) -> int:
        return len(self.prompts)

    @property
    def n_candidates(self) -> int:
        """K, the number of candidate responses of every prompt."""
        return len(self.prompts[0].responses)

    @property
    def n_features(self) -> int:
        return len(self.features)

    def feature_table(self) -> np.ndarray:
        """phi, shape (P, K, F): the features of every candidate of every prompt."""
        return np.array([[r.features for r in p.responses] for p in self.prompts], dtype=float)

    def gold_utility(self) -> np.ndarray:
        """u = phi . w_gold, shape (P, K): the hidden utility of every response."""
        return self.feature_table() @ self.gold_weights

    def base_logits(self) -> np.ndarray:
        """z = phi . w_base, shape (P, K): the pretrained policy's logits."""
        return self.feature_table() @ self.base_weights

    def feature(self, name: str) -> np.ndarray:
        """One feature for every response, shape (P, K)."""
        if name not in self.features:
            raise ValueError(f"name must be one of {self.features}, got {name!r}")
        return self.feature_table()[:, :, self.features.index(name)]

    def demonstrations(self) -> np.ndarray:
        """Index of each prompt's demonstrated response, shape (P,); -1 where there is none."""
        return np.array(
            [-1 if p.demonstration is None else p.demonstration for p in self.prompts], dtype=int
        )

    def behaviour_table(self) -> list[list[str]]:
        """Behaviour label of every response, P lists of K strings."""
        return [[r.behaviour for r in p.responses] for p in self.prompts]

    def prompt_index(self, prompt_id: str) -> int:
        for i, p in enumerate(self.prompts):
            if p.id == prompt_id:
                return i
        raise ValueError(f"prompt_id {prompt_id!r} is not in the world")

    def to_dict(self) -> dict[str, Any]:
        """Everything a widget needs to display the world (JSON-serialisable)."""
        return {
            "features": list(self.features),
            "feature_descriptions": dict(self.feature_descriptions),
            "behaviours": dict(self.behaviours),
            "gold_weights": dict(zip(self.features, self.gold_weights.tolist(), strict=True)),
            "base_weights": dict(zip(self.features, self.base_weights.tolist(), strict=True)),
            "prompts": [p.to_dict() for p in self.prompts],
        }


def _parse_world(doc: dict[str, Any]) -> World:
    features = tuple(doc["features"])
    prompts = []
    for p in doc["prompts"]:
        responses = tuple(
            Response(r["text"], r["behaviour"], tuple(float(v) for v in r["features"]))
            for r in p["responses"]
        )
        prompts.append(Prompt(p["id"], p["category"], p["text"], responses, p["demonstration"]))
    world = World(
        features=features,
        feature_descriptions=dict(doc["feature_descriptions"]),
        behaviours=dict(doc["behaviours"]),
        prompts=tuple(prompts),
        gold_weights=np.array([doc["gold_weights"][f] for f in features], dtype=float),
        base_weights=np.array([doc["base_weights"][f] for f in features], dtype=float),
    )
    _check_world(world)
    return world


def _check_world(world: World) -> None:
    k = world.n_candidates
    for p in world.prompts:
        if len(p.responses) != k:
            raise ValueError(f"world: prompt {p.id!r} has {len(p.responses)} responses, not {k}")
        if p.demonstration is not None and not 0 <= p.demonstration < k:
            raise ValueError(f"world: prompt {p.id!r} has demonstration out of range")
        for r in p.responses:
            if len(r.features) != world.n_features or not all(0 <= v <= 1 for v in r.features):
                raise ValueError(f"world: a response of {p.id!r} has bad features")
            if r.behaviour not in world.behaviours:
                raise ValueError(f"world: unknown behaviour {r.behaviour!r} in {p.id!r}")


@functools.cache
def load_world() -> World:
    """The packaged toy world (read once with importlib.resources, then cached).

    Examples
    --------
    >>> world = load_world()
    >>> world.n_prompts >= 12 and world.n_candidates >= 4
    True
    >>> world.prompts[0].text
    'How do I boil an egg?'
    """
    text = (
        resources.files("rlhf_mini.worlds")
        .joinpath("data", "world.json")
        .read_text(encoding="utf-8")
    )
    return _parse_world(json.loads(text))


@dataclass(frozen=True)
class Comparisons:
    """Pairwise preferences: for comparison i, on prompt ``prompt[i]`` the labeller preferred
    candidate ``chosen[i]`` over candidate ``rejected[i]``. Arrays of ints, shape (m,)."""

    prompt: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray

    def __len__(self) -> int:
        return int(self.prompt.shape[0])

    def subset(self, index: Any) -> Comparisons:
        """The comparisons selected by ``index`` (a slice, boolean mask or index array)."""
        return Comparisons(self.prompt[index], self.chosen[index], self.rejected[index])

    def split(self, heldout_fraction: float, seed: int = 0) -> tuple[Comparisons, Comparisons]:
        """Random (train, held-out) split; ``heldout_fraction`` in [0, 1)."""
        if not 0 <= heldout_fraction < 1:
            raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction}")
        order = np.random.default_rng(seed).permutation(len(self))
        n_heldout = round(heldout_fraction * len(self))
        return self.subset(order[n_heldout:]), self.subset(order[:n_heldout])

    def agreement(self, utility: np.ndarray) -> float:
        """Fraction of comparisons in which ``utility`` (P, K) ranks chosen above rejected."""
        u = np.asarray(utility, dtype=float)
        return float(np.mean(u[self.prompt, self.chosen] > u[self.prompt, self.rejected]))

    def to_dict(self) -> dict[str, list[int]]:
        return {
            "prompt": self.prompt.tolist(),
            "chosen": self.chosen.tolist(),
            "rejected": self.rejected.tolist(),
        }


def simulate_comparisons(
    n: int,
    seed: int = 0,
    *,
    temperature: float = 1.0,
    verbosity_bias: float = 0.0,
    prompts: Any = None,
    world: World | None = None,
) -> Comparisons:
    """Simulated human labels: ``n`` Bradley–Terry comparisons driven by the gold utility.

    For each comparison a prompt x is drawn uniformly (from ``prompts`` if given), two
    different candidates a, b uniformly, and a is preferred with probability

        P(a > b) = sigmoid((u_a - u_b + verbosity_bias * (v_a - v_b)) / temperature)

    where u is the gold utility and v the verbosity feature.

    Parameters
    ----------
    n : int > 0
        Number of comparisons.
    seed : int
        Seed of ``np.random.default_rng``; the same seed gives the same comparisons.
    temperature : float > 0
        Label noise (large = coin flips, small = always the higher utility).
    verbosity_bias : float
        Extra utility the labellers give to verbosity (0 = faithful to the gold utility).
    prompts : optional sequence of int
        Prompt indices to draw from (default: all prompts).
    world : World, optional
        Defaults to :func:`load_world`.

    Examples
    --------
    >>> c = simulate_comparisons(200, seed=0, temperature=0.5)
    >>> len(c), c.agreement(load_world().gold_utility()) > 0.8
    (200, True)
    """
    n = check_int(n, "n")
    temperature = check_positive(temperature, "temperature")
    verbosity_bias = check_real_scalar(verbosity_bias, "verbosity_bias")
    world = load_world() if world is None else world
    if prompts is None:
        pool = np.arange(world.n_prompts)
    else:
        pool = np.asarray(prompts, dtype=int).reshape(-1)
        if pool.size == 0 or pool.min() < 0 or pool.max() >= world.n_prompts:
            raise ValueError(f"prompts must be non-empty indices in [0, {world.n_prompts})")
    rng = np.random.default_rng(seed)
    k = world.n_candidates
    u = world.gold_utility() + verbosity_bias * world.feature("verbosity")  # (P, K)

    x = pool[rng.integers(0, pool.size, size=n)]
    a = rng.integers(0, k, size=n)
    b = (a + rng.integers(1, k, size=n)) % k  # uniform over the other k - 1 candidates
    z = (u[x, a] - u[x, b]) / temperature
    p_a = sigmoid(np, z)
    a_wins = rng.random(n) < p_a
    chosen = np.where(a_wins, a, b)
    rejected = np.where(a_wins, b, a)
    return Comparisons(x.astype(int), chosen.astype(int), rejected.astype(int))
