"""``python -m rlhf_mini``: the command line (:mod:`rlhf_mini.cli`)."""

from rlhf_mini.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
