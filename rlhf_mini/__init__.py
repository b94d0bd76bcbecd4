"""rlhf_mini: RLHF and alignment, small enough to read.

The public API is what this module exports; everything else is private. Importing
``rlhf_mini`` imports numpy and array-api-compat only (never torch or matplotlib).
"""

from rlhf_mini.advantages import gae
from rlhf_mini.dpo import DPO_LOSS_TYPES, dpo_loss, dpo_loss_grad
from rlhf_mini.dpo_trainer import DPOResult, dpo_optimal_policy, train_dpo
from rlhf_mini.kl import (
    KL_ESTIMATORS,
    AdaptiveKLController,
    kl_estimator_grad,
    kl_k1,
    kl_k2,
    kl_k3,
    kl_penalized_rewards,
)
from rlhf_mini.losses.best_of_n import best_of_n_kl_bound, best_of_n_policy
from rlhf_mini.losses.group_advantages import GRPO_SCALES, grpo_advantages, rloo_advantages
from rlhf_mini.losses.grpo import GRPO_LOSS_TYPES, grpo_loss, grpo_loss_grad
from rlhf_mini.losses.kto import kto_loss, kto_loss_grad
from rlhf_mini.losses.orpo import orpo_loss, orpo_loss_grad
from rlhf_mini.losses.simpo import simpo_loss, simpo_loss_grad
from rlhf_mini.overoptimization import (
    OveroptimizationResult,
    overoptimization_curve,
    proxy_reward_model,
)
from rlhf_mini.pipeline import PipelineResult, PipelineStage, behaviour_rates, run_pipeline
from rlhf_mini.playground import (
    CONSTITUTION,
    ResponseScore,
    critique,
    harmful_request,
    revise,
    score_response,
)
from rlhf_mini.policy import (
    SoftmaxPolicy,
    base_policy,
    optimal_kl_policy,
    sft_policy,
    supervised_finetune,
)
from rlhf_mini.ppo import ppo_clip_loss, ppo_clip_loss_grad
from rlhf_mini.ppo_trainer import PPOResult, train_ppo
from rlhf_mini.preferences import (
    bradley_terry_loss,
    bradley_terry_loss_grad,
    fit_bradley_terry,
    preference_probability,
)
from rlhf_mini.reward_model import (
    MLPRewardModel,
    RewardModel,
    RewardModelResult,
    default_reward_model,
    pair_accuracy,
    reward_model_training,
    train_reward_model,
)
from rlhf_mini.token_ppo import TokenPPOResult, train_token_ppo
from rlhf_mini.world import Comparisons, World, load_world, simulate_comparisons

__version__ = "0.1.0"

__all__ = [
    "CONSTITUTION",
    "DPO_LOSS_TYPES",
    "GRPO_LOSS_TYPES",
    "GRPO_SCALES",
    "KL_ESTIMATORS",
    "AdaptiveKLController",
    "Comparisons",
    "DPOResult",
    "MLPRewardModel",
    "OveroptimizationResult",
    "PPOResult",
    "PipelineResult",
    "PipelineStage",
    "ResponseScore",
    "RewardModel",
    "RewardModelResult",
    "SoftmaxPolicy",
    "TokenPPOResult",
    "World",
    "__version__",
    "base_policy",
    "behaviour_rates",
    "best_of_n_kl_bound",
    "best_of_n_policy",
    "bradley_terry_loss",
    "bradley_terry_loss_grad",
    "critique",
    "default_reward_model",
    "dpo_loss",
    "dpo_loss_grad",
    "dpo_optimal_policy",
    "fit_bradley_terry",
    "gae",
    "grpo_advantages",
    "grpo_loss",
    "grpo_loss_grad",
    "harmful_request",
    "kl_estimator_grad",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "kl_penalized_rewards",
    "kto_loss",
    "kto_loss_grad",
    "load_world",
    "optimal_kl_policy",
    "orpo_loss",
    "orpo_loss_grad",
    "overoptimization_curve",
    "pair_accuracy",
    "ppo_clip_loss",
    "ppo_clip_loss_grad",
    "preference_probability",
    "proxy_reward_model",
    "revise",
    "reward_model_training",
    "rloo_advantages",
    "run_pipeline",
    "score_response",
    "sft_policy",
    "simpo_loss",
    "simpo_loss_grad",
    "simulate_comparisons",
    "supervised_finetune",
    "train_dpo",
    "train_ppo",
    "train_reward_model",
    "train_token_ppo",
]
