"""Trainer configs: one per trainer, checked once, recorded whole, reproducing the run."""

import dataclasses

import numpy as np
import pytest

import rlhf_mini as rm
from rlhf_mini.cli.main import build_parser
from rlhf_mini.core.config import Config, TrainerConfig, field_docs

CONFIGS = [
    rm.SFTConfig,
    rm.RewardModelConfig,
    rm.PPOConfig,
    rm.TokenPPOConfig,
    rm.DPOConfig,
    rm.LMPPOConfig,
    rm.LMDPOConfig,
    rm.LMGRPOConfig,
    rm.GRPOConfig,
    rm.RLOOConfig,
]


@pytest.fixture(scope="module")
def comparisons():
    return rm.simulate_comparisons(200, seed=3)


def _runs(comparisons):
    """(name, run with non-default settings, how to re-run it from a config dict)."""
    world = rm.load_world()
    text_pairs = rm.TextComparisons(
        ["capital-australia"] * 2,
        ["Tell me the capital of Australia."] * 2,
        ["It's Canberra.", "Canberra."],
        ["Sydney.", "Definitely Sydney."],
    )
    base = rm.base_policy(world)
    return [
        (
            "sft",
            rm.supervised_finetune(base, world.demonstrations(), steps=5, lr=0.3),
            lambda cfg: rm.supervised_finetune(base, world.demonstrations(), **cfg),
        ),
        (
            "reward_model",
            rm.train_reward_model(comparisons, steps=30, lr=1.5, hidden=3, seed=2),
            lambda cfg: rm.train_reward_model(comparisons, **cfg),
        ),
        (
            "ppo",
            rm.train_ppo(beta=0.07, steps=25, update_epochs=3, kl_target=0.3, seed=4),
            lambda cfg: rm.train_ppo(**cfg),
        ),
        (
            "token_ppo",
            rm.train_token_ppo(steps=4, beta=0.2, batch_size=8, num_minibatches=4, seed=1),
            lambda cfg: rm.train_token_ppo(**cfg),
        ),
        (
            "dpo",
            rm.train_dpo(comparisons, beta=0.3, steps=20, loss_type="ipo", seed=5),
            lambda cfg: rm.train_dpo(comparisons, **cfg),
        ),
        (
            "lm_ppo",
            rm.train_lm_ppo(
                steps=2, beta=0.02, batch_size=3, max_new_tokens=8, reward_model="verbose", seed=6
            ),
            lambda cfg: rm.train_lm_ppo(**cfg),
        ),
        (
            "lm_grpo",
            rm.train_lm_grpo(
                steps=2,
                beta=0.1,
                n_prompts=2,
                group_size=2,
                max_new_tokens=8,
                update_epochs=2,
                clip_eps_high=0.28,
                loss_type="dr_grpo",
                seed=6,
            ),
            lambda cfg: rm.train_lm_grpo(**cfg),
        ),
        (
            "lm_dpo",
            rm.train_lm_dpo(
                text_pairs, steps=2, batch_size=2, eval_every=1, eval_size=2, max_new_tokens=8
            ),
            lambda cfg: rm.train_lm_dpo(text_pairs, **cfg),
        ),
        (
            "dpo",
            rm.train_dpo(comparisons, steps=10, loss_type="simpo", simpo_gamma=0.2, seed=1),
            lambda cfg: rm.train_dpo(comparisons, **cfg),
        ),
        (
            "grpo",
            rm.train_grpo(
                beta=0.02, steps=15, group_size=4, update_epochs=2, scale_rewards="none", seed=4
            ),
            lambda cfg: rm.train_grpo(**cfg),
        ),
        (
            "rloo",
            rm.train_rloo(beta=0.3, steps=15, group_size=3, lr=2.0, reward_scale="raw", seed=6),
            lambda cfg: rm.train_rloo(**cfg),
        ),
    ]


def test_every_run_is_reproduced_from_its_own_config(comparisons):
    for name, run, again in _runs(comparisons):
        fields = {f.name for f in dataclasses.fields(type(_config_of(name)))}
        assert set(run.config) == fields, name  # the whole config, nothing else
        rerun = again(run.config)
        assert rerun.history == run.history, name
        assert rerun.config == run.config, name


def _config_of(name):
    return {
        "sft": rm.SFTConfig(),
        "reward_model": rm.RewardModelConfig(),
        "ppo": rm.PPOConfig(),
        "token_ppo": rm.TokenPPOConfig(),
        "dpo": rm.DPOConfig(),
        "lm_ppo": rm.LMPPOConfig(),
        "lm_dpo": rm.LMDPOConfig(),
        "lm_grpo": rm.LMGRPOConfig(),
        "grpo": rm.GRPOConfig(),
        "rloo": rm.RLOOConfig(),
    }[name]


