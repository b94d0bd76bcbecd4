"""The Bradley–Terry reward model, linear and MLP: gradients, optimum, generalisation, bad input."""

import json
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis_profiles import examples

import rlhf_mini as rm
from rlhf_mini import (
    load_world,
    pair_accuracy,
    reward_model_training,
    simulate_comparisons,
    train_reward_model,
)
from rlhf_mini.reward_model import (
    MLPRewardModel,
    RewardModel,
    mlp_reward_model_loss,
    reward_model_loss,
)


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


@settings(max_examples=examples(30))
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
    # predicting noisy labels levels off near their own agreement with gold (in expectation
    # no model predicts labels better), while the model orders pairs far better than a label
    assert h["heldout_accuracy"][-1] <= res.metrics["heldout_label_gold_agreement"] + 0.05
    assert res.metrics["gold_pair_accuracy"] > res.metrics["heldout_label_gold_agreement"] + 0.1
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


# --- the optional MLP reward model ------------------------------------------------------------


def _mlp_params(rng, h=3, f=4, scale=1.0):
    return rng.normal(size=(h, f)) * scale, rng.normal(size=h) * scale, rng.normal(size=h) * scale


def _finite_difference(fn, arrays, i, eps=1e-6):
    """d fn / d arrays[i], by central differences, one coordinate at a time."""
    out = np.zeros_like(arrays[i])
    for idx in np.ndindex(arrays[i].shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[i][idx] += eps
        minus[i][idx] -= eps
        out[idx] = (fn(*plus) - fn(*minus)) / (2 * eps)
    return out


@settings(max_examples=examples(25))
@given(seed=st.integers(0, 10_000), l2=st.floats(0, 1), scale=st.floats(0.1, 3.0))
def test_mlp_gradient_matches_finite_differences(seed, l2, scale):
    rng = np.random.default_rng(seed)
    w, c, v = _mlp_params(rng, scale=scale)
    phi_c, phi_r = rng.random((7, 4)), rng.random((7, 4))
    loss, grads = mlp_reward_model_loss(w, c, v, phi_c, phi_r, l2)

    def f(w, c, v):
        return float(mlp_reward_model_loss(w, c, v, phi_c, phi_r, l2)[0])

    for i, grad in enumerate(grads):
        np.testing.assert_allclose(grad, _finite_difference(f, [w, c, v], i), rtol=1e-5, atol=1e-7)
    # the loss itself, written out
    s_c, s_r = np.tanh(phi_c @ w.T + c) @ v, np.tanh(phi_r @ w.T + c) @ v
    expected = np.mean(np.logaddexp(0, -(s_c - s_r))) + 0.5 * l2 * (np.sum(w * w) + v @ v)
    assert float(loss) == pytest.approx(expected, rel=1e-12)


def test_mlp_reward_model_trains_like_the_linear_one(world):
    c = simulate_comparisons(500, seed=0)
    linear = train_reward_model(c, seed=0)
    mlp = train_reward_model(c, hidden=8, seed=0)
    assert isinstance(mlp.model, MLPRewardModel) and mlp.model.w.shape == (8, world.n_features)
    h = mlp.history
    assert h["train_loss"][0] == pytest.approx(np.log(2))  # v = 0: every response scores 0
    assert h["train_loss"][-1] < h["train_loss"][0] - 0.3
    # more capacity fits the training pairs at least as well; held out, the label noise rules
    assert h["train_loss"][-1] <= linear.history["train_loss"][-1] + 1e-3
    assert abs(h["heldout_accuracy"][-1] - linear.history["heldout_accuracy"][-1]) < 0.05
    assert mlp.metrics["gold_pair_accuracy"] > 0.95
    assert mlp.config["hidden"] == 8 and linear.config["hidden"] is None
    # its table is what its parameters say, and it drives PPO like the linear model
    table = mlp.model.score_table(world)
    phi = world.feature_table()
    np.testing.assert_allclose(table, np.tanh(phi @ mlp.model.w.T + mlp.model.c) @ mlp.model.v)
    ppo = rm.train_ppo(mlp.model, steps=100, seed=0)
    assert ppo.final()["proxy_reward"] > ppo.history["proxy_reward"][0]
    json.dumps(mlp.to_dict())


def test_mlp_seed_sets_its_initialisation():
    c = simulate_comparisons(200, seed=1)
    a = train_reward_model(c, hidden=4, epochs=20, seed=1).model
    b = train_reward_model(c, hidden=4, epochs=20, seed=1).model
    other = train_reward_model(c, hidden=4, epochs=20, seed=2).model
    np.testing.assert_array_equal(a.w, b.w)
    assert not np.array_equal(a.w, other.w)


@pytest.mark.parametrize(("hidden", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_bad_hidden_raises_naming_it(hidden, error):
    with pytest.raises(error, match="hidden"):
        train_reward_model(simulate_comparisons(20, seed=0), hidden=hidden)


def test_mlp_score_checks_the_feature_count():
    model = train_reward_model(simulate_comparisons(50, seed=0), hidden=2, epochs=2).model
    with pytest.raises(ValueError, match="features"):
        model.score(np.zeros((3, 2)))
