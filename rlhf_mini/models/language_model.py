"""The tiny language model as one object: architecture, weights and tokenizer, and its files.

:class:`LanguageModel` bundles a :class:`~rlhf_mini.models.transformer.GPTConfig`, its
parameters (numpy or torch) and the :class:`~rlhf_mini.worlds.tokenizer.Tokenizer`, and
speaks text: sample responses to prompts, score the log-probability of given responses,
read a reward model's score. The math lives in :mod:`rlhf_mini.models.transformer`.

Pretrained weights ship inside the package (``rlhf_mini/models/weights/``), one ``.npz`` per stage,
listed with their sha256 in ``manifest.json``. :func:`load_language_model` refuses a file
whose hash differs from the manifest (a corrupted or edited file), whose vocabulary differs
from the tokenizer's, or whose arrays have the wrong shapes. The weights are stored in
float32 (half the bytes) and computed with in float64 unless asked otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rlhf_mini.core.backend import Backend, resolve_backend, to_numpy
from rlhf_mini.models import transformer as tr
from rlhf_mini.worlds.tokenizer import Tokenizer

__all__ = [
    "STAGES",
    "LanguageModel",
    "load_language_model",
    "read_weights",
    "shipped_manifest",
    "weights_bytes",
    "write_weights",
]

#: The shipped stages: the pretrained base model, the supervised fine-tuned model, and two
#: reward models (SFT trunk + reward head) fit to faithful / verbosity-loving labellers.
STAGES = ("base", "sft", "reward", "reward_verbose")
#: Where the shipped weights live inside the package.
WEIGHTS_DIR = ("weights",)


@dataclass
class LanguageModel:
    """A GPT-2-style model with its tokenizer.

    Parameters
    ----------
    config : GPTConfig
    params : dict of arrays (numpy or torch; all on one backend)
    tokenizer : Tokenizer
        Its vocabulary size must equal ``config.vocab_size``.

    Examples
    --------
    >>> lm = load_language_model("sft")
    >>> lm.generate(["At what temperature does water boil at sea level?"], top_k=1)
    ['Water boils at 100 degrees Celsius at sea level.']
    """

    config: tr.GPTConfig
    params: dict[str, Any]
    tokenizer: Tokenizer

    def __post_init__(self) -> None:
        if self.tokenizer.vocab_size != self.config.vocab_size:
            raise ValueError(
                f"tokenizer has {self.tokenizer.vocab_size} tokens but config.vocab_size is "
                f"{self.config.vocab_size}"
            )
        tr.check_params(self.params, self.config)

    @property
    def heads(self) -> tuple[str, ...]:
        """The scalar heads the parameters have ("value", "reward")."""
        return tuple(h for h in tr.HEADS if f"{h}_head.weight" in self.params)

    def to(
        self, backend: str | Backend = "numpy", device: Any = None, dtype: str = "float64"
    ) -> LanguageModel:
        """The same model with its parameters on another backend / device / dtype."""
        b = backend if isinstance(backend, Backend) else resolve_backend(backend, device, dtype)
        params = {k: b.asarray(to_numpy(v)) for k, v in self.params.items()}
        return LanguageModel(self.config, params, self.tokenizer)

    def with_heads(self, heads: tuple[str, ...], seed: int = 0) -> LanguageModel:
        """A copy with exactly ``heads`` (new heads start at zero, as in :func:`init_params`)."""
        fresh = tr.init_params(self.config, seed, heads=heads)
        w = self.params["wte.weight"]
        params = {
            name: self.params[name]
            if name in self.params
            else tr.host_to_backend(fresh[name], w, w.dtype)
            for name in tr.param_shapes(self.config, heads)
        }
        return LanguageModel(self.config, params, self.tokenizer)

    # -- text in, tokens out --------------------------------------------------------------

    def encode_prompts(self, prompts: list[str], *, unknown: str = "error") -> list[list[int]]:
        """``<bos> prompt <sep>`` ids of each prompt (clear errors for empty / unknown words,
        or a prompt that leaves no room for a response in the context)."""
        if isinstance(prompts, str) or not prompts:
            raise ValueError("prompts must be a non-empty list of strings")
        out = []
        for p in prompts:
            ids = self.tokenizer.encode_prompt(p, unknown=unknown)
            if len(ids) >= self.config.n_positions:
                raise ValueError(
                    f"prompt {p!r} has {len(ids)} tokens with <bos> and <sep>, too long for "
                    f"the context of {self.config.n_positions}"
                )
            out.append(ids)
        return out

    def batch(
        self, prompts: list[str], responses: list[str], *, unknown: str = "error"
    ) -> tr.Batch:
        """Token batch of (prompt, response + <eos>) pairs, for :meth:`log_probs` and scoring."""
        if len(responses) != len(prompts):
            raise ValueError("prompts and responses must have the same length")
        p_ids = self.encode_prompts(prompts, unknown=unknown)
        r_ids = [
            [*self.tokenizer.encode(r, unknown=unknown), self.tokenizer.eos_id] for r in responses
        ]
        for p, r in zip(p_ids, r_ids, strict=True):
            if len(p) + len(r) > self.config.n_positions:
                raise ValueError(
                    f"responses: a prompt and response need {len(p) + len(r)} positions, more "
                    f"than the context of {self.config.n_positions}"
                )
        return tr.collate(p_ids, r_ids, self.tokenizer.pad_id)

    # -- sampling --------------------------------------------------------------------------

    def sample(
        self,
        prompts: list[str],
        rng: np.random.Generator,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        max_new_tokens: int | None = None,
    ) -> tr.Batch:
        """One sampled response per prompt, as a token :class:`Batch` (see
        :func:`rlhf_mini.models.transformer.sample`). ``max_new_tokens`` defaults to what the
        context leaves after the longest prompt, less one: a response cut there still fits
        with the <eos> that :meth:`batch` appends when it is scored."""
        ids = self.encode_prompts(prompts)
        room = self.config.n_positions - max(len(p) for p in ids) - 1
        n_new = room if max_new_tokens is None else max_new_tokens
        return tr.sample(
            self.params,
            self.config,
            ids,
            rng,
            max_new_tokens=n_new,
            eos_id=self.tokenizer.eos_id,
            pad_id=self.tokenizer.pad_id,
            temperature=temperature,
            top_k=top_k,
        )

    def decode_responses(self, batch: tr.Batch) -> list[str]:
        """The text of each sampled response (EOS and padding dropped)."""
        return [self.tokenizer.decode(r) for r in batch.responses()]

    def generate(
        self,
        prompts: list[str],
        seed: int = 0,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        max_new_tokens: int | None = None,
    ) -> list[str]:
        """Sample a response to each prompt (``np.random.default_rng(seed)``) and decode it."""
        rng = np.random.default_rng(seed)
        batch = self.sample(
            prompts, rng, temperature=temperature, top_k=top_k, max_new_tokens=max_new_tokens
        )
        return self.decode_responses(batch)

    # -- scoring ---------------------------------------------------------------------------

    def log_probs(
        self, prompts: list[str], responses: list[str], reduce: str = "sum"
    ) -> np.ndarray:
        """log pi(response + <eos> | prompt) of each pair, summed (or averaged, ``"mean"``)
        over the response's tokens; numpy (B,)."""
        batch = self.batch(prompts, responses)
        out = tr.forward(self.params, self.config, batch.tokens, batch.attention_mask)
        lp = tr.token_log_probs(out.logits, batch.tokens)
        return to_numpy(tr.sequence_log_probs(lp, batch.response_mask, reduce))

    def rewards(self, prompts: list[str], responses: list[str]) -> np.ndarray:
        """The reward head's score at each pair's last token (<eos>), numpy (B,)."""
        if "reward" not in self.heads:
            raise ValueError("this model has no reward head (load stage 'reward')")
        batch = self.batch(prompts, responses)
        out = tr.forward(self.params, self.config, batch.tokens, batch.attention_mask, logits=False)
        r = to_numpy(out.rewards)
        return r[np.arange(r.shape[0]), batch.last_index]


