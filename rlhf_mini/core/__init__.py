"""Building blocks shared by every layer: array namespaces, input checks, numerics, optimisers."""
