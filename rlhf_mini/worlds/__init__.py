"""The toy data the course trains on: the response bandit, the token world, the text world."""
