"""The equations: each loss (and its gradient, written out) in the module named after it."""
