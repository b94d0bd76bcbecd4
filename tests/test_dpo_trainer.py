"""DPO on the bandit: accuracy, the exact optimum it converges to, determinism, bad input."""

import json

import numpy as np
import pytest

from rlhf_mini import (
    dpo_loss_grad,
    dpo_optimal_policy,
    fit_bradley_terry,
    load_world,
    optimal_kl_policy,
    pair_accuracy,
    sft_policy,
    simulate_comparisons,
    train_dpo,
)


@pytest.fixture(scope="module")
def reference():
    return sft_policy()


@pytest.fixture(scope="module")
def data():
    # noisy enough labels that every response both wins and loses on its prompt, so the
    # Bradley–Terry MLE (and hence the DPO minimiser) exists
    return simulate_comparisons(1500, seed=0, temperature=2.0)


def _table_grad(policy, reference, c, beta):
    """d(mean DPO loss)/d(logits), computed independently of the trainer."""
    logp, ref = np.log(policy.to_numpy()), np.log(reference.to_numpy())
    g_w, g_l = dpo_loss_grad(
        logp[c.prompt, c.chosen],
        logp[c.prompt, c.rejected],
        ref[c.prompt, c.chosen],
        ref[c.prompt, c.rejected],
        beta,
    )
    g = np.zeros_like(logp)
    np.add.at(g, (c.prompt, c.chosen), g_w / len(c))
    np.add.at(g, (c.prompt, c.rejected), g_l / len(c))
    return g - policy.to_numpy() * g.sum(1, keepdims=True)


def test_the_stated_optimum_has_zero_dpo_gradient(reference, data):
    beta = 0.5
    star = dpo_optimal_policy(data, reference, beta)
    assert np.max(np.abs(_table_grad(star, reference, data, beta))) < 1e-9
    assert np.max(np.abs(_table_grad(reference, reference, data, beta))) > 1e-3
    # it is pi* for the Bradley–Terry-implied reward
    x = 3
    on_x = data.prompt == x
    s = fit_bradley_terry(np.stack([data.chosen[on_x], data.rejected[on_x]], 1), n_items=5)
    np.testing.assert_allclose(
        star.to_numpy()[x], optimal_kl_policy(reference, np.tile(s, (14, 1)), beta).to_numpy()[x]
    )


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_dpo_converges_to_pi_star_of_the_bt_reward(reference, data, beta):
    res = train_dpo(data, beta=beta, steps=300, seed=0)
    star = dpo_optimal_policy(data, reference, beta)
    start = float(np.mean(reference.kl(star)))
    assert start > 0.05
    assert float(np.mean(res.policy.kl(star))) < 1e-4 * start


def test_preference_accuracy_rises_well_above_chance(reference):
    c = simulate_comparisons(500, seed=1)
    res = train_dpo(c, beta=0.5, steps=200, seed=0)
    h = res.history
    assert h["accuracy"][0] == 0.0  # policy == reference: every implicit reward is 0
    assert h["loss"][0] == pytest.approx(np.log(2))
    assert h["reward_margin"][0] == 0.0 and h["kl"][0] == 0.0
    assert h["accuracy"][-1] > 0.8
    assert h["loss"][-1] < 0.4 and h["reward_margin"][-1] > 1.0
    assert h["gold_reward"][-1] > h["gold_reward"][0] + 0.5
    # the implicit reward ranks responses much like the hidden gold utility (less well than
    # the linear reward model, ~0.99: a table of logits shares nothing between prompts)
    implicit = np.log(res.policy.to_numpy() / reference.to_numpy())
    assert pair_accuracy(implicit, load_world().gold_utility()) > 0.85


def test_smaller_beta_moves_further_from_the_reference(data):
    kls = [train_dpo(data, beta=b, steps=150, seed=0).final()["kl"] for b in (2.0, 0.5, 0.1)]
    assert kls[0] < kls[1] < kls[2]


def test_other_loss_types_learn_too(data):
    for loss_type in ("ipo", "hinge"):
        res = train_dpo(data, beta=0.5, steps=100, loss_type=loss_type)
        assert res.history["accuracy"][-1] > 0.7, loss_type


