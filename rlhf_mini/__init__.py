"""rlhf_mini: RLHF and alignment, small enough to read.

The public API is what this module exports; everything else is private. Importing
``rlhf_mini`` imports numpy and array-api-compat only (never torch or matplotlib).
"""

from rlhf_mini.advantages import gae
from rlhf_mini.core.optim import AdamW, clip_grad_norm
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
from rlhf_mini.models.language_model import LanguageModel, load_language_model
from rlhf_mini.models.tokenizer import Tokenizer
from rlhf_mini.models.transformer import GPTConfig
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
from rlhf_mini.trainers.lm_pretrain import LMPretrainConfig, LMPretrainResult, train_language_model
from rlhf_mini.trainers.lm_reward_model import (
    LMRewardConfig,
    LMRewardResult,
    TextComparisons,
    sample_text_comparisons,
    train_lm_reward_model,
)
from rlhf_mini.world import Comparisons, World, load_world, simulate_comparisons
from rlhf_mini.worlds.text import (
    TextWorld,
    behaviour_of,
    gold_features,
    gold_utility,
    load_text_world,
    pretraining_corpus,
    sft_demonstrations,
    simulate_text_labels,
)

__version__ = "0.1.0"

__all__ = [
    "CONSTITUTION",
    "DPO_LOSS_TYPES",
    "KL_ESTIMATORS",
    "AdamW",
    "AdaptiveKLController",
    "Comparisons",
    "DPOResult",
    "GPTConfig",
    "LMPretrainConfig",
    "LMPretrainResult",
    "LMRewardConfig",
    "LMRewardResult",
    "LanguageModel",
    "MLPRewardModel",
    "OveroptimizationResult",
    "PPOResult",
    "PipelineResult",
    "PipelineStage",
    "ResponseScore",
    "RewardModel",
    "RewardModelResult",
    "SoftmaxPolicy",
    "TextComparisons",
    "TextWorld",
    "TokenPPOResult",
    "Tokenizer",
    "World",
    "__version__",
    "base_policy",
    "behaviour_of",
    "behaviour_rates",
    "bradley_terry_loss",
    "bradley_terry_loss_grad",
    "clip_grad_norm",
    "critique",
    "default_reward_model",
    "dpo_loss",
    "dpo_loss_grad",
    "dpo_optimal_policy",
    "fit_bradley_terry",
    "gae",
    "gold_features",
    "gold_utility",
    "harmful_request",
    "kl_estimator_grad",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "kl_penalized_rewards",
    "load_language_model",
    "load_text_world",
    "load_world",
    "optimal_kl_policy",
    "overoptimization_curve",
    "pair_accuracy",
    "ppo_clip_loss",
    "ppo_clip_loss_grad",
    "preference_probability",
    "pretraining_corpus",
    "proxy_reward_model",
    "revise",
    "reward_model_training",
    "run_pipeline",
    "sample_text_comparisons",
    "score_response",
    "sft_demonstrations",
    "sft_policy",
    "simulate_comparisons",
    "simulate_text_labels",
    "supervised_finetune",
    "train_dpo",
    "train_language_model",
    "train_lm_reward_model",
    "train_ppo",
    "train_reward_model",
    "train_token_ppo",
]
