"""rlhf_mini: RLHF and alignment, small enough to read.

The public API is what this module exports; everything else is private. Importing
``rlhf_mini`` imports numpy and array-api-compat only (never torch or matplotlib).

The package's folders are its layers (``docs/architecture.md`` draws them):

    core/         array namespaces and backends, input checks, numerics, the sampler,
                  optimisers, configs and run results
    losses/       the equations: Bradley–Terry, the reward-model loss, PPO's clipped
                  surrogate, KL estimators and the KL-penalised reward, GAE, the DPO family
    models/       the tabular softmax policy, reward models, the Bradley–Terry score model,
                  the tiny GPT-2-style transformer, its tokenizer and shipped weights
    worlds/       the response bandit and the text world (with their data), the bigram world,
                  checkable questions for verifiable rewards
    trainers/     SFT, reward model, PPO, token-level PPO, GRPO and RLOO, DPO (and KTO,
                  SimPO, ORPO): one config each
    experiments/  the pipeline, overoptimisation, DPO vs PPO, the method comparison, the
                  alignment playground
    cli/          ``python -m rlhf_mini``
"""

import importlib
from typing import TYPE_CHECKING, Any

from rlhf_mini.core.optim import AdamW, clip_grad_norm
from rlhf_mini.experiments.dpo_vs_ppo import DPOvsPPO, DPOvsPPOResult, compare_dpo_ppo
from rlhf_mini.experiments.method_comparison import MethodComparison, compare_methods
from rlhf_mini.experiments.overoptimization import (
    OveroptimizationResult,
    gold_peak,
    overoptimization_curve,
    proxy_reward_model,
)
from rlhf_mini.experiments.pipeline import (
    PipelineResult,
    PipelineStage,
    behaviour_rates,
    run_pipeline,
)
from rlhf_mini.experiments.playground import (
    CONSTITUTION,
    ResponseScore,
    critique,
    harmful_request,
    revise,
    score_response,
)
from rlhf_mini.losses.advantages import gae
from rlhf_mini.losses.best_of_n import best_of_n_kl_bound, best_of_n_policy
from rlhf_mini.losses.bradley_terry import (
    bradley_terry_loss,
    bradley_terry_loss_grad,
    preference_probability,
)
from rlhf_mini.losses.dpo import DPO_LOSS_TYPES, dpo_loss, dpo_loss_grad
from rlhf_mini.losses.group_advantages import GRPO_SCALES, grpo_advantages, rloo_advantages
from rlhf_mini.losses.grpo import GRPO_LOSS_TYPES, grpo_loss, grpo_loss_grad
from rlhf_mini.losses.kl import (
    KL_ESTIMATORS,
    AdaptiveKLController,
    kl_estimator_grad,
    kl_k1,
    kl_k2,
    kl_k3,
    kl_penalized_rewards,
)
from rlhf_mini.losses.kto import kto_loss, kto_loss_grad
from rlhf_mini.losses.orpo import orpo_loss, orpo_loss_grad
from rlhf_mini.losses.ppo_clip import ppo_clip_loss, ppo_clip_loss_grad
from rlhf_mini.losses.reward_model import mlp_reward_model_loss, reward_model_loss
from rlhf_mini.losses.simpo import simpo_loss, simpo_loss_grad
from rlhf_mini.models.bradley_terry import fit_bradley_terry
from rlhf_mini.models.reward_model import (
    MLPRewardModel,
    RewardModel,
    pair_accuracy,
    win_probability_rewards,
)
from rlhf_mini.models.softmax_policy import (
    SoftmaxPolicy,
    base_policy,
    forward_kl_optimal_policy,
    optimal_kl_policy,
)
from rlhf_mini.trainers.dpo import (
    PREFERENCE_LOSS_TYPES,
    DPOConfig,
    DPOResult,
    dpo_optimal_policy,
    train_dpo,
)
from rlhf_mini.trainers.grpo import (
    GRPOConfig,
    GRPOResult,
    RLOOConfig,
    RLOOResult,
    train_grpo,
    train_rloo,
)
from rlhf_mini.trainers.ppo import PPOConfig, PPOResult, train_ppo
from rlhf_mini.trainers.reward_model import (
    RewardModelConfig,
    RewardModelResult,
    default_reward_model,
    reward_model_training,
    train_reward_model,
)
from rlhf_mini.trainers.sft import SFTConfig, sft_policy, supervised_finetune
from rlhf_mini.trainers.token_ppo import TokenPPOConfig, TokenPPOResult, train_token_ppo
from rlhf_mini.worlds.bandit import Comparisons, World, load_world, simulate_comparisons
from rlhf_mini.worlds.verifiable import VerifiableWorld, load_verifiable_world, verify_answer