# ---------------------------------------------------------------------------------------
# files


def weights_bytes(model: LanguageModel, dtype: Any = np.float32) -> bytes:
    """The model as the bytes of a compressed ``.npz``: the parameters (in ``dtype``),
    ``__config__`` (JSON) and ``__vocab__`` (the tokenizer's words). Deterministic: the
    same weights give the same bytes, hence the same sha256."""
    arrays = {k: np.asarray(to_numpy(v), dtype=dtype) for k, v in model.params.items()}
    arrays["__config__"] = np.array(json.dumps(model.config.to_dict(), sort_keys=True))
    arrays["__vocab__"] = np.array(list(model.tokenizer.words))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub: **kwds
    return _deterministic_zip(buf.getvalue())


def _deterministic_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps (``np.savez`` stamps the current time)."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


def read_weights(
    data: bytes,
    tokenizer: Tokenizer,
    *,
    sha256: str | None = None,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
    name: str = "weights",
) -> LanguageModel:
    """A :class:`LanguageModel` from the bytes :func:`weights_bytes` wrote.

    Raises ``ValueError`` naming ``name`` if the sha256 differs from ``sha256`` (when
    given), the file is not a weights archive, its vocabulary is not the tokenizer's, or a
    parameter has the wrong shape.
    """
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise ValueError(
                f"{name} is corrupted: its sha256 is {got}, the manifest records {sha256}; "
                "reinstall rlhf-mini or re-run `python -m rlhf_mini lm-pretrain`"
            )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"{name} is not a weights archive (.npz): {err}") from err
    if "__config__" not in arrays or "__vocab__" not in arrays:
        raise ValueError(f"{name} lacks __config__ / __vocab__: not written by weights_bytes")
    config = tr.GPTConfig(**json.loads(str(arrays.pop("__config__"))))
    vocab = tuple(str(w) for w in arrays.pop("__vocab__"))
    if vocab != tokenizer.words:
        raise ValueError(f"{name} was trained on a different vocabulary than the tokenizer's")
    b = resolve_backend(backend, device, dtype)
    model = LanguageModel(config, {k: b.asarray(v) for k, v in arrays.items()}, tokenizer)
    return model


