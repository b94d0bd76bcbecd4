"""The linear Bradley–Terry reward model: gradient, optimum, generalisation, bad input."""

import json
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rlhf_mini import (
    load_world,
    pair_accuracy,
    reward_model_training,
    simulate_comparisons,
    train_reward_model,
)
from rlhf_mini.reward_model import RewardModel, reward_model_loss


@pytest.fixture(scope="module")
def world():
    return load_world()


def _features(world, c):
    phi = world.feature_table()
    return phi[c.prompt, c.chosen], phi[c.prompt, c.rejected]


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    phi_c, phi_r = rng.random((30, 7)), rng.random((30, 7))
    w = rng.normal(size=7) * 2
    loss, grad = reward_model_loss(w, phi_c, phi_r, l2=0.3)
    h = 1e-6
    fd = np.array(
        [
            (
                reward_model_loss(w + h * e, phi_c, phi_r, 0.3)[0]
                - reward_model_loss(w - h * e, phi_c, phi_r, 0.3)[0]
            )
            / (2 * h)
            for e in np.eye(7)
        ]
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    # the loss itself: mean -log sigmoid(score difference) + l2/2 |w|^2
    z = (phi_c - phi_r) @ w
    assert float(loss) == pytest.approx(np.mean(np.logaddexp(0, -z)) + 0.15 * w @ w, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    w=arrays(np.float64, 4, elements=st.floats(-20, 20)),
    phi_c=arrays(np.float64, (6, 4), elements=st.floats(0, 1)),
    phi_r=arrays(np.float64, (6, 4), elements=st.floats(0, 1)),
    l2=st.floats(0, 1),
)
def test_gradient_is_finite_and_matches_finite_differences_anywhere(w, phi_c, phi_r, l2):
    loss, grad = reward_model_loss(w, phi_c, phi_r, l2)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    h = 1e-5
    for i, e in enumerate(np.eye(4)):
        fd = (
            reward_model_loss(w + h * e, phi_c, phi_r, l2)[0]
            - reward_model_loss(w - h * e, phi_c, phi_r, l2)[0]
        ) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-4, abs=1e-6)


def test_training_reaches_the_minimiser_found_by_scipy(world):
    from scipy.optimize import minimize

    c = simulate_comparisons(400, seed=2)
    phi_c, phi_r = _features(world, c)
    best = minimize(
        lambda v: float(reward_model_loss(v, phi_c, phi_r, 0.05)[0]),
        np.zeros(world.n_features),
        jac=lambda v: reward_model_loss(v, phi_c, phi_r, 0.05)[1],
        method="BFGS",
        options={"gtol": 1e-10},
    ).x
    res = train_reward_model(c, epochs=500, lr=5.0, l2=0.05, heldout_fraction=0.0, log_every=50)
    np.testing.assert_allclose(res.model.weights, best, atol=1e-6)
    losses = res.history["train_loss"]
    assert all(a >= b - 1e-12 for a, b in pairwise(losses))  # GD below 2/L: monotone


def test_learns_what_labellers_reward_and_generalises(world):
    res = train_reward_model(simulate_comparisons(3000, seed=4), epochs=300, lr=5.0)
    gold = world.gold_weights
    w = res.model.weights
    cosine = w @ gold / np.linalg.norm(w) / np.linalg.norm(gold)
    assert cosine > 0.9
    assert np.all(np.sign(w[gold != 0]) == np.sign(gold[gold != 0]))
    assert res.metrics["gold_pair_accuracy"] > 0.95
    h = res.history
    assert h["heldout_accuracy"][0] == 0.0  # all-zero weights rank nothing
    assert h["heldout_accuracy"][-1] > 0.8
    # cannot beat the labels' own agreement with gold by much: they are the noise ceiling
    assert h["heldout_accuracy"][-1] <= res.metrics["heldout_label_gold_agreement"] + 0.05
    assert h["train_loss"][-1] < h["train_loss"][0] == pytest.approx(np.log(2))


