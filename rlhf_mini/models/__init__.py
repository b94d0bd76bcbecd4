"""The models that learn: policies, reward models, the tiny transformer and its tokenizer."""
