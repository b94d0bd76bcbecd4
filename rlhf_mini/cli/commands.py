"""The subcommands: each parses its flags, calls the library and formats the result.

No algorithm lives here. Each ``_cmd_x(args)`` returns (JSON-ready result, table text, plot
function); :func:`register` adds every subcommand's parser.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from rlhf_mini.cli.options import (
    add_config_options,
    add_signature_options,
    field_names,
    given,
    number,
    positive,
    positive_int,
    seed,
)
from rlhf_mini.cli.options import (
    non_negative as positive_or_zero,
)
from rlhf_mini.cli.output import figure, fmt, history_table, progress, short, table
from rlhf_mini.experiments.overoptimization import overoptimization_curve
from rlhf_mini.experiments.pipeline import run_pipeline


class UsageError(Exception):
    """A bad option value found after parsing; reported like an argparse error."""


Plot = Callable[[str], None]

#: run_pipeline's keywords the pipeline command sets (flag -> keyword, parser, help)
_PIPELINE_FLAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "--n": ("n_comparisons", positive_int, "simulated comparisons"),
    "--beta": ("beta", positive, "PPO's KL coefficient"),
    "--steps": ("ppo_steps", positive_int, "PPO steps"),
    "--seed": ("seed", seed, "random seed"),
}
_PIPELINE_KEYWORDS = ("n_comparisons", "beta", "ppo_steps", "seed", "backend", "device", "dtype")
_OVEROPTIMIZATION_FLAGS: dict[str, tuple[str, Callable[[str], Any], str]] = {
    "--sweep": ("sweep", str, "beta: one optimum per beta; steps: one PPO run"),
    "--method": ("method", str, "exact: the closed-form optimum; ppo: a PPO run per beta"),
    "--n": ("n_comparisons", positive_int, "the proxy's comparisons"),
    "--verbosity-bias": ("verbosity_bias", number, "the labellers' taste for length"),
    "--steps": ("steps", positive_int, "PPO steps"),
    "--seed": ("seed", seed, "random seed"),
}
_OVEROPTIMIZATION_KEYWORDS = (
    "betas",
    "sweep",
    "method",
    "n_comparisons",
    "verbosity_bias",
    "steps",
    "seed",
    "backend",
    "device",
    "dtype",
)


def _cmd_preferences(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini import fit_bradley_terry, load_world, pair_accuracy, simulate_comparisons

    world = load_world()
    c = simulate_comparisons(
        args.n, args.seed, temperature=args.temperature, verbosity_bias=args.verbosity_bias
    )
    P, K = world.n_prompts, world.n_candidates
    rows = np.stack([c.prompt * K + c.chosen, c.prompt * K + c.rejected], axis=1)  # items
    scores = fit_bradley_terry(rows, P * K, l2=args.l2).reshape(P, K)
    gold = world.gold_utility()
    table_rows, per_prompt = [], []
    for x, p in enumerate(world.prompts):
        bt_best, gold_best = int(scores[x].argmax()), int(gold[x].argmax())
        n_x = int(np.sum(c.prompt == x))
        per_prompt.append(
            {
                "prompt_id": p.id,
                "n_comparisons": n_x,
                "bt_scores": scores[x].tolist(),
                "gold_utility": gold[x].tolist(),
                "bt_favourite": p.responses[bt_best].behaviour,
                "gold_favourite": p.responses[gold_best].behaviour,
            }
        )
        table_rows.append(
            [
                p.id,
                n_x,
                p.responses[bt_best].behaviour,
                p.responses[gold_best].behaviour,
                bt_best == gold_best,
            ]
        )
    result = {
        "config": {
            "n": args.n,
            "seed": args.seed,
            "temperature": args.temperature,
            "verbosity_bias": args.verbosity_bias,
            "l2": args.l2,
        },
        "label_gold_agreement": c.agreement(gold),
        "bt_gold_pair_accuracy": pair_accuracy(scores, gold),
        "prompts": per_prompt,
    }
    text = "\n".join(
        [
            table(
                ["prompt", "comparisons", "Bradley-Terry favourite", "gold favourite", "same"],
                table_rows,
                f"Bradley-Terry fit of {args.n} simulated comparisons (seed {args.seed})",
            ),
            "",
            f"labels agreeing with the gold utility: {result['label_gold_agreement']:.3f}",
            f"pairs the fitted scores order like gold: {result['bt_gold_pair_accuracy']:.3f}",
        ]
    )

    def plot(path: str) -> None:
        fig, (ax,) = figure(1)
        ax.scatter(gold.ravel(), scores.ravel(), s=14)
        ax.set_xlabel("gold utility")
        ax.set_ylabel("Bradley-Terry score")
        ax.set_title(f"{args.n} comparisons, temperature {args.temperature}")
        fig.savefig(path)

    return result, text, plot


def _cmd_reward_model(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini import RewardModelConfig, simulate_comparisons, train_reward_model

    options = given(args, field_names(RewardModelConfig))
    c = simulate_comparisons(
        args.n,
        options.get("seed", RewardModelConfig.seed),
        temperature=args.temperature,
        verbosity_bias=args.verbosity_bias,
    )
    res = train_reward_model(c, **options)
    h = res.history
    keys = [k for k in h if k != "step"]  # the curves plotted below
    text = "\n".join(
        [
            history_table(h, "step", f"Reward model on {args.n} comparisons"),
            "",
            table(["feature", "weight"], list(res.model.to_dict().items()), "Learned weights")
            if res.config["hidden"] is None
            else f"MLP reward model: {res.config['hidden']} tanh units over {len(res.model.features)} "
            "features (parameters in --json)",
            "",
            *(f"{k}: {fmt(v)}" for k, v in res.metrics.items()),
        ]
    )

    def plot(path: str) -> None:
        fig, (ax_loss, ax_acc) = figure(2)
        for k in keys:
            ax = ax_loss if k.endswith("loss") else ax_acc
            ax.plot(h["step"], h[k], label=k)
        for ax, name in ((ax_loss, "Bradley-Terry loss"), (ax_acc, "pairwise accuracy")):
            ax.set_xlabel("step")
            ax.set_ylabel(name)
            ax.legend()
        fig.savefig(path)

    return res.to_dict(), text, plot


def _cmd_ppo(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini import PPOConfig, TokenPPOConfig, train_ppo, train_token_ppo

    runs = []
    betas = getattr(args, "beta", [PPOConfig.beta if not args.token_level else TokenPPOConfig.beta])
    mine, other = (TokenPPOConfig, PPOConfig) if args.token_level else (PPOConfig, TokenPPOConfig)
    typed = [n for n in field_names(other) if n not in field_names(mine) and hasattr(args, n)]
    if typed:
        level = "response-level PPO" if args.token_level else "--token-level"
        raise UsageError(f"--{typed[0].replace('_', '-')} is a setting of {level} only")
    if args.token_level:
        options = given(args, field_names(TokenPPOConfig))
        options.pop("beta", None)
        steps = options.get("steps", TokenPPOConfig.steps)
        bar = progress(steps * len(betas), "token-level PPO")
        for beta in betas:
            res = train_token_ppo(
                beta=beta, callback=lambda step, metrics: bar.update(1), **options
            )
            runs.append({"beta": beta, **res.to_dict()})
        bar.close()
        columns = ["beta", "score", "kl", "entropy", "clip_fraction"]
        title = f"Token-level PPO, {steps} updates, seed {res.config['seed']}"
        x_key, curves = "step", ("score", "kl", "entropy")
    else:
        options = given(args, field_names(PPOConfig))
        options.pop("beta", None)
        bar = progress(len(betas), "PPO")
        for beta in betas:
            run = train_ppo(beta=beta, **options)
            runs.append({"beta": beta, **run.to_dict()})
            bar.update(1)
        bar.close()
        columns = ["beta", "proxy_reward", "gold_reward", "kl", "entropy"]
        title = (
            f"PPO with a KL penalty (response level), {run.config['steps']} steps, "
            f"seed {run.config['seed']}"
        )
        x_key, curves = "step", ("proxy_reward", "gold_reward", "kl")
    rows = [[run["beta"], *(run["final"][k] for k in columns[1:])] for run in runs]
    text = table(columns, rows, title)

    def plot(path: str) -> None:
        fig, axes = figure(len(curves))
        for run in runs:
            h = run["history"]
            x = h[x_key]
            for ax, key in zip(axes, curves, strict=True):
                ax.plot(x, h[key], label=f"beta={run['beta']:g}")
        for ax, key in zip(axes, curves, strict=True):
            ax.set_xlabel("step")
            ax.set_ylabel(key)
            ax.legend()
        fig.savefig(path)

    return {"level": "token" if args.token_level else "response", "runs": runs}, text, plot


def _cmd_group(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    """``grpo`` and ``rloo``: one run per --beta against the default reward model."""
    from rlhf_mini import GRPOConfig, RLOOConfig, train_grpo, train_rloo

    grpo = args.command == "grpo"
    cls: type[GRPOConfig | RLOOConfig] = GRPOConfig if grpo else RLOOConfig
    train: Callable[..., Any] = train_grpo if grpo else train_rloo
    name = args.command.upper()
    options = given(args, field_names(cls))
    betas = options.pop("beta", [cls().beta])
    runs = []
    bar = progress(len(betas), name)
    for beta in betas:
        res = train(beta=beta, **options)
        runs.append({"beta": beta, **res.to_dict()})
        bar.update(1)
    bar.close()
    columns = ["beta", "proxy_reward", "gold_reward", "kl", "entropy", "frac_reward_zero_std"]
    rows = [[run["beta"], *(run["final"][k] for k in columns[1:])] for run in runs]
    cfg = res.config
    text = table(
        columns,
        rows,
        f"{name} ({cfg['group_size']} samples per prompt), {cfg['steps']} steps, "
        f"seed {cfg['seed']}",
    )

    def plot(path: str) -> None:
        fig, axes = figure(3)
        for run in runs:
            h = run["history"]
            for ax, key in zip(axes, ("proxy_reward", "gold_reward", "kl"), strict=True):
                ax.plot(h["step"], h[key], label=f"beta={run['beta']:g}")
        for ax, key in zip(axes, ("proxy_reward", "gold_reward", "kl"), strict=True):
            ax.set_xlabel("step")
            ax.set_ylabel(key)
            ax.legend()
        fig.savefig(path)

    return {"method": args.command, "runs": runs}, text, plot


def _cmd_dpo(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini import DPOConfig, simulate_comparisons, train_dpo

    options = given(args, field_names(DPOConfig))
    seed = options.get("seed", DPOConfig.seed)
    c = simulate_comparisons(args.n, seed, temperature=args.temperature)
    heldout = None
    if args.heldout_fraction > 0:
        c, heldout = c.split(args.heldout_fraction, seed=seed)
    res = train_dpo(c, heldout=heldout, **options)
    h, cfg = res.history, res.config
    text = history_table(
        h,
        "step",
        f"DPO ({cfg['loss_type']}, beta {cfg['beta']:g}) on {len(c)} comparisons"
        + ("" if heldout is None else f" ({len(heldout)} more held out)")
        + f", seed {seed}",
    )

    def plot(path: str) -> None:
        fig, axes = figure(3)
        for ax, key in zip(axes, ("loss", "accuracy", "kl"), strict=True):
            ax.plot(h["step"], h[key], label="train" if key != "kl" else None)
            if f"heldout_{key}" in h:
                ax.plot(h["step"], h[f"heldout_{key}"], "--", label="held-out")
                ax.legend()
            ax.set_xlabel("step")
            ax.set_ylabel(key)
        fig.savefig(path)

    n_heldout = 0 if heldout is None else len(heldout)
    return {**res.to_dict(), "n_comparisons": len(c), "n_heldout": n_heldout}, text, plot


def _cmd_pipeline(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    res = run_pipeline(**given(args, _PIPELINE_KEYWORDS))
    blocks = []
    for stage in res.stages:
        metrics = table(["metric", "value"], list(stage.metrics.items()), stage.title)
        samples = table(
            ["prompt", "behaviour", "p", "response"],
            [
                [short(s["prompt"], 32), s["behaviour"], s["probability"], short(s["response"])]
                for s in stage.samples
            ],
        )
        blocks.append(f"{metrics}\n  {stage.summary}\n{samples}")
    text = "\n\n".join(blocks)

    def plot(path: str) -> None:
        fig, (ax,) = figure(1)
        names = [s.name for s in res.stages if "gold_reward" in s.metrics]
        ax.bar(names, [res.stage(n).metrics["gold_reward"] for n in names])
        ax.set_ylabel("gold reward")
        ax.set_title("gold reward by stage")
        fig.savefig(path)

    return res.to_dict(), text, plot


def _cmd_overoptimization(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    res = overoptimization_curve(**given(args, _OVEROPTIMIZATION_KEYWORDS))
    x_key = "step" if res.config["sweep"] == "steps" else "beta"
    peak = res.peak()
    rows = [[p[x_key], p["kl"], p["proxy_reward"], p["gold_reward"], p is peak] for p in res.points]
    text = "\n".join(
        [
            table(
                [x_key, "kl", "proxy_reward", "gold_reward", "gold peak"],
                rows,
                "Overoptimisation: a proxy reward model from verbosity-loving labellers",
            ),
            "",
            f"gold reward of the reference: {res.reference_gold:.4f}; "
            f"best possible: {res.best_gold:.4f}",
        ]
    )

    def plot(path: str) -> None:
        fig, (ax,) = figure(1)
        kl = [p["kl"] for p in res.points]
        ax.plot(kl, [p["proxy_reward"] for p in res.points], "o-", label="proxy reward")
        ax.plot(kl, [p["gold_reward"] for p in res.points], "o-", label="gold reward")
        ax.set_xlabel("KL(pi || pi_ref)")
        ax.set_ylabel("reward")
        ax.legend()
        fig.savefig(path)

    return res.to_dict(), text, plot


def _cmd_playground(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini import revise, score_response

    if args.text is None or args.text == "-":
        if sys.stdin is None or (args.text is None and sys.stdin.isatty()):
            raise UsageError("give TEXT as an argument or pipe it on stdin")
        text = sys.stdin.read()
    else:
        text = args.text
    score = score_response(text, args.prompt)
    revised = revise(text, prompt=args.prompt)
    after = score_response(revised, args.prompt)
    result = {
        **score.to_dict(),
        "prompt": args.prompt,
        "revised": revised,
        "revised_score": after.to_dict(),
    }
    lines = [
        table(
            ["", "reward", "alignment", "gap", "hacking"],
            [
                ["text", score.reward, score.alignment, score.gap, score.hacking],
                ["revised", after.reward, after.alignment, after.gap, after.hacking],
            ],
            "Proxy reward against the constitution",
        ),
        "",
        table(["component", "score"], list(score.components.items())),
    ]
    if score.critiques:
        lines += ["", "Critique:", *(f"  {c.principle}: {c.reason}" for c in score.critiques)]
    lines += ["", "Revised:", f"  {short(revised, 400)}"]

    def plot(path: str) -> None:
        fig, (ax,) = figure(1)
        names = list(score.components)
        ax.barh(names, [score.components[n] for n in names])
        ax.set_xlim(0, 1)
        ax.set_title(f"reward {score.reward:.2f}, alignment {score.alignment:.2f}")
        fig.savefig(path)

    return result, "\n".join(lines), plot


# ---------------------------------------------------------------------------------------
# the parsers


def register(sub: Any) -> None:
    """Add every subcommand to ``sub`` (the parser's subparsers)."""
    from rlhf_mini import (
        DPOConfig,
        GRPOConfig,
        PPOConfig,
        RewardModelConfig,
        RLOOConfig,
        TokenPPOConfig,
    )

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print the results as JSON only")
        p.add_argument("--plot", metavar="FILE.png", help="save a figure (needs matplotlib)")
        return p

    def labels(p: argparse.ArgumentParser, n: int, bias: bool = True) -> None:
        p.add_argument("--n", type=positive_int, default=n, help=f"comparisons (default {n})")
        p.add_argument("--temperature", type=positive, default=1.0, help="label noise (default 1)")
        if bias:
            p.add_argument(
                "--verbosity-bias",
                type=number,
                default=0.0,
                help="labellers' taste for length (default 0)",
            )

    def backend(p: argparse.ArgumentParser) -> None:
        from rlhf_mini.core.config import TrainerConfig

        add_config_options(p, ("", TrainerConfig), skip=("seed",))

    p = command("preferences", "Simulated labellers and a Bradley-Terry fit of their choices.")
    labels(p, 500)
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--l2", type=positive, default=0.01, help="Gaussian prior on the scores")
    p.set_defaults(run=_cmd_preferences)

    p = command("reward-model", "Train a reward model on simulated comparisons.")
    labels(p, 500)
    add_config_options(p, ("", RewardModelConfig))
    p.set_defaults(run=_cmd_reward_model)

    p = command("ppo", "PPO with a KL penalty against the reward model, one run per beta.")
    p.add_argument(
        "--token-level",
        action="store_true",
        help="train the bigram language model with token-level PPO (train_token_ppo) instead",
    )
    add_config_options(p, ("", PPOConfig), ("token level", TokenPPOConfig), many=("beta",))
    p.set_defaults(run=_cmd_ppo)

    p = command(
        "grpo",
        "GRPO: group-relative advantages, k3 KL penalty in the loss, one run per beta.",
    )
    add_config_options(p, ("", GRPOConfig), many=("beta",))
    p.set_defaults(run=_cmd_group)

    p = command(
        "rloo",
        "RLOO: leave-one-out baseline, k1 KL penalty in the reward, one run per beta.",
    )
    add_config_options(p, ("", RLOOConfig), many=("beta",))
    p.set_defaults(run=_cmd_group)

    p = command(
        "dpo",
        "Direct Preference Optimization (or IPO, KTO, SimPO, ORPO: --loss-type) on simulated "
        "comparisons.",
    )
    labels(p, 500, bias=False)
    p.add_argument(
        "--heldout-fraction",
        type=positive_or_zero,
        default=0.0,
        help="share of the comparisons kept out of training and measured (default 0)",
    )
    add_config_options(p, ("", DPOConfig))
    p.set_defaults(run=_cmd_dpo)

    _register_experiments(command, backend)


def _register_experiments(command: Callable[..., Any], backend: Callable[..., None]) -> None:
    """The experiments' subcommands: their flags are keywords of the library's functions."""
    p = command("pipeline", "The six stages: base, SFT, preferences, reward model, PPO, aligned.")
    add_signature_options(p, run_pipeline, _PIPELINE_FLAGS)
    backend(p)
    p.set_defaults(run=_cmd_pipeline)

    p = command("overoptimization", "Proxy vs gold reward as optimisation pressure grows.")
    p.add_argument(
        "--beta",
        dest="betas",
        type=positive,
        nargs="+",
        default=argparse.SUPPRESS,
        help="betas to sweep (default: 12 from 2 down to 0.005)",
    )
    add_signature_options(p, overoptimization_curve, _OVEROPTIMIZATION_FLAGS)
    backend(p)
    p.set_defaults(run=_cmd_overoptimization)

    p = command("playground", "Score text: proxy reward, constitution, revision.")
    p.add_argument("text", nargs="?", help="the text (default: read stdin)")
    p.add_argument(
        "--prompt", default=None, help="the request the text answers (judged with it if given)"
    )
    p.set_defaults(run=_cmd_playground)
