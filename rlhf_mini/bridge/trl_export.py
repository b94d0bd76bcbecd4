"""Export the course's world for TRL: preference data, prompts, a reward function, scripts.

``export_trl(out_dir)`` (the command ``rlhf-mini export-trl OUT_DIR``) writes a folder that
trains a real language model with the course's methods on one GPU or many:

    data/preferences.jsonl  {"prompt", "chosen", "rejected"} per line: TRL's standard
                            preference format, from simulated labellers or a reader's picks
    data/prompts.jsonl      {"prompt"} per line: TRL's prompt-only format, for GRPO
    reward.py               the gold utility as a TRL reward function (+ gold_utility.json)
    train_dpo.py            trl.DPOTrainer on the preferences
    train_grpo.py           trl.GRPOTrainer on the prompts with reward.py
    accelerate/*.yaml       one GPU, several GPUs, DeepSpeed ZeRO-2
    README.md               what each file is, and the ``accelerate launch`` lines
    model/                  only with ``model_dir``: a local checkpoint the scripts default to

Nothing here imports TRL: the exported scripts do, on the machine that trains. Completions
start with a space (" Boil the egg...") as in TRL's examples, so a tokenizer sees the prompt
and the completion as separate words.

The reader's picks come from the preference-game widget's "Download my picks" button: JSON
``{"format": "rlhf_mini.picks", "version": 1, "picks": [{"prompt_id", "chosen", "rejected"}]}``
with candidate indices of the world's prompts.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from rlhf_mini.worlds.bandit import Comparisons, World, load_world, simulate_comparisons

__all__ = [
    "DEFAULT_MODEL",
    "PICKS_FORMAT",
    "TRLExport",
    "export_trl",
    "picks_document",
    "read_picks",
]

DEFAULT_MODEL = "Qwen/Qwen2.5-0.5B-Instruct"
PICKS_FORMAT = "rlhf_mini.picks"
_SCRIPTS = ("train_dpo.py", "train_grpo.py")
_COPIED = ("reward.py", "accelerate/single_gpu.yaml", "accelerate/multi_gpu.yaml",
           "accelerate/zero2.yaml")  # fmt: skip
_MODEL_LINE = 'DEFAULT_MODEL = "{}"  # set by rlhf-mini export-trl'


@dataclass(frozen=True)
class TRLExport:
    """What :func:`export_trl` wrote."""

    out_dir: Path
    n_pairs: int
    n_prompts: int
    source: str  # "simulated labellers (...)" or "picks from FILE"
    model: str
    files: list[str] = field(default_factory=list)  # relative paths, sorted

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": str(self.out_dir),
            "n_pairs": self.n_pairs,
            "n_prompts": self.n_prompts,
            "source": self.source,
            "model": self.model,
            "files": self.files,
        }


def read_picks(path: str | Path, world: World | None = None) -> Comparisons:
    """The comparisons in a picks file of the preference-game widget.

    Raises ``ValueError`` naming the file (and the pick) for anything malformed.
    """
    world = load_world() if world is None else world
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"picks file {str(path)!r} cannot be read as JSON: {err}") from None
    if not isinstance(doc, dict) or doc.get("format") != PICKS_FORMAT:
        raise ValueError(f"picks file {str(path)!r} is not a {PICKS_FORMAT} document")
    picks = doc.get("picks")
    if not isinstance(picks, list) or not picks:
        raise ValueError(f"picks file {str(path)!r} holds no picks")
    ids = {p.id: i for i, p in enumerate(world.prompts)}
    k = world.n_candidates
    rows = []
    for i, pick in enumerate(picks):
        ok = isinstance(pick, dict) and pick.get("prompt_id") in ids
        chosen, rejected = (pick.get("chosen"), pick.get("rejected")) if ok else (None, None)
        ok = ok and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v < k
            for v in (chosen, rejected)
        )
        if not ok or chosen == rejected:
            raise ValueError(
                f"picks file {str(path)!r}: pick {i} must be {{'prompt_id': one of the world's "
                f"prompt ids, 'chosen' and 'rejected': two different indices in [0, {k})}}, "
                f"got {pick!r}"
            )
        rows.append((ids[pick["prompt_id"]], chosen, rejected))
    prompt, chosen, rejected = (np.array(col, dtype=int) for col in zip(*rows, strict=True))
    return Comparisons(prompt, chosen, rejected)


def picks_document(picks: list[tuple[str, int, int]]) -> dict[str, Any]:
    """The JSON document of a reader's picks, ``(prompt_id, chosen, rejected)`` each, as the
    preference-game widget saves it and :func:`read_picks` reads it.

    Examples
    --------
    >>> picks_document([("boil-egg", 2, 0)])["picks"]
    [{'prompt_id': 'boil-egg', 'chosen': 2, 'rejected': 0}]
    """
    return {
        "format": PICKS_FORMAT,
        "version": 1,
        "picks": [{"prompt_id": str(p), "chosen": int(c), "rejected": int(r)} for p, c, r in picks],
    }


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _template(name: str) -> str:
    return resources.files("rlhf_mini.bridge").joinpath("trl_files", name).read_text("utf-8")


def export_trl(
    out_dir: str | Path,
    *,
    picks: str | Path | None = None,
    n: int = 1000,
    seed: int = 0,
    temperature: float = 1.0,
    verbosity_bias: float = 0.0,
    model: str = DEFAULT_MODEL,
    model_dir: str | Path | None = None,
    overwrite: bool = False,
) -> TRLExport:
    """Write the TRL folder (see the module docstring).

    Parameters
    ----------
    out_dir : path
        Created if missing; must be empty unless ``overwrite``.
    picks : path, optional
        A picks file of the preference-game widget; default: ``n`` simulated comparisons
        (:func:`rlhf_mini.simulate_comparisons` with ``seed``, ``temperature``,
        ``verbosity_bias``).
    model : str
        The model the scripts train by default (a Hugging Face Hub name or a path).
    model_dir : path, optional
        A local ``transformers`` checkpoint folder (``config.json`` and weights, plus its
        tokenizer) copied to ``out_dir/model``, which the scripts then default to. This is
        where an export of the course's own tiny language model plugs in.
    overwrite : bool
        Write into a non-empty ``out_dir`` (files of the same names are replaced).

    Examples
    --------
    >>> import json, tempfile
    >>> out = export_trl(tempfile.mkdtemp(), n=3, seed=1)
    >>> out.n_pairs, "train_grpo.py" in out.files
    (3, True)
    >>> row = json.loads((out.out_dir / "data" / "preferences.jsonl").read_text().splitlines()[0])
    >>> sorted(row)
    ['chosen', 'prompt', 'rejected']
    """
    world = load_world()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {str(out)!r} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ValueError(
            f"out_dir {str(out)!r} is not empty (overwrite=True, or --overwrite, writes into it)"
        )
    if model_dir is not None:
        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise ValueError(
                f"model_dir {str(model_dir)!r} must be a transformers checkpoint folder "
                "(no config.json in it)"
            )
        model = "model"
    if not isinstance(model, str) or not model or '"' in model or "\n" in model:
        raise ValueError(f"model must be a model name or path, got {model!r}")

    if picks is None:
        comparisons = simulate_comparisons(
            n, seed, temperature=temperature, verbosity_bias=verbosity_bias, world=world
        )
        source = (
            f"simulated labellers: seed {seed}, temperature {temperature}, "
            f"verbosity bias {verbosity_bias}"
        )
    else:
        comparisons = read_picks(picks, world)
        source = f"the reader's picks from {Path(picks).name}"

    out.mkdir(parents=True, exist_ok=True)
    prompts = world.prompts
    _write_data(out, world, comparisons)
    _write_scripts(out, model)
    readme = Template(_template("README.md")).substitute(
        n_pairs=len(comparisons), source=source, n_prompts=len(prompts), model=model
    )
    (out / "README.md").write_text(readme, encoding="utf-8")
    if model_dir is not None:
        shutil.copytree(model_dir, out / "model", dirs_exist_ok=True)

    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return TRLExport(out, len(comparisons), len(prompts), source, model, files)


def _write_data(out: Path, world: World, comparisons: Comparisons) -> None:
    """data/preferences.jsonl (TRL's standard preference format), data/prompts.jsonl and
    gold_utility.json (what reward.py scores with)."""
    prompts = world.prompts
    _jsonl(
        out / "data" / "preferences.jsonl",
        [
            {
                "prompt": prompts[x].text,
                "chosen": " " + prompts[x].responses[c].text,
                "rejected": " " + prompts[x].responses[r].text,
            }
            for x, c, r in zip(
                comparisons.prompt.tolist(),
                comparisons.chosen.tolist(),
                comparisons.rejected.tolist(),
                strict=True,
            )
        ],
    )
    _jsonl(out / "data" / "prompts.jsonl", [{"prompt": p.text} for p in prompts])
    utility = world.gold_utility()
    table = {
        "about": "gold utility u = phi . w_gold of every candidate response (rlhf_mini world)",
        "prompts": [
            {
                "prompt": p.text,
                "responses": [r.text for r in p.responses],
                "utilities": utility[i].tolist(),
            }
            for i, p in enumerate(prompts)
        ],
    }
    (out / "gold_utility.json").write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")


def _write_scripts(out: Path, model: str) -> None:
    """reward.py, the accelerate configs and the training scripts (defaulting to ``model``)."""
    for name in _COPIED:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(_template(name), encoding="utf-8")
    for name in _SCRIPTS:
        text = _template(name)
        default_line = _MODEL_LINE.format(DEFAULT_MODEL)
        if text.count(default_line) != 1:  # the scripts and this module must agree
            raise RuntimeError(f"{name}: the DEFAULT_MODEL line is missing")
        (out / name).write_text(text.replace(default_line, _MODEL_LINE.format(model)), "utf-8")