def test_a_config_object_and_keywords_are_the_same_run(comparisons):
    cfg = rm.DPOConfig(beta=0.3, steps=15)
    a = rm.train_dpo(comparisons, cfg)
    b = rm.train_dpo(comparisons, beta=0.3, steps=15)
    c = rm.train_dpo(comparisons, cfg, steps=15)  # keywords override the config's fields
    assert a.history == b.history == c.history and a.config == cfg.to_dict()


@pytest.mark.parametrize("cls", CONFIGS)
def test_every_field_has_a_doc_line_and_a_default(cls):
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        assert docs.get(f.name), f"{cls.__name__}.{f.name} has no doc line"
        assert f.default is not dataclasses.MISSING, f"{cls.__name__}.{f.name} has no default"
    assert issubclass(cls, Config)


@pytest.mark.parametrize(
    ("command", "cls"),
    [
        (["reward-model"], rm.RewardModelConfig),
        (["ppo"], rm.PPOConfig),
        (["ppo"], rm.TokenPPOConfig),
        (["dpo"], rm.DPOConfig),
        (["lm-ppo"], rm.LMPPOConfig),
        (["lm-dpo"], rm.LMDPOConfig),
        (["lm-grpo"], rm.LMGRPOConfig),
        (["grpo"], rm.GRPOConfig),
        (["rloo"], rm.RLOOConfig),
    ],
)
def test_the_command_line_offers_every_setting_with_the_configs_default(command, cls):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command[0]]
    flags = {a.dest: a for a in sub._actions}
    for f in dataclasses.fields(cls):
        assert f.name in flags, f"--{f.name.replace('_', '-')} missing from {command[0]}"
        # the flag's default is "not given": the trainer's config supplies the value
        assert flags[f.name].default == "==SUPPRESS=="
        shown = (
            "none"
            if f.default is None
            else f"{f.default:g}"
            if isinstance(f.default, float)
            else str(f.default)
        )
        assert shown in flags[f.name].help, (f.name, flags[f.name].help)
    choices = flags.get("loss_type")
    if choices is not None:
        # read from the library: the language model's DPO offers the dpo_loss family, its
        # GRPO the grpo_loss aggregations
        if cls is rm.LMDPOConfig:
            assert tuple(choices.choices) == rm.DPO_LOSS_TYPES
        elif cls is rm.LMGRPOConfig:
            assert tuple(choices.choices) == rm.GRPO_LOSS_TYPES
        else:
            assert tuple(choices.choices) == rm.PREFERENCE_LOSS_TYPES
            assert set(rm.DPO_LOSS_TYPES) | {"kto", "simpo", "orpo"} == set(choices.choices)


def test_one_kind_of_error_for_one_kind_of_mistake():
    # a string where a number belongs is a TypeError in every trainer; out of range, ValueError
    for train in (rm.train_ppo, rm.train_token_ppo, rm.train_grpo, rm.train_rloo):
        with pytest.raises(TypeError, match="clip_eps"):
            train(clip_eps="0.2", steps=1)
        with pytest.raises(ValueError, match="clip_eps"):
            train(clip_eps=1.5, steps=1)
    with pytest.raises(TypeError, match="PPOConfig has no setting 'ppo_epochs'"):
        rm.train_ppo(ppo_epochs=2)
    with pytest.raises(TypeError, match="config must be a PPOConfig"):
        rm.train_ppo(None, rm.DPOConfig())
    for train in (rm.train_grpo, rm.train_rloo):
        with pytest.raises(ValueError, match="group_size must be >= 2"):
            train(group_size=1, steps=1)
        with pytest.raises(ValueError, match="beta must be >= 0"):
            train(beta=-0.1, steps=1)
    with pytest.raises(ValueError, match="label_smoothing applies to"):
        rm.DPOConfig(loss_type="kto", label_smoothing=0.1)
    with pytest.raises(ValueError, match="simpo_gamma must be >= 0"):
        rm.DPOConfig(loss_type="simpo", simpo_gamma=-1.0)
    with pytest.raises(ValueError, match="dtype must be one of"):
        TrainerConfig(dtype="float16")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rm.PPOConfig().beta = 1.0


def test_checked_values_are_normalised():
    cfg = rm.PPOConfig(beta=1, steps=np.int64(3), lr=np.float32(2.0))
    assert type(cfg.beta) is float and type(cfg.steps) is int and type(cfg.lr) is float
