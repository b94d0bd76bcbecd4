"""The layer under every equation: array namespaces, input checks, numerics."""
