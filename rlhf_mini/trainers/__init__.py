"""The training loops: each trainer has one config dataclass and returns a RunResult."""