if TYPE_CHECKING:  # the lazy names below, for type checkers and editors
    from rlhf_mini.experiments.lm_alignment import (
        kl_weight_comparison,
        load_alignment_record,
        reward_hacking_run,
    )
    from rlhf_mini.models.language_model import LanguageModel, load_language_model
    from rlhf_mini.models.transformer import GPTConfig
    from rlhf_mini.trainers.lm_dpo import LMDPOConfig, LMDPOResult, LMDPORun, train_lm_dpo
    from rlhf_mini.trainers.lm_grpo import LMGRPOConfig, LMGRPOResult, LMGRPORun, train_lm_grpo
    from rlhf_mini.trainers.lm_ppo import LMPPOConfig, LMPPOResult, LMPPORun, train_lm_ppo
    from rlhf_mini.trainers.lm_pretrain import (
        LMPretrainConfig,
        LMPretrainResult,
        train_language_model,
    )
    from rlhf_mini.trainers.lm_reward_model import (
        LMRewardConfig,
        LMRewardResult,
        TextComparisons,
        sample_text_comparisons,
        train_lm_reward_model,
    )
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
    from rlhf_mini.worlds.tokenizer import Tokenizer

#: The language model's names (the transformer, its text world and tokenizer, its trainers
#: and experiments), imported on first use (PEP 562): they are half of the package, and a
#: page of the course that runs Python but not the language model never needs them
#: (bench/lm_align_speed.py measures what they cost: ``import_lm_ms``).
_LAZY = {
    "kl_weight_comparison": "rlhf_mini.experiments.lm_alignment",
    "load_alignment_record": "rlhf_mini.experiments.lm_alignment",
    "reward_hacking_run": "rlhf_mini.experiments.lm_alignment",
    "LanguageModel": "rlhf_mini.models.language_model",
    "load_language_model": "rlhf_mini.models.language_model",
    "GPTConfig": "rlhf_mini.models.transformer",
    "LMDPOConfig": "rlhf_mini.trainers.lm_dpo",
    "LMDPOResult": "rlhf_mini.trainers.lm_dpo",
    "LMDPORun": "rlhf_mini.trainers.lm_dpo",
    "train_lm_dpo": "rlhf_mini.trainers.lm_dpo",
    "LMGRPOConfig": "rlhf_mini.trainers.lm_grpo",
    "LMGRPOResult": "rlhf_mini.trainers.lm_grpo",
    "LMGRPORun": "rlhf_mini.trainers.lm_grpo",
    "train_lm_grpo": "rlhf_mini.trainers.lm_grpo",
    "LMPPOConfig": "rlhf_mini.trainers.lm_ppo",
    "LMPPOResult": "rlhf_mini.trainers.lm_ppo",
    "LMPPORun": "rlhf_mini.trainers.lm_ppo",
    "train_lm_ppo": "rlhf_mini.trainers.lm_ppo",
    "LMPretrainConfig": "rlhf_mini.trainers.lm_pretrain",
    "LMPretrainResult": "rlhf_mini.trainers.lm_pretrain",
    "train_language_model": "rlhf_mini.trainers.lm_pretrain",
    "LMRewardConfig": "rlhf_mini.trainers.lm_reward_model",
    "LMRewardResult": "rlhf_mini.trainers.lm_reward_model",
    "TextComparisons": "rlhf_mini.trainers.lm_reward_model",
    "sample_text_comparisons": "rlhf_mini.trainers.lm_reward_model",
    "train_lm_reward_model": "rlhf_mini.trainers.lm_reward_model",
    "TextWorld": "rlhf_mini.worlds.text",
    "behaviour_of": "rlhf_mini.worlds.text",
    "gold_features": "rlhf_mini.worlds.text",
    "gold_utility": "rlhf_mini.worlds.text",
    "load_text_world": "rlhf_mini.worlds.text",
    "pretraining_corpus": "rlhf_mini.worlds.text",
    "sft_demonstrations": "rlhf_mini.worlds.text",
    "simulate_text_labels": "rlhf_mini.worlds.text",
    "Tokenizer": "rlhf_mini.worlds.tokenizer",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rlhf_mini' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup finds it directly
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "CONSTITUTION",
    "DPO_LOSS_TYPES",
    "GRPO_LOSS_TYPES",
    "GRPO_SCALES",
    "KL_ESTIMATORS",
    "PREFERENCE_LOSS_TYPES",
    "AdamW",
    "AdaptiveKLController",
    "Comparisons",
    "DPOConfig",
    "DPOResult",
    "DPOvsPPO",
    "DPOvsPPOResult",
    "GPTConfig",
    "GRPOConfig",
    "GRPOResult",
    "LMDPOConfig",
    "LMDPOResult",
    "LMDPORun",
    "LMGRPOConfig",
    "LMGRPOResult",
    "LMGRPORun",
    "LMPPOConfig",
    "LMPPOResult",
    "LMPPORun",
    "LMPretrainConfig",
    "LMPretrainResult",
    "LMRewardConfig",
    "LMRewardResult",
    "LanguageModel",
    "MLPRewardModel",
    "MethodComparison",
    "OveroptimizationResult",
    "PPOConfig",
    "PPOResult",
    "PipelineResult",
    "PipelineStage",
    "RLOOConfig",
    "RLOOResult",
    "ResponseScore",
    "RewardModel",
    "RewardModelConfig",
    "RewardModelResult",
    "SFTConfig",
    "SoftmaxPolicy",
    "TextComparisons",
    "TextWorld",
    "TokenPPOConfig",
    "TokenPPOResult",
    "Tokenizer",
    "VerifiableWorld",
    "World",
    "__version__",
    "base_policy",
    "behaviour_of",
    "behaviour_rates",
    "best_of_n_kl_bound",
    "best_of_n_policy",
    "bradley_terry_loss",
    "bradley_terry_loss_grad",
    "clip_grad_norm",
    "compare_dpo_ppo",
    "compare_methods",
    "critique",
    "default_reward_model",
    "dpo_loss",
    "dpo_loss_grad",
    "dpo_optimal_policy",
    "fit_bradley_terry",
    "forward_kl_optimal_policy",
    "gae",
    "gold_features",
    "gold_peak",
    "gold_utility",
    "grpo_advantages",
    "grpo_loss",
    "grpo_loss_grad",
    "harmful_request",
    "kl_estimator_grad",
    "kl_k1",
    "kl_k2",
    "kl_k3",
    "kl_penalized_rewards",
    "kl_weight_comparison",
    "kto_loss",
    "kto_loss_grad",
    "load_alignment_record",
    "load_language_model",
    "load_text_world",
    "load_verifiable_world",
    "load_world",
    "mlp_reward_model_loss",
    "optimal_kl_policy",
    "orpo_loss",
    "orpo_loss_grad",
    "overoptimization_curve",
    "pair_accuracy",
    "ppo_clip_loss",
    "ppo_clip_loss_grad",
    "preference_probability",
    "pretraining_corpus",
    "proxy_reward_model",
    "revise",
    "reward_hacking_run",
    "reward_model_loss",
    "reward_model_training",
    "rloo_advantages",
    "run_pipeline",
    "sample_text_comparisons",
    "score_response",
    "sft_demonstrations",
    "sft_policy",
    "simpo_loss",
    "simpo_loss_grad",
    "simulate_comparisons",
    "simulate_text_labels",
    "supervised_finetune",
    "train_dpo",
    "train_grpo",
    "train_language_model",
    "train_lm_dpo",
    "train_lm_grpo",
    "train_lm_ppo",
    "train_lm_reward_model",
    "train_ppo",
    "train_reward_model",
    "train_rloo",
    "train_token_ppo",
    "verify_answer",
    "win_probability_rewards",
]