def test_history_json_and_determinism(data):
    a = train_dpo(data, steps=20, log_every=5, seed=0)
    b = train_dpo(data, steps=20, log_every=5, seed=0)
    assert a.history == b.history
    assert a.history["step"] == [0, 5, 10, 15, 20]
    assert set(a.history) == {"step", "loss", "accuracy", "reward_margin", "kl", "gold_reward"}
    d = json.loads(json.dumps(a.to_dict()))
    assert d["config"] == a.config and a.config["steps"] == 20
    # the default data set depends on the seed
    assert train_dpo(steps=5, seed=1).history != train_dpo(steps=5, seed=2).history


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"beta": 0.0}, ValueError, "beta"),
        ({"beta": -1.0}, ValueError, "beta"),
        ({"lr": -1.0}, ValueError, "lr"),
        ({"loss_type": "kpo"}, ValueError, "loss_type"),
        ({"loss_type": "orpo", "label_smoothing": 0.1}, ValueError, "label_smoothing"),
        ({"label_smoothing": 0.7}, ValueError, "label_smoothing"),
        ({"backend": "mlx"}, ValueError, "backend"),
        ({"comparisons": [(0, 1, 2)]}, TypeError, "comparisons"),
        ({"reference": np.zeros((14, 5))}, TypeError, "reference"),
        ({"gold": np.zeros(3)}, ValueError, "gold"),
        ({"heldout": [(0, 1, 2)]}, TypeError, "heldout"),
        ({"heldout": simulate_comparisons(10, 0).subset(slice(0, 0))}, ValueError, "heldout"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, error, name):
    with pytest.raises(error, match=name):
        train_dpo(**{"steps": 2, **kwargs})


# --- held-out comparisons -------------------------------------------------------------------


def _direct_loss_and_accuracy(result, c, beta):
    """Mean DPO loss and accuracy of ``result.policy`` on ``c``, comparison by comparison."""
    from rlhf_mini import dpo_loss

    logp = np.log(result.policy.to_numpy())
    ref = np.log(result.reference.to_numpy())
    losses, chosen, rejected = dpo_loss(
        logp[c.prompt, c.chosen],
        logp[c.prompt, c.rejected],
        ref[c.prompt, c.chosen],
        ref[c.prompt, c.rejected],
        beta,
    )
    return float(np.mean(losses)), float(np.mean(chosen - rejected > 1e-9))


def test_heldout_metrics_are_the_final_policy_on_the_heldout_data():
    train, test = simulate_comparisons(300, 1, temperature=2.0).split(0.3, seed=1)
    res = train_dpo(train, heldout=test, beta=0.2, steps=60, seed=0)
    loss, accuracy = _direct_loss_and_accuracy(res, test, 0.2)
    assert res.history["heldout_loss"][-1] == pytest.approx(loss, rel=1e-12)
    assert res.history["heldout_accuracy"][-1] == pytest.approx(accuracy, abs=1e-12)
    assert res.history["heldout_loss"][0] == pytest.approx(np.log(2))  # pi = pi_ref at step 0
    assert len(test) == 90
    # held-out data are only measured: training is the same without them
    plain = train_dpo(train, beta=0.2, steps=60, seed=0)
    assert set(res.history) - set(plain.history) == {"heldout_loss", "heldout_accuracy"}
    for key, values in plain.history.items():
        assert res.history[key] == values, key


def test_heldout_equal_to_the_training_data_repeats_the_training_metrics(data):
    res = train_dpo(data, heldout=data, steps=20, log_every=5, seed=0)
    assert res.history["heldout_loss"] == pytest.approx(res.history["loss"], rel=1e-12)
    assert res.history["heldout_accuracy"] == pytest.approx(res.history["accuracy"], abs=1e-12)


def test_small_noisy_data_overfit_heldout_loss_turns_back_up():
    # 42 noisy comparisons, weak KL: DPO memorises them, the held-out loss passes a minimum
    train, test = simulate_comparisons(60, 0, temperature=2.0).split(0.3, seed=0)
    h = train_dpo(train, heldout=test, beta=0.1, steps=400, seed=0).history
    heldout = np.array(h["heldout_loss"])
    assert heldout.min() < heldout[-1] - 0.02
    assert h["loss"][-1] < heldout[-1] - 0.2
    assert h["accuracy"][-1] > h["heldout_accuracy"][-1] + 0.1


def test_numpy_and_torch_agree(data):
    a = train_dpo(data, beta=0.3, steps=40, seed=0)
    b = train_dpo(data, beta=0.3, steps=40, seed=0, backend="torch")
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-10, atol=1e-12)
