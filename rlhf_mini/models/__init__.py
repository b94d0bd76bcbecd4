"""The models: the tabular softmax policy, reward models, the Bradley–Terry score model."""
