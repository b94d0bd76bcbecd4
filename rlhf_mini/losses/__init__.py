"""The equations: each loss (and its hand-derived gradient) as a function of arrays.

One module per method, each with its equation in plain text and the paper's arXiv id in the
docstring. The same code runs on numpy arrays and on torch tensors.
"""
