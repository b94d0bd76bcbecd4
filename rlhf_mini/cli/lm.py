"""The command line of the tiny language model: ``lm-pretrain``, ``lm-sample``, ``lm-reward-model``.

    rlhf-mini lm-pretrain        pretrain + SFT the transformer; compare with the shipped weights
    rlhf-mini lm-sample          sample responses of the base or SFT model, rated by the gold rules
    rlhf-mini lm-reward-model    train a reward model on the SFT trunk from simulated comparisons

:func:`register` adds them to the ``rlhf-mini`` parser; each handler returns, like the
other commands, (JSON-ready result, table text, plot function). Only parsing, calls into the
library and formatting live here.
"""

from __future__ import annotations

import argparse
import hashlib
from collections import Counter
from typing import Any

import numpy as np

from rlhf_mini.cli.commands import UsageError
from rlhf_mini.cli.options import (
    add_config_options,
    field_names,
    given,
    positive,
    positive_int,
    seed,
)
from rlhf_mini.cli.output import figure, fmt, history_table, progress, short, table
from rlhf_mini.core.config import TrainerConfig

__all__ = ["cmd_lm_pretrain", "cmd_lm_reward_model", "cmd_lm_sample", "register"]


def register(subparsers: Any) -> None:
    """Add the language-model subcommands to ``subparsers`` (from ``add_subparsers``).

    The trainers' flags are built from their configs (``add_config_options``), so their
    defaults live in one place, the config dataclass.
    """
    from rlhf_mini.trainers.lm_pretrain import LMPretrainConfig
    from rlhf_mini.trainers.lm_reward_model import LMRewardConfig

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = subparsers.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print the results as JSON only")
        p.add_argument("--plot", metavar="FILE.png", help="save a figure (needs matplotlib)")
        return p

    p = command("lm-pretrain", "Pretrain the tiny transformer on the text world, then SFT it.")
    add_config_options(p, ("", LMPretrainConfig))
    add_config_options(p, ("", TrainerConfig), skip=("seed",))
    p.add_argument(
        "--out", metavar="DIR", default=None, help="write base.npz, sft.npz and manifest.json here"
    )
    p.set_defaults(run=cmd_lm_pretrain)

    p = command("lm-sample", "Sample responses of the shipped base or SFT model.")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--stage", choices=("base", "sft"), default="sft")
    p.add_argument("--n", type=positive_int, default=3, help="samples per prompt (default 3)")
    p.add_argument("--temperature", type=positive, default=1.0, help="sampling temperature")
    p.add_argument("--top-k", type=positive_int, default=None, help="sample from the k likeliest")
    p.add_argument(
        "--prompt",
        default=None,
        help="a prompt in the model's vocabulary (default: one phrasing of every prompt)",
    )
    p.set_defaults(run=cmd_lm_sample)

    p = command(
        "lm-reward-model", "Train a reward model on the SFT trunk from sampled comparisons."
    )
    add_config_options(p, ("", LMRewardConfig))
    p.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="write the reward model's .npz and manifest.json here",
    )
    p.set_defaults(run=cmd_lm_reward_model)


# ---------------------------------------------------------------------------------------
# lm-pretrain


