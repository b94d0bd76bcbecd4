"""rlhf_mini: RLHF and alignment, small enough to read.

The public API is what this module exports; everything else is private. Importing
``rlhf_mini`` imports numpy and array-api-compat only (never torch or matplotlib).
"""

from rlhf_mini.advantages import gae
from rlhf_mini.dpo import DPO_LOSS_TYPES, dpo_loss, dpo_loss_grad
from rlhf_mini.kl import (
    KL_ESTIMATORS,
    AdaptiveKLController,
    kl_estimator_grad,
    kl_k1,
    kl_k2,
    kl_k3,
    kl_penalized_rewards,
)
from rlhf_mini.ppo import ppo_clip_loss, ppo_clip_loss_grad
from rlhf_mini.preferences import (
    bradley_terry_loss,
    bradley_terry_loss_grad,
    fit_bradley_terry,
    preference_probability,
)

__version__ = "0.1.0"

__all__ = [
    "DPO_LOSS_TYPES",
    "KL_ESTIMATORS",
    "AdaptiveKLController",
    "__version__",
    "bradley_terry_loss",
    "bradley_terry_loss_grad",
    "dpo_loss",
    "dpo_loss_grad",
    "fit_bradley_terry",
    "gae",
    "kl_estimator_grad",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "kl_penalized_rewards",
    "ppo_clip_loss",
    "ppo_clip_loss_grad",
    "preference_probability",
]
