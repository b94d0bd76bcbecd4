"""The command line: ``python -m rlhf_mini SUBCOMMAND`` (installed as ``rlhf-mini``).

Subcommands run the library's experiments and print a readable table; ``--json`` prints
the results as JSON on stdout and nothing else; ``--plot FILE.png`` saves a figure
(needs matplotlib: ``pip install 'rlhf-mini[plot]'``). Long runs show a progress bar on
stderr when tqdm is installed and stderr is a terminal. Bad options print one error line
and exit with status 2.

    rlhf-mini preferences       simulated labellers + a Bradley–Terry fit
    rlhf-mini reward-model      train the linear reward model on comparisons
    rlhf-mini ppo               PPO with a KL penalty, one run per --beta (--token-level too)
    rlhf-mini dpo               DPO on the same comparisons and reference
    rlhf-mini pipeline          the six stages, base model to aligned assistant
    rlhf-mini overoptimization  proxy vs gold reward as the optimisation pressure grows
    rlhf-mini playground TEXT   score text: proxy reward, constitution, revision
    rlhf-mini lm-pretrain       pretrain + fine-tune the tiny transformer (rlhf_mini.cli_lm)
    rlhf-mini lm-sample         sample the shipped base or SFT language model
    rlhf-mini lm-reward-model   a reward model on text, from sampled comparisons

This module only parses, calls the library and formats; no algorithm lives here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

PROG = "rlhf-mini"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage block) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


class _UsageError(Exception):
    """A bad option value found after parsing; reported like an argparse error."""


# ---------------------------------------------------------------------------------------
# argument types


def _integer_at_least(text: str, low: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _integer_at_least(text, 1, "a positive integer")


def _seed(text: str) -> int:
    return _integer_at_least(text, 0, "an integer >= 0")


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _positive(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def _non_negative(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


# ---------------------------------------------------------------------------------------
# output helpers


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return f"{v:.4f}"
        return f"{v:.3e}"
    return str(value)


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> str:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.ljust(w) if i == 0 else v.rjust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [title] if title else []
    out += [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(out)


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _every(history: dict[str, list[float]], n_rows: int = 10) -> list[int]:
    """Indices of about ``n_rows`` evenly spaced history entries, always the first and last."""
    n = len(next(iter(history.values())))
    return sorted({round(i) for i in np.linspace(0, n - 1, min(n, n_rows))})


def _history_table(history: dict[str, list[float]], index: str, title: str) -> str:
    """About ten evenly spaced rows of a training history, the ``index`` column first."""
    keys = [k for k in history if k != index]
    rows = [[history[index][i], *(history[k][i] for k in keys)] for i in _every(history)]
    return _table([index, *keys], rows, title)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (tuple, set)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, desc: str) -> Any:
    """A tqdm bar on stderr (shown only on a terminal), or a silent stand-in without tqdm."""
    try:
        from tqdm import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, desc=desc, file=sys.stderr, disable=None, leave=False)


def _figure(n_axes: int) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0 * n_axes, 3.8), layout="constrained")
    axes = fig.subplots(1, n_axes, squeeze=False)[0]
    return fig, axes


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError("--plot needs matplotlib: pip install 'rlhf-mini[plot]'") from None


# ---------------------------------------------------------------------------------------
# subcommands: each returns (json-ready result, table text, plot function or None)

Plot = Callable[[str], None]


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
            _table(
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
        fig, (ax,) = _figure(1)
        ax.scatter(gold.ravel(), scores.ravel(), s=14)
        ax.set_xlabel("gold utility")
        ax.set_ylabel("Bradley-Terry score")
        ax.set_title(f"{args.n} comparisons, temperature {args.temperature}")
        fig.savefig(path)

    return result, text, plot


def _cmd_reward_model(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini import simulate_comparisons, train_reward_model

    c = simulate_comparisons(
        args.n, args.seed, temperature=args.temperature, verbosity_bias=args.verbosity_bias
    )
    res = train_reward_model(
        c,
        epochs=args.steps,
        lr=args.lr,
        l2=args.l2,
        hidden=args.hidden,
        heldout_fraction=args.heldout_fraction,
        seed=args.seed,
        backend=args.backend,
        device=args.device,
        dtype=args.dtype,
    )
    h = res.history
    keys = [k for k in h if k != "epoch"]  # the curves plotted below
    text = "\n".join(
        [
            _history_table(h, "epoch", f"Reward model on {args.n} comparisons"),
            "",
            _table(["feature", "weight"], list(res.model.to_dict().items()), "Learned weights")
            if args.hidden is None
            else f"MLP reward model: {args.hidden} tanh units over {len(res.model.features)} "
            "features (parameters in --json)",
            "",
            *(f"{k}: {_fmt(v)}" for k, v in res.metrics.items()),
        ]
    )

    def plot(path: str) -> None:
        fig, (ax_loss, ax_acc) = _figure(2)
        for k in keys:
            ax = ax_loss if k.endswith("loss") else ax_acc
            ax.plot(h["epoch"], h[k], label=k)
        for ax, name in ((ax_loss, "Bradley-Terry loss"), (ax_acc, "pairwise accuracy")):
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.legend()
        fig.savefig(path)

    return res.to_dict(), text, plot


def _cmd_ppo(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    runs = []
    if args.token_level:
        from rlhf_mini import train_token_ppo

        steps = args.steps or 200
        bar = _progress(steps * len(args.beta), "token-level PPO")
        for beta in args.beta:
            res = train_token_ppo(
                steps,
                beta=beta,
                lr=args.lr if args.lr is not None else 2.0,
                clip_eps=args.clip_eps,
                seed=args.seed,
                backend=args.backend,
                device=args.device,
                dtype=args.dtype,
                callback=lambda step, metrics: bar.update(1),
            )
            runs.append({"beta": beta, **res.to_dict()})
        bar.close()
        columns = ["beta", "score", "kl", "entropy", "clip_fraction"]
        title = f"Token-level PPO, {steps} updates, seed {args.seed}"
        x_key, curves = None, ("score", "kl")
    else:
        from rlhf_mini import train_ppo

        steps = args.steps or 500
        bar = _progress(len(args.beta), "PPO")
        for beta in args.beta:
            res = train_ppo(
                beta=beta,
                steps=steps,
                lr=args.lr if args.lr is not None else 1.0,
                clip_eps=args.clip_eps,
                samples_per_prompt=args.samples_per_prompt,
                ppo_epochs=args.ppo_epochs,
                kl_target=args.kl_target,
                seed=args.seed,
                backend=args.backend,
                device=args.device,
                dtype=args.dtype,
            )
            runs.append({"beta": beta, **res.to_dict()})
            bar.update(1)
        bar.close()
        columns = ["beta", "proxy_reward", "gold_reward", "kl", "entropy"]
        title = f"PPO with a KL penalty (response level), {steps} steps, seed {args.seed}"
        x_key, curves = "step", ("proxy_reward", "gold_reward", "kl")
    rows = [[run["beta"], *(run["final"][k] for k in columns[1:])] for run in runs]
    text = _table(columns, rows, title)

    def plot(path: str) -> None:
        fig, axes = _figure(len(curves))
        for run in runs:
            h = run["history"]
            x = h[x_key] if x_key else list(range(len(h[curves[0]])))
            for ax, key in zip(axes, curves, strict=True):
                ax.plot(x, h[key], label=f"beta={run['beta']:g}")
        for ax, key in zip(axes, curves, strict=True):
            ax.set_xlabel("step")
            ax.set_ylabel(key)
            ax.legend()
        fig.savefig(path)

    return {"level": "token" if args.token_level else "response", "runs": runs}, text, plot


def _cmd_dpo(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini import simulate_comparisons, train_dpo

    c = simulate_comparisons(args.n, args.seed, temperature=args.temperature)
    heldout = None
    if args.heldout_fraction > 0:
        c, heldout = c.split(args.heldout_fraction, seed=args.seed)
    res = train_dpo(
        c,
        heldout=heldout,
        beta=args.beta,
        steps=args.steps,
        lr=args.lr,
        loss_type=args.loss_type,
        label_smoothing=args.label_smoothing,
        seed=args.seed,
        backend=args.backend,
        device=args.device,
        dtype=args.dtype,
    )
    h = res.history
    text = _history_table(
        h,
        "step",
        f"DPO ({args.loss_type}, beta {args.beta:g}) on {len(c)} comparisons"
        + ("" if heldout is None else f" ({len(heldout)} more held out)")
        + f", seed {args.seed}",
    )

    def plot(path: str) -> None:
        fig, axes = _figure(3)
        for ax, key in zip(axes, ("loss", "accuracy", "kl"), strict=True):
            ax.plot(h["step"], h[key], label="train" if key != "kl" else None)
            if f"heldout_{key}" in h:
                ax.plot(h["step"], h[f"heldout_{key}"], "--", label="held-out")
                ax.legend()
            ax.set_xlabel("step")
            ax.set_ylabel(key)
        fig.savefig(path)

    return res.to_dict(), text, plot


def _cmd_pipeline(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini.pipeline import run_pipeline

    res = run_pipeline(
        seed=args.seed,
        n_comparisons=args.n,
        beta=args.beta,
        ppo_steps=args.steps,
        backend=args.backend,
        device=args.device,
        dtype=args.dtype,
    )
    blocks = []
    for stage in res.stages:
        metrics = _table(["metric", "value"], list(stage.metrics.items()), stage.title)
        samples = _table(
            ["prompt", "behaviour", "p", "response"],
            [
                [_short(s["prompt"], 32), s["behaviour"], s["probability"], _short(s["response"])]
                for s in stage.samples
            ],
        )
        blocks.append(f"{metrics}\n  {stage.summary}\n{samples}")
    text = "\n\n".join(blocks)

    def plot(path: str) -> None:
        fig, (ax,) = _figure(1)
        names = [s.name for s in res.stages if "gold_reward" in s.metrics]
        ax.bar(names, [res.stage(n).metrics["gold_reward"] for n in names])
        ax.set_ylabel("gold reward")
        ax.set_title("gold reward by stage")
        fig.savefig(path)

    return res.to_dict(), text, plot


def _cmd_overoptimization(args: argparse.Namespace) -> tuple[Any, str, Plot]:
    from rlhf_mini.overoptimization import overoptimization_curve

    res = overoptimization_curve(
        args.beta,
        sweep=args.sweep,
        method=args.method,
        n_comparisons=args.n,
        verbosity_bias=args.verbosity_bias,
        steps=args.steps,
        seed=args.seed,
        backend=args.backend,
        device=args.device,
        dtype=args.dtype,
    )
    x_key = "step" if args.sweep == "steps" else "beta"
    peak = res.peak()
    rows = [[p[x_key], p["kl"], p["proxy_reward"], p["gold_reward"], p is peak] for p in res.points]
    text = "\n".join(
        [
            _table(
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
        fig, (ax,) = _figure(1)
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
            raise _UsageError("give TEXT as an argument or pipe it on stdin")
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
        _table(
            ["", "reward", "alignment", "gap", "hacking"],
            [
                ["text", score.reward, score.alignment, score.gap, score.hacking],
                ["revised", after.reward, after.alignment, after.gap, after.hacking],
            ],
            "Proxy reward against the constitution",
        ),
        "",
        _table(["component", "score"], list(score.components.items())),
    ]
    if score.critiques:
        lines += ["", "Critique:", *(f"  {c.principle}: {c.reason}" for c in score.critiques)]
    lines += ["", "Revised:", f"  {_short(revised, 400)}"]

    def plot(path: str) -> None:
        fig, (ax,) = _figure(1)
        names = list(score.components)
        ax.barh(names, [score.components[n] for n in names])
        ax.set_xlim(0, 1)
        ax.set_title(f"reward {score.reward:.2f}, alignment {score.alignment:.2f}")
        fig.savefig(path)

    return result, "\n".join(lines), plot


# ---------------------------------------------------------------------------------------
# the parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="RLHF and alignment experiments from rlhf_mini.",
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str, *, seed: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--json", action="store_true", help="print the results as JSON only")
        p.add_argument("--plot", metavar="FILE.png", help="save a figure (needs matplotlib)")
        if seed:
            p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
        return p

    def backend(p: argparse.ArgumentParser) -> None:
        p.add_argument("--backend", choices=("numpy", "torch"), default="numpy")
        p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda")
        p.add_argument(
            "--dtype", choices=("float64", "float32"), default="float64", help="float precision"
        )

    def labels(p: argparse.ArgumentParser, n: int, bias: bool = True) -> None:
        p.add_argument("--n", type=_positive_int, default=n, help=f"comparisons (default {n})")
        p.add_argument("--temperature", type=_positive, default=1.0, help="label noise")
        if bias:
            p.add_argument(
                "--verbosity-bias", type=_finite, default=0.0, help="labellers' taste for length"
            )

    p = command("preferences", "Simulated labellers and a Bradley-Terry fit of their choices.")
    labels(p, 500)
    p.add_argument("--l2", type=_positive, default=0.01, help="Gaussian prior on the scores")
    p.set_defaults(run=_cmd_preferences)

    p = command("reward-model", "Train the linear reward model on simulated comparisons.")
    labels(p, 500)
    p.add_argument("--steps", type=_positive_int, default=200, help="epochs (default 200)")
    p.add_argument("--lr", type=_positive, default=2.0)
    p.add_argument("--l2", type=_non_negative, default=1e-3)
    p.add_argument("--heldout-fraction", type=_non_negative, default=0.2)
    p.add_argument(
        "--hidden", type=_positive_int, default=None, help="train an MLP with this many units"
    )
    backend(p)
    p.set_defaults(run=_cmd_reward_model)

    p = command("ppo", "PPO with a KL penalty against the reward model, one run per beta.")
    p.add_argument(
        "--beta", type=_positive, nargs="+", default=[0.1], help="KL coefficient(s) (default 0.1)"
    )
    p.add_argument(
        "--steps", type=_positive_int, default=None, help="default 500 (token level: 200)"
    )
    p.add_argument("--lr", type=_positive, default=None, help="default 1.0 (token level: 2.0)")
    p.add_argument("--clip-eps", type=_positive, default=0.2)
    p.add_argument("--samples-per-prompt", type=_positive_int, default=8)
    p.add_argument("--ppo-epochs", type=_positive_int, default=2)
    p.add_argument("--kl-target", type=_positive, default=None, help="adapt beta toward this KL")
    p.add_argument(
        "--token-level",
        action="store_true",
        help="train the tiny autoregressive policy (token_ppo) instead",
    )
    backend(p)
    p.set_defaults(run=_cmd_ppo)

    p = command("dpo", "Direct Preference Optimization on simulated comparisons.")
    labels(p, 500, bias=False)
    p.add_argument("--beta", type=_positive, default=0.5)
    p.add_argument("--steps", type=_positive_int, default=300)
    p.add_argument("--lr", type=_positive, default=0.1)
    p.add_argument("--loss-type", choices=("sigmoid", "ipo", "hinge", "robust"), default="sigmoid")
    p.add_argument("--label-smoothing", type=_non_negative, default=0.0)
    p.add_argument(
        "--heldout-fraction",
        type=_non_negative,
        default=0.0,
        help="share of the comparisons kept out of training and measured (default 0)",
    )
    backend(p)
    p.set_defaults(run=_cmd_dpo)

    p = command("pipeline", "The six stages: base, SFT, preferences, reward model, PPO, aligned.")
    p.add_argument("--n", type=_positive_int, default=300, help="comparisons (default 300)")
    p.add_argument("--beta", type=_positive, default=0.3)
    p.add_argument("--steps", type=_positive_int, default=300, help="PPO steps (default 300)")
    backend(p)
    p.set_defaults(run=_cmd_pipeline)

    p = command("overoptimization", "Proxy vs gold reward as optimisation pressure grows.")
    p.add_argument("--beta", type=_positive, nargs="+", default=None, help="betas to sweep")
    p.add_argument("--sweep", choices=("beta", "steps"), default="beta")
    p.add_argument("--method", choices=("exact", "ppo"), default="exact")
    p.add_argument("--n", type=_positive_int, default=200, help="proxy's comparisons")
    p.add_argument("--verbosity-bias", type=_finite, default=4.0)
    p.add_argument("--steps", type=_positive_int, default=300, help="PPO steps")
    backend(p)
    p.set_defaults(run=_cmd_overoptimization)

    p = command("playground", "Score text: proxy reward, constitution, revision.", seed=False)
    p.add_argument("text", nargs="?", help="the text (default: read stdin)")
    p.add_argument(
        "--prompt", default=None, help="the request the text answers (judged with it if given)"
    )
    p.set_defaults(run=_cmd_playground)

    from rlhf_mini.cli_lm import register  # lm-pretrain, lm-sample, lm-reward-model

    register(sub)
    return parser


def _version() -> str:
    from rlhf_mini import __version__

    return f"{PROG} {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 missing extra, 2 bad options)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a bad option (already reported)
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.plot is not None:
        folder = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(folder):
            print(
                f"{PROG} {args.command}: error: --plot: no such folder {folder!r}", file=sys.stderr
            )
            return 2
    try:
        if args.plot is not None:
            _require_matplotlib()
        result, text, plot = args.run(args)
        if args.plot is not None:
            plot(args.plot)
    except (ValueError, _UsageError) as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return 2
    except ImportError as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return 1
    try:
        if args.json:
            print(json.dumps(result, default=_jsonable))
        else:
            print(text)
            if args.plot is not None:
                print(f"\nfigure saved to {args.plot}")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `rlhf-mini ppo --json | head`: the reader left early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
