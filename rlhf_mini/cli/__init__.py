"""The command line: ``python -m rlhf_mini SUBCOMMAND`` (installed as ``rlhf-mini``)."""

from rlhf_mini.cli.main import main

__all__ = ["main"]
