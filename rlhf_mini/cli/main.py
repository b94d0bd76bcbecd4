"""The command line: ``python -m rlhf_mini SUBCOMMAND`` (installed as ``rlhf-mini``).

Subcommands run the library's experiments and print a readable table; ``--json`` prints
the results as JSON on stdout and nothing else; ``--plot FILE.png`` saves a figure
(needs matplotlib: ``pip install 'rlhf-mini[plot]'``). Long runs show a progress bar on
stderr when tqdm is installed and stderr is a terminal. Bad options print one error line
and exit with status 2.

    rlhf-mini preferences       simulated labellers + a Bradley–Terry fit
    rlhf-mini reward-model      train a reward model on comparisons
    rlhf-mini ppo               PPO with a KL penalty, one run per --beta (--token-level too)
    rlhf-mini grpo              GRPO: group baseline, k3 KL in the loss, one run per --beta
    rlhf-mini rloo              RLOO: leave-one-out baseline, KL in the reward
    rlhf-mini dpo               DPO on the same comparisons (--loss-type ipo, kto, simpo, orpo...)
    rlhf-mini pipeline          the six stages, base model to aligned assistant
    rlhf-mini overoptimization  proxy vs gold reward as the optimisation pressure grows
    rlhf-mini playground TEXT   score text: proxy reward, constitution, revision
    rlhf-mini best-of-n         exact best-of-n on the bandit: KL vs log n - (n-1)/n
    rlhf-mini export-trl DIR    preference data, prompts, reward and scripts for TRL
    rlhf-mini lm-pretrain       pretrain the tiny transformer and fine-tune it (SFT)
    rlhf-mini lm-sample         samples of the shipped base or SFT language model
    rlhf-mini lm-reward-model   a reward model on the SFT trunk, from sampled comparisons

A trainer's flags are built from its config (``--steps``, ``--lr`` ... of
:class:`rlhf_mini.PPOConfig`), so its defaults live in one place (:mod:`rlhf_mini.cli.options`).
This package only parses, calls the library and formats; no algorithm lives here.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from rlhf_mini.cli import bridge, commands, lm
from rlhf_mini.cli.output import jsonable, require_matplotlib

PROG = "rlhf-mini"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line (no usage block) and exits 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="RLHF and alignment experiments from rlhf_mini.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.register(sub)
    bridge.register(sub)
    lm.register(sub)
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
            require_matplotlib()
        result, text, plot = args.run(args)
        if args.plot is not None:
            plot(args.plot)
    except (ValueError, commands.UsageError) as err:
        message = str(err)
        # The library's checks start with the setting's name ("beta must be > 0, ..."):
        # name the flag the user typed.
        name = message.split(" ", 1)[0]
        if isinstance(err, ValueError) and hasattr(args, name):
            message = f"argument --{name.replace('_', '-')}: {message}"
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 2
    except ImportError as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return 1
    try:
        if args.json:
            print(json.dumps(result, default=jsonable))
        else:
            print(text)
            if args.plot is not None:
                print(f"\nfigure saved to {args.plot}")
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. `rlhf-mini ppo --json | head`: the reader left early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
