"""The command line of the tiny language model, from pretraining to alignment.

    rlhf-mini lm-pretrain        pretrain + SFT the transformer; compare with the shipped weights
    rlhf-mini lm-sample          sample responses of the base or SFT model, rated by the gold rules
    rlhf-mini lm-reward-model    train a reward model on the SFT trunk from simulated comparisons
    rlhf-mini lm-ppo             PPO against a shipped reward model, one run per beta
    rlhf-mini lm-grpo            GRPO against the gold utility (RLVR) or a reward model, one run per beta
    rlhf-mini lm-dpo             DPO on a shipped reward model's own comparisons
    rlhf-mini lm-alignment       the record of runs the lesson shows (write it with --out)
    rlhf-mini lm-export          the model as a transformers GPT-2 checkpoint (bridge extra)

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

__all__ = [
    "cmd_lm_alignment",
    "cmd_lm_dpo",
    "cmd_lm_export",
    "cmd_lm_grpo",
    "cmd_lm_ppo",
    "cmd_lm_pretrain",
    "cmd_lm_reward_model",
    "cmd_lm_sample",
    "register",
]


def register(subparsers: Any) -> None:
    """Add the language-model subcommands to ``subparsers`` (from ``add_subparsers``).

    The trainers' flags are built from their configs (``add_config_options``), so their
    defaults live in one place, the config dataclass.
    """
    from rlhf_mini.trainers.lm_dpo import LMDPOConfig
    from rlhf_mini.trainers.lm_grpo import LMGRPOConfig
    from rlhf_mini.trainers.lm_ppo import LMPPOConfig
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

    p = command("lm-ppo", "PPO on the language model against a reward model, one run per beta.")
    add_config_options(p, ("", LMPPOConfig), many=("beta",))
    p.set_defaults(run=cmd_lm_ppo)

    p = command(
        "lm-grpo",
        "GRPO on the language model against the gold utility or a reward model, one run per beta.",
    )
    add_config_options(p, ("", LMGRPOConfig), many=("beta",))
    p.set_defaults(run=cmd_lm_grpo)

    p = command("lm-dpo", "DPO on the language model, on a reward model's own comparisons.")
    add_config_options(p, ("", LMDPOConfig))
    p.set_defaults(run=cmd_lm_dpo)

    p = command(
        "lm-alignment", "Every run of the alignment lesson: KL weights, reward hacking, DPO."
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument(
        "--out",
        metavar="FILE.json",
        default=None,
        help="write the record here (the shipped one is rlhf_mini/experiments/data/lm_alignment.json)",
    )
    p.set_defaults(run=cmd_lm_alignment)

    p = command("lm-export", "Write the base or SFT model as a transformers GPT-2 checkpoint.")
    p.add_argument("out", metavar="OUT_DIR", help="the checkpoint folder (created)")
    p.add_argument("--stage", choices=("base", "sft"), default="sft")
    p.set_defaults(run=cmd_lm_export)


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


# ---------------------------------------------------------------------------------------
# lm-ppo, lm-dpo, lm-alignment

_CURVES = ("proxy_reward", "gold_utility", "kl", "response_length")


def _samples_table(samples: dict[str, Any], title: str) -> str:
    return table(
        ["prompt", "proxy", "gold", "response"],
        [
            [r["prompt_id"], r["proxy_reward"], r["gold_utility"], short(r["text"], 80)]
            for r in samples["responses"]
        ],
        title,
    )


def _plot_runs(runs: list[tuple[str, dict[str, list[float]]]]) -> Any:
    def plot(path: str) -> None:
        from rlhf_mini.experiments.lm_alignment import smooth

        fig, axes = figure(len(_CURVES))
        for label, history in runs:
            points = smooth(history) if len(history["step"]) > 20 else None
            for ax, key in zip(axes, _CURVES, strict=True):
                if points is None:
                    ax.plot(history["step"], history[key], label=label)
                else:
                    ax.plot([p["step"] for p in points], [p[key] for p in points], label=label)
        for ax, key in zip(axes, _CURVES, strict=True):
            ax.set_xlabel("step")
            ax.set_ylabel(key.replace("_", " "))
            ax.legend()
        fig.savefig(path)

    return plot


def cmd_lm_ppo(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """One PPO run per beta (same seed, same reward model)."""
    from rlhf_mini.experiments.lm_alignment import smooth
    from rlhf_mini.trainers.lm_ppo import LMPPOConfig, train_lm_ppo

    options = given(args, field_names(LMPPOConfig))
    betas = options.pop("beta", [LMPPOConfig.beta])
    config = LMPPOConfig.from_options(**options)
    bar = progress(config.steps * len(betas), "lm-ppo")
    runs = []
    for beta in betas:
        res = train_lm_ppo(config, beta=beta, callback=lambda step, metrics: bar.update(1))
        runs.append((beta, res))
    bar.close()
    rows = []
    for beta, res in runs:
        last = smooth(res.history)[-1]  # the mean of the last 10 iterations
        rows.append([beta, *(last[k] for k in _CURVES)])
    lines = [
        table(
            ["beta", *_CURVES],
            rows,
            f"PPO on the language model against the {config.reward_model} reward model, "
            f"{config.steps} iterations, seed {config.seed} (means of the last 10 iterations)",
        )
    ]
    for beta, res in runs:
        lines += ["", _samples_table(res.samples[-1], f"beta {beta:g}: samples at the end")]
    result = {"runs": [{"beta": beta, **res.to_dict()} for beta, res in runs]}
    return result, "\n".join(lines), _plot_runs([(f"beta={b:g}", r.history) for b, r in runs])


def cmd_lm_grpo(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """One GRPO run per beta (same seed, same reward)."""
    from rlhf_mini.experiments.lm_alignment import smooth
    from rlhf_mini.trainers.lm_grpo import LMGRPOConfig, train_lm_grpo

    options = given(args, field_names(LMGRPOConfig))
    betas = options.pop("beta", [LMGRPOConfig.beta])
    config = LMGRPOConfig.from_options(**options)
    bar = progress(config.steps * len(betas), "lm-grpo")
    runs = []
    for beta in betas:
        res = train_lm_grpo(config, beta=beta, callback=lambda step, metrics: bar.update(1))
        runs.append((beta, res))
    bar.close()
    curves = ("reward", *_CURVES)
    rows = []
    for beta, res in runs:
        last = smooth(res.history)[-1]  # the mean of the last 10 iterations
        first = {k: res.history[k][0] for k in curves}
        rows.append([beta, *(f"{first[k]:.3g} -> {last[k]:.3g}" for k in curves)])
    reward = "the gold utility" if config.reward == "gold" else f"the {config.reward} reward model"
    lines = [
        table(
            ["beta", *curves],
            rows,
            f"GRPO on the language model against {reward}, {config.steps} iterations of "
            f"{config.n_prompts} prompts x {config.group_size} responses, seed {config.seed} "
            "(first iteration -> mean of the last 10)",
        )
    ]
    for beta, res in runs:
        lines += ["", _samples_table(res.samples[-1], f"beta {beta:g}: samples at the end")]
    result = {"runs": [{"beta": beta, **res.to_dict()} for beta, res in runs]}
    return result, "\n".join(lines), _plot_runs([(f"beta={b:g}", r.history) for b, r in runs])


def cmd_lm_dpo(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """DPO on the comparisons the chosen reward model was trained on (re-sampled)."""
    from rlhf_mini.trainers.lm_dpo import LMDPOConfig, reward_model_pairs, train_lm_dpo

    config = LMDPOConfig.from_options(**given(args, field_names(LMDPOConfig)))
    bar = progress(1, "sampling the comparisons")
    last = [0]

    def sampled(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - last[0])
        last[0] = done

    train, heldout = reward_model_pairs(
        config.reward_model, n_pairs=config.n_pairs, callback=sampled
    )
    bar.close()
    bar = progress(config.steps, "lm-dpo")
    done = [0]

    def measured(step: int, values: dict[str, float]) -> None:
        bar.update(step - done[0])
        done[0] = step

    res = train_lm_dpo(train, config, heldout=heldout, callback=measured)
    bar.close()
    text = "\n".join(
        [
            history_table(
                res.history,
                "step",
                f"DPO ({config.loss_type}, beta {config.beta:g}) on the {config.reward_model} "
                f"reward model's comparisons: {len(train)} trained on, {len(heldout)} held out",
            ),
            "",
            _samples_table(res.samples[-1], "samples at the end"),
        ]
    )
    return res.to_dict(), text, _plot_runs([("DPO", res.history)])


def cmd_lm_alignment(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """Compute the record the lesson shows; compare it with the shipped one."""
    import json
    from pathlib import Path

    from rlhf_mini.experiments.lm_alignment import (
        alignment_record,
        load_alignment_record,
        matching_iterations,
        smooth,
    )

    bar = progress(6, "lm-alignment")
    record = alignment_record(seed=args.seed, callback=lambda name: bar.update(1))
    bar.close()
    try:
        shipped = load_alignment_record()
    except FileNotFoundError:
        shipped = None
    same = shipped == record
    agree = matching_iterations(record, shipped) if shipped is not None else 0
    if args.out is not None:
        Path(args.out).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    peak = record["hacking"]["peak"]
    rows = []
    runs = []
    for name, by_beta in record["ppo"].items():
        for beta, run in by_beta.items():
            last = smooth(run["history"])[-1]
            rows.append([f"PPO {name}, beta {beta}", *(last[k] for k in _CURVES)])
            runs.append((f"PPO {name} beta={beta}", run["history"]))
    for name, run in record["dpo"].items():
        rows.append([f"DPO {name}", *(run["final"][k] for k in _CURVES)])
    text = "\n".join(
        [
            table(["run", *_CURVES], rows, "End of each run (PPO: mean of the last 10 iterations)"),
            "",
            f"reward hacking: gold peaked at {peak['peak']['gold_utility']:.2f} around "
            f"iteration {peak['peak']['step']}, ended at {peak['end']['gold_utility']:.2f}; "
            f"overoptimised: {peak['overoptimised']}",
            f"same as the shipped record: {same}"
            + (
                ""
                if same or shipped is None
                else f" (its PPO runs agree for their first {agree} iterations; float32 runs "
                "are chaotic, and a different rounding changes the samples after a while)"
            ),
            *([f"written to {args.out}"] if args.out else []),
        ]
    )
    return (
        {"same_as_shipped": same, "iterations_agreeing": agree, **record},
        text,
        _plot_runs(runs),
    )


def cmd_lm_export(args: argparse.Namespace) -> tuple[Any, str, Any]:
    """The shipped model as a ``transformers`` GPT-2 checkpoint with its tokenizer."""
    from rlhf_mini.bridge.hf_export import export_gpt2
    from rlhf_mini.models.language_model import load_language_model

    try:
        folder = export_gpt2(load_language_model(args.stage), args.out)
    except ImportError as err:
        raise ImportError(
            f"lm-export needs transformers: pip install 'rlhf-mini[bridge]' ({err})"
        ) from err
    files = sorted(p.name for p in folder.iterdir())
    text = (
        f"wrote the {args.stage} model as a transformers GPT-2 checkpoint to {folder}: "
        f"{', '.join(files)}\ntrain it with TRL: rlhf-mini export-trl OUT_DIR --model-dir {folder}"
    )

    def plot(path: str) -> None:
        raise UsageError("lm-export draws no figure (--plot)")

    return {"stage": args.stage, "folder": str(folder), "files": files}, text, plot
