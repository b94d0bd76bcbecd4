"""DPO on the language model: the loss at the reference, its gradient through the transformer
against finite differences, the implicit reward margin growing, numpy against torch, every
loss of the family, and the data being the reward model's own."""

import numpy as np
import pytest

import rlhf_mini as rm
from rlhf_mini.models import transformer as tr
from rlhf_mini.trainers.lm_dpo import LMDPOConfig, LMDPORun, reward_model_pairs, train_lm_dpo
from rlhf_mini.trainers.lm_reward_model import (
    LMRewardConfig,
    TextComparisons,
    sample_text_comparisons,
    split_comparisons,
)
from rlhf_mini.trainers.lm_samples import response_log_probs_grad
from rlhf_mini.worlds.text import load_text_world

FAST = {"eval_size": 4, "max_new_tokens": 12}


@pytest.fixture(scope="module")
def pairs():
    """Written pairs: each prompt's best behaviour against one of its bad ones."""
    tw = load_text_world()
    rng = np.random.default_rng(0)
    ids, prompts, chosen, rejected = [], [], [], []
    for _ in range(3):
        for p in tw.prompts:
            bad = [b for b in p.behaviours if b != p.best_behaviour]
            ids.append(p.id)
            prompts.append(tw.write_prompt(p.id, rng))
            chosen.append(tw.write_response(p.id, p.best_behaviour, rng))
            rejected.append(tw.write_response(p.id, bad[int(rng.integers(len(bad)))], rng))
    return TextComparisons(ids, prompts, chosen, rejected)


def test_the_implicit_reward_margin_grows(pairs):
    train, heldout = pairs.subset(range(32)), pairs.subset(range(32, 42))
    res = train_lm_dpo(train, heldout=heldout, steps=30, eval_every=10, lr=3e-4, **FAST)
    h = res.history
    assert h["step"] == [0, 10, 20, 30]
    assert h["loss"][0] == pytest.approx(np.log(2), abs=1e-6)  # policy = reference
    assert h["reward_margin"][0] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(h["reward_margin"]) > 0)
    assert h["loss"][-1] < h["loss"][0] - 0.1 and h["accuracy"][-1] >= 0.9
    # the rejected responses lose probability fastest (the chosen ones may lose some too:
    # DPO moves the margin, not each log-probability)
    assert h["rejected_reward"][-1] < min(0.0, h["chosen_reward"][-1])
    assert h["heldout_reward_margin"][-1] > 0  # it generalises to pairs it never saw
    assert h["kl"][-1] > h["kl"][0]


def _dpo_loss(run, data, params):
    saved = run.policy
    run.policy = rm.LanguageModel(saved.config, params, saved.tokenizer)
    try:
        return run._loss(data)[0]["loss"]
    finally:
        run.policy = saved


def test_the_gradient_through_the_transformer_matches_finite_differences(pairs):
    run = LMDPORun(pairs.subset(range(6)), dtype="float64", beta=0.5, steps=1, **FAST)
    run.step()  # away from the reference, where every margin is 0
    data = run._subset(run.train, range(6))
    _, d_seq, out, batch = run._loss(data)
    P = batch.prompt_length
    mask = batch.response_mask[:, P:].astype(float)
    dlogits = response_log_probs_grad(out.logits, batch.tokens, P, d_seq[:, None] * mask)
    grads = tr.backward(run.policy.params, run.policy.config, out.cache, dlogits)
    params = run.policy.params
    rng = np.random.default_rng(2)
    for name in ("wte.weight", "h.0.attn.c_attn.weight", "ln_f.bias"):
        for _ in range(3):
            idx = tuple(int(rng.integers(s)) for s in params[name].shape)
            eps = 1e-6
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][idx] += eps
            minus[name][idx] -= eps
            fd = (_dpo_loss(run, data, plus) - _dpo_loss(run, data, minus)) / (2 * eps)
            assert grads[name][idx] == pytest.approx(fd, rel=1e-4, abs=1e-9), (name, idx)


@pytest.mark.parametrize("loss_type", ["ipo", "hinge", "robust"])
def test_every_loss_of_the_family_trains(pairs, loss_type):
    smoothing = 0.1 if loss_type == "robust" else 0.0
    res = train_lm_dpo(
        pairs.subset(range(8)),
        steps=4,
        batch_size=4,
        eval_every=4,
        loss_type=loss_type,
        label_smoothing=smoothing,
        lr=3e-4,
        **FAST,
    )
    assert res.history["reward_margin"][-1] > 0


def test_numpy_and_torch_give_the_same_run(pairs):
    pytest.importorskip("torch")
    options = {"steps": 2, "batch_size": 4, "eval_every": 2, "dtype": "float64", **FAST}
    a = train_lm_dpo(pairs.subset(range(8)), **options)
    b = train_lm_dpo(pairs.subset(range(8)), backend="torch", **options)
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-7, atol=1e-9)


def test_the_data_are_the_reward_models_own():
    train, heldout = reward_model_pairs("verbose", n_pairs=10)
    record = rm.models.language_model.shipped_manifest()["stages"]["reward_verbose"]["config"]
    config = LMRewardConfig(**{**record, "n_pairs": 10})
    base, sft = rm.load_language_model("base"), rm.load_language_model("sft")
    again = sample_text_comparisons(base, sft, config)
    t2, h2 = split_comparisons(again, config.heldout_fraction, np.random.default_rng(1))
    assert (train, heldout) == (t2, h2) and len(train) == 8
    assert config.verbosity_bias > 0


def test_pausing_changes_nothing_and_bad_inputs_are_named(pairs):
    options = {"steps": 3, "batch_size": 4, "eval_every": 2, **FAST}
    whole = train_lm_dpo(pairs.subset(range(8)), **options)
    run = LMDPORun(pairs.subset(range(8)), **options)
    for i, _ in enumerate(run.slices()):
        if i == 3:
            break
    for _ in run.slices():
        pass
    assert run.history == whole.history and run.history["step"] == [0, 2, 3]
    with pytest.raises(TypeError, match="pairs must be TextComparisons"):
        LMDPORun([("a", "b")])
    with pytest.raises(ValueError, match="label_smoothing"):
        LMDPOConfig(loss_type="ipo", label_smoothing=0.6)