def cmd_lm_pretrain(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """Pretrain + SFT; compare the result's sha256 with the shipped weights'."""
    from rlhf_mini.models.language_model import shipped_manifest, weights_bytes, write_weights
    from rlhf_mini.trainers.lm_pretrain import (
        LMPretrainConfig,
        evaluate_stages,
        run_record,
        train_language_model,
    )

    config = LMPretrainConfig.from_options(**given(args, field_names(LMPretrainConfig)))
    bar = progress(config.steps + config.sft_steps, "lm-pretrain")
    res = train_language_model(
        config,
        **given(args, ("backend", "device", "dtype")),
        callback=lambda stage, step, loss: bar.update(1),
    )
    bar.close()
    shipped = shipped_manifest()["stages"]
    hashes, same = {}, {}
    for stage, model in (("base", res.base), ("sft", res.sft)):
        hashes[stage] = hashlib.sha256(weights_bytes(model)).hexdigest()
        same[stage] = stage in shipped and shipped[stage]["sha256"] == hashes[stage]
    evaluation = evaluate_stages({"base": res.base, "sft": res.sft}, seed=0)
    result = {**res.to_dict(), "sha256": hashes, "matches_shipped": same, "evaluation": evaluation}
    if args.out is not None:
        write_weights({"base": res.base, "sft": res.sft}, args.out, run_record(res))
        result["written_to"] = args.out
    h_pre, h_sft = res.history["pretrain"], res.history["sft"]
    lines = [
        history_table(
            {k: h_pre[k] for k in ("step", "loss")}, "step", "Pretraining (next-token loss)"
        ),
        "",
        history_table(
            {k: h_sft[k] for k in ("step", "loss")},
            "step",
            "Supervised fine-tuning (response tokens)",
        ),
        "",
        table(
            ["stage", "good (demo prompts)", "good (held out)", "sha256", "same as shipped"],
            [
                [
                    s,
                    evaluation[s]["good_rate_demo"],
                    evaluation[s]["good_rate_heldout"],
                    hashes[s][:16],
                    same[s],
                ]
                for s in ("base", "sft")
            ],
            "Sampled responses (temperature 1) that the gold utility rates good (u >= 6)",
        ),
    ]
    if not all(same.values()):
        lines += [
            "",
            "Bit-for-bit reproduction of the shipped files needs the default options and the "
            "numerics they were made with: numpy float64 with one BLAS thread "
            "(OPENBLAS_NUM_THREADS=1); another BLAS or thread count rounds differently.",
        ]
    if args.out is not None:
        lines += ["", f"weights written to {args.out}"]

    def plot(path: str) -> None:
        fig, (ax,) = figure(1)
        ax.plot(h_pre["step"], h_pre["loss"], label="pretraining")
        ax.plot([config.steps + s for s in h_sft["step"]], h_sft["loss"], label="SFT")
        ax.set_xlabel("step")
        ax.set_ylabel("next-token loss (nats)")
        ax.legend()
        fig.savefig(path)

    return result, "\n".join(lines), plot


# ---------------------------------------------------------------------------------------
# lm-sample


def cmd_lm_sample(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """Samples of a shipped model, each rated by the text world's gold rules."""
    from rlhf_mini.models.language_model import load_language_model
    from rlhf_mini.worlds.text import GOOD_UTILITY, behaviour_of, gold_utility, load_text_world

    tw = load_text_world()
    if args.prompt is not None:
        if not args.prompt.strip():
            raise UsageError("--prompt must not be empty")
        try:
            pairs: list[tuple[str | None, str]] = [(tw.prompt_id_of(args.prompt), args.prompt)]
        except ValueError:  # a new phrasing: sampled, but the gold rules need a known prompt
            pairs = [(None, args.prompt)]
    else:
        pairs = [(p.id, p.phrasings[0]) for p in tw.prompts]
    lm = load_language_model(args.stage)
    prompts = [text for _, text in pairs for _ in range(args.n)]
    ids = [pid for pid, _ in pairs for _ in range(args.n)]
    responses = lm.generate(prompts, seed=args.seed, temperature=args.temperature, top_k=args.top_k)
    samples = []
    for pid, prompt, response in zip(ids, prompts, responses, strict=True):
        u = None if pid is None else gold_utility(pid, response, world=tw)
        samples.append(
            {
                "prompt_id": pid,
                "prompt": prompt,
                "response": response,
                "gold_utility": u,
                "good": None if u is None else u >= GOOD_UTILITY,
                "behaviour": None if pid is None else behaviour_of(pid, response, world=tw),
            }
        )
    rated = [bool(s["good"]) for s in samples if s["good"] is not None]
    counts = Counter(s["behaviour"] for s in samples if s["behaviour"] is not None)
    result = {
        "config": {
            "stage": args.stage,
            "n": args.n,
            "temperature": args.temperature,
            "top_k": args.top_k,
            "seed": args.seed,
        },
        "good_rate": float(np.mean(rated)) if rated else None,
        "behaviours": dict(counts),
        "samples": samples,
    }
    text = "\n".join(
        [
            table(
                ["prompt", "u", "behaviour", "response"],
                [
                    [
                        s["prompt_id"] or short(str(s["prompt"]), 24),
                        "-" if s["gold_utility"] is None else s["gold_utility"],
                        s["behaviour"] or "-",
                        short(str(s["response"]), 80),
                    ]
                    for s in samples
                ],
                f"{args.stage} model, temperature {args.temperature:g}, seed {args.seed}",
            ),
            "",
            f"rated good by the gold utility (u >= {GOOD_UTILITY:g}): {result['good_rate']:.3f}"
            if rated
            else "not rated: the gold rules know the text world's prompts only",
        ]
    )

    def plot(path: str) -> None:
        fig, (ax,) = figure(1)
        names = sorted(counts)
        ax.barh(names, [counts[n] for n in names])
        ax.set_xlabel("samples")
        ax.set_title(f"behaviours of the {args.stage} model")
        fig.savefig(path)

    return result, text, plot


# ---------------------------------------------------------------------------------------
# lm-reward-model


def cmd_lm_reward_model(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """Sample comparisons from the shipped base and SFT models, label them, fit a reward model."""
    from rlhf_mini.models.language_model import load_language_model, write_weights
    from rlhf_mini.trainers.lm_reward_model import (
        LMRewardConfig,
        sample_text_comparisons,
        train_lm_reward_model,
    )

    config = LMRewardConfig.from_options(**given(args, field_names(LMRewardConfig)))
    base, sft = load_language_model("base"), load_language_model("sft")
    bar = progress(2 * config.n_pairs, "sampling responses")
    last = [0]

    def sampled(done: int, total: int) -> None:
        bar.update(done - last[0])
        last[0] = done

    pairs = sample_text_comparisons(base, sft, config, callback=sampled)
    bar.close()
    n_train = len(pairs) - round(config.heldout_fraction * len(pairs))
    steps = config.epochs * -(-n_train // config.batch_size)
    bar = progress(steps, "reward model")
    res = train_lm_reward_model(sft, pairs, config, callback=lambda e, s, loss: bar.update(1))
    bar.close()
    result = res.to_dict()
    if args.out is not None:
        stage = "reward" if config.verbosity_bias == 0 else "reward_verbose"
        write_weights(
            {stage: res.model},
            args.out,
            {stage: {"config": result["config"], "metrics": res.metrics}},
        )
        result["written_to"] = args.out
    text = "\n".join(
        [
            history_table(
                res.history, "epoch", f"Reward model on {len(pairs)} sampled comparisons"
            ),
            "",
            *(f"{k}: {fmt(v)}" for k, v in res.metrics.items()),
        ]
    )

    def plot(path: str) -> None:
        fig, (ax_loss, ax_acc) = figure(2)
        h = res.history
        ax_loss.plot(h["epoch"], h["train_loss"], label="train")
        ax_loss.plot(h["epoch"], h["heldout_loss"], label="held-out")
        ax_acc.plot(h["epoch"], h["heldout_accuracy"], label="held-out vs labels")
        ax_acc.plot(h["epoch"], h["heldout_gold_accuracy"], label="held-out vs gold")
        for ax, name in ((ax_loss, "Bradley-Terry loss"), (ax_acc, "pairwise accuracy")):
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.legend()
        fig.savefig(path)

    return result, text, plot