def shipped_manifest() -> dict[str, Any]:
    """The shipped manifest (``{"stages": {}}`` if the package ships none)."""
    path = resources.files("rlhf_mini.models").joinpath(*WEIGHTS_DIR, "manifest.json")
    if not path.is_file():
        return {"stages": {}}
    return json.loads(path.read_text("utf-8"))


def load_language_model(
    stage: str = "sft",
    *,
    backend: str = "numpy",
    device: Any = None,
    dtype: str = "float64",
    path: str | Path | None = None,
) -> LanguageModel:
    """The shipped model of a training stage, read from the package (no network).

    Parameters
    ----------
    stage : {"base", "sft", "reward", "reward_verbose"}
        The pretrained model, the supervised fine-tuned one, or a reward model (the SFT
        trunk with a reward head) trained on faithful or verbosity-loving labellers.
    backend, device, dtype : where to compute (default numpy, float64).
    path : optional
        Read this file instead of the shipped one (its hash is not checked).

    Examples
    --------
    >>> lm = load_language_model("base")
    >>> lm.config.n_embd, lm.tokenizer.vocab_size == lm.config.vocab_size
    (32, True)
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    from rlhf_mini.worlds.text import load_text_world

    tokenizer = load_text_world().tokenizer
    if path is not None:
        data = Path(path).read_bytes()
        return read_weights(
            data, tokenizer, backend=backend, device=device, dtype=dtype, name=str(path)
        )
    entry = shipped_manifest()["stages"].get(stage)
    if entry is None:
        raise ValueError(f"stage {stage!r} is not shipped in this version of rlhf-mini")
    file = resources.files("rlhf_mini.models").joinpath(*WEIGHTS_DIR, entry["file"])
    if not file.is_file():  # the course's browser wheel leaves the weights out
        raise FileNotFoundError(
            f"the weights of stage {stage!r} ({entry['file']}) are not installed; in the "
            "course's pages only the pages that use the language model download them"
        )
    data = file.read_bytes()
    return read_weights(
        data,
        tokenizer,
        sha256=entry["sha256"],
        backend=backend,
        device=device,
        dtype=dtype,
        name=f"rlhf_mini/models/{'/'.join(WEIGHTS_DIR)}/{entry['file']}",
    )


def write_weights(
    models: dict[str, LanguageModel], folder: str | Path, records: dict[str, dict] | None = None
) -> dict[str, Any]:
    """Write ``models`` (stage -> model) as ``{stage}.npz`` into ``folder`` and record each
    file's sha256 (and ``records[stage]``, e.g. the training run's config and losses) in
    ``folder/manifest.json``, keeping the entries of other stages already there.

    Returns the manifest written.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    manifest.setdefault(
        "about",
        "Weights of the tiny language model (rlhf_mini.models.language_model), stored in "
        "float32; each file's sha256 is checked when it is loaded. Made by "
        "`python -m rlhf_mini lm-pretrain` (base, sft) and `lm-reward-model` (reward models).",
    )
    stages = manifest.setdefault("stages", {})
    for stage, model in models.items():
        if stage not in STAGES:
            raise ValueError(f"models: stage must be one of {STAGES}, got {stage!r}")
        data = weights_bytes(model)
        (folder / f"{stage}.npz").write_bytes(data)
        stages[stage] = {
            "file": f"{stage}.npz",
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            **((records or {}).get(stage, {})),
        }
    manifest["stages"] = {s: stages[s] for s in STAGES if s in stages}
    path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest
