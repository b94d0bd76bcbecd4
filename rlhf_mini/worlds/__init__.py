"""The toy worlds the course trains on, each with its data."""
