"""Training loops: each trainer has one config dataclass and returns a result that records it."""