def test_verbosity_loving_labellers_produce_a_verbosity_loving_model(world):
    v = world.features.index("verbosity")
    fair = train_reward_model(simulate_comparisons(1000, seed=0), heldout_fraction=0.0)
    biased = train_reward_model(
        simulate_comparisons(1000, seed=0, verbosity_bias=4.0), heldout_fraction=0.0
    )
    assert fair.model.weights[v] < 0 < biased.model.weights[v]
    assert biased.metrics["gold_pair_accuracy"] < fair.metrics["gold_pair_accuracy"]


def test_scores_history_and_json(world):
    res = train_reward_model(simulate_comparisons(300, seed=1), epochs=40, log_every=10)
    assert res.history["epoch"] == [0, 10, 20, 30, 40]
    assert set(res.history) == {
        "epoch",
        "train_loss",
        "train_accuracy",
        "heldout_loss",
        "heldout_accuracy",
    }
    table = res.model.score_table()
    assert table.shape == (world.n_prompts, world.n_candidates)
    np.testing.assert_allclose(table[2, 1], world.feature_table()[2, 1] @ res.model.weights)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["weights"]["helpfulness"] == res.model.weights[0]
    assert (res.n_train, res.n_heldout) == (240, 60)


def test_deterministic_for_a_seed():
    c = simulate_comparisons(300, seed=1)
    a = train_reward_model(c, epochs=30, seed=3)
    b = train_reward_model(c, epochs=30, seed=3)
    other = train_reward_model(c, epochs=30, seed=4)  # another held-out split
    assert a.history == b.history != other.history


def test_pair_accuracy_counts_agreeing_pairs():
    u = np.array([[3.0, 2.0, 1.0]])
    assert pair_accuracy(u, u) == 1.0
    assert pair_accuracy(-u, u) == 0.0
    assert pair_accuracy(np.array([[3.0, 1.0, 2.0]]), u) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 1.5}, TypeError, "epochs"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": float("nan")}, ValueError, "lr"),
        ({"l2": -1.0}, ValueError, "l2"),
        ({"log_every": 0}, ValueError, "log_every"),
        ({"backend": "jax"}, ValueError, "backend"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, error, name):
    with pytest.raises(error, match=name):
        train_reward_model(simulate_comparisons(20, seed=0), **kwargs)


def test_bad_data_raises():
    with pytest.raises(TypeError, match="comparisons"):
        train_reward_model([[0, 1, 2]])
    with pytest.raises(ValueError, match="phi"):
        RewardModel(np.zeros(7), tuple("abcdefg")).score(np.zeros((3, 6)))


def test_numpy_and_torch_agree():
    c = simulate_comparisons(200, seed=5)
    a = train_reward_model(c, epochs=40, backend="numpy")
    b = train_reward_model(c, epochs=40, backend="torch")
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.model.weights, b.model.weights, rtol=1e-12)


# --- reward_model_training: the same run, one snapshot per logged epoch -----------------------


def test_training_snapshots_end_at_the_trained_model_and_grow_one_epoch_at_a_time():
    data = simulate_comparisons(300, seed=4, temperature=1.5)
    final = train_reward_model(data, epochs=30, log_every=10, seed=4)
    snaps = list(reward_model_training(data, epochs=30, log_every=10, seed=4))
    assert [s.history["epoch"] for s in snaps] == [[0], [0, 10], [0, 10, 20], [0, 10, 20, 30]]
    last = snaps[-1]
    np.testing.assert_array_equal(last.model.weights, final.model.weights)
    assert last.history == final.history and last.metrics == final.metrics
    assert last.config == final.config and (last.n_train, last.n_heldout) == (240, 60)
    for i, snap in enumerate(snaps):  # each history is the final one up to that epoch
        assert snap.history == {k: v[: i + 1] for k, v in final.history.items()}
    # each snapshot's model is the one of its epoch: the first is w = 0
    assert not snaps[0].model.weights.any() and snaps[1].model.weights.any()
    snaps[0].history["epoch"].append(99)  # snapshots are copies
    assert snaps[1].history["epoch"] == [0, 10]


def test_training_checks_its_arguments_at_once():
    with pytest.raises(TypeError, match="comparisons"):
        reward_model_training([(0, 1, 2)])
    with pytest.raises(ValueError, match="epochs"):
        reward_model_training(simulate_comparisons(10, seed=0), epochs=0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        reward_model_training(simulate_comparisons(10, seed=0), epoch=5)
