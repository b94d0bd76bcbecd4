"""GRPO and RLOO on the bandit: where each converges, and why (the KL estimators' gradients)."""

import json

import numpy as np
import pytest

from rlhf_mini import (
    SoftmaxPolicy,
    default_reward_model,
    forward_kl_optimal_policy,
    grpo_loss_grad,
    kl_estimator_grad,
    optimal_kl_policy,
    sft_policy,
    train_grpo,
    train_rloo,
    win_probability_rewards,
)


@pytest.fixture(scope="module")
def scores():
    return default_reward_model(seed=0).score_table()


@pytest.fixture(scope="module")
def reference():
    return sft_policy()


@pytest.fixture(scope="module")
def win(scores, reference):
    """The reward both trainers optimise by default: sigmoid(r - E_ref[r])."""
    return win_probability_rewards(scores, reference)


def _kl(p, q):
    return float(np.mean(p.kl(q)))


# --- the two optima ---------------------------------------------------------------------------


def test_forward_kl_optimal_policy_is_the_maximiser(reference, win):
    beta = 0.2
    star = forward_kl_optimal_policy(reference, win, beta)
    pi, pi_ref = star.to_numpy(), reference.to_numpy()

    def objective(p):  # E_p[r] - beta KL(pi_ref || p), per prompt
        return np.sum(p * win, 1) - beta * np.sum(pi_ref * np.log(pi_ref / p), 1)

    # the closed form: pi = beta pi_ref / (mu - r), with mu = beta + E_pi[r]
    mu = beta + np.sum(pi * win, axis=1, keepdims=True)
    np.testing.assert_allclose(pi, beta * pi_ref / (mu - win), rtol=1e-9)
    best = objective(pi)
    rng = np.random.default_rng(0)
    for _ in range(20):
        other = star.copy(star.logits + rng.normal(scale=0.3, size=star.shape)).to_numpy()
        assert np.all(objective(other) < best)
    # a weaker leash moves further; and for one beta the forward KL keeps more of pi_ref's
    # mass on the worse responses than the RLHF optimum does (its tail is 1 / (mu - r))
    assert _kl(forward_kl_optimal_policy(reference, win, 0.05), reference) > _kl(star, reference)
    rlhf = optimal_kl_policy(reference, win, beta).to_numpy()
    worst = np.argmin(win, axis=1)
    rows = np.arange(win.shape[0])
    assert np.all(pi[rows, worst] > rlhf[rows, worst])
    with pytest.raises(ValueError, match="rewards must have shape"):
        forward_kl_optimal_policy(reference, win[:3], beta)
    with pytest.raises(ValueError, match="beta must be > 0"):
        forward_kl_optimal_policy(reference, win, 0.0)


def _expected_logit_grad(pi, per_sample):
    """E_{y~pi}[g(y) d log pi(y) / d theta] on one prompt: sum_y pi(y) g(y) (e_y - pi)."""
    k = pi.size
    return sum(pi[y] * per_sample[y] * (np.eye(k)[y] - pi) for y in range(k))


def _numeric_grad(f, theta, h=1e-6):
    g = np.zeros_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        g[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return g


def _softmax(theta):
    z = np.exp(theta - theta.max())
    return z / z.sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_k1_k2_k3_in_the_loss_are_gradients_of_zero_reverse_and_forward_kl(seed):
    """The identity behind the two optima: with the samples held fixed (the loss is
    differentiated, the sampling distribution is not), in expectation over y ~ pi

        d k1 -> 0,   d k2 -> d KL(pi || pi_ref) (reverse),   d k3 -> d KL(pi_ref || pi) (forward);

    and k1 put in the *reward* (REINFORCE on -k1) is d KL(pi || pi_ref) too."""
    rng = np.random.default_rng(seed)
    theta, theta_ref = rng.normal(size=5), rng.normal(size=5)
    pi, pi_ref = _softmax(theta), _softmax(theta_ref)
    logp, logp_ref = np.log(pi), np.log(pi_ref)

    def kl_pi_ref(t):  # KL(pi || pi_ref), the reverse KL RLHF penalises
        p = _softmax(t)
        return np.sum(p * (np.log(p) - logp_ref))

    def kl_ref_pi(t):  # KL(pi_ref || pi), the forward KL
        return np.sum(pi_ref * (logp_ref - np.log(_softmax(t))))

    grad = {
        e: _expected_logit_grad(pi, kl_estimator_grad(logp, logp_ref, e))
        for e in ("k1", "k2", "k3")
    }
    np.testing.assert_allclose(grad["k1"], 0.0, atol=1e-15)
    np.testing.assert_allclose(grad["k2"], _numeric_grad(kl_pi_ref, theta), atol=1e-8)
    np.testing.assert_allclose(grad["k3"], _numeric_grad(kl_ref_pi, theta), atol=1e-8)
    np.testing.assert_allclose(grad["k3"], pi - pi_ref, atol=1e-15)  # in closed form
    in_reward = _expected_logit_grad(pi, logp - logp_ref)  # REINFORCE with reward -k1
    np.testing.assert_allclose(in_reward, _numeric_grad(kl_pi_ref, theta), atol=1e-8)
    # and GRPO's loss gradient (advantage 0) is exactly beta times the k3 one
    g = grpo_loss_grad(
        logp[:, None], logp[:, None], logp_ref[:, None], np.zeros(5), np.ones((5, 1)), beta=0.3
    )
    np.testing.assert_allclose(5 * g[:, 0], 0.3 * kl_estimator_grad(logp, logp_ref, "k3"))


# --- convergence ------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.05, 0.3])
def test_rloo_approaches_the_kl_regularised_optimum(scores, reference, win, beta):
    """KL in the reward, leave-one-out baseline: an unbiased gradient of
    E[r] - beta KL(pi || pi_ref), so PPO's optimum pi_ref exp(r / beta) / Z."""
    res = train_rloo(scores, beta=beta, steps=300, seed=0)
    star = optimal_kl_policy(reference, win, beta)
    assert _kl(res.policy, star) < 0.01 * _kl(reference, star)
    assert res.final()["kl"] == pytest.approx(_kl(star, reference), rel=0.05)


@pytest.mark.parametrize(("beta", "group_size"), [(0.1, 8), (0.3, 8), (0.1, 2)])
def test_grpo_without_std_scaling_approaches_the_forward_kl_optimum(
    scores, reference, win, beta, group_size
):
    """k3 in the loss pulls toward KL(pi_ref || pi), and the group mean (which includes the
    sample) scales the policy gradient by (G - 1)/G: the optimum of (G - 1)/G E[r] -
    beta KL(pi_ref || pi), i.e. forward_kl_optimal_policy with beta G / (G - 1)."""
    res = train_grpo(
        scores, beta=beta, group_size=group_size, scale_rewards="none", lr=3.0, steps=300, seed=0
    )
    target = forward_kl_optimal_policy(reference, win, beta * group_size / (group_size - 1))
    end = _kl(res.policy, target)
    assert end < 0.01 * _kl(reference, target)
    # ... and not the RLHF optimum, nor the forward-KL one without the (G - 1)/G factor
    assert _kl(res.policy, optimal_kl_policy(reference, win, beta)) > 20 * end
    if group_size == 2:  # the factor is 1/2 here: clearly another policy
        assert _kl(res.policy, forward_kl_optimal_policy(reference, win, beta)) > 20 * end


@pytest.mark.parametrize(("train", "kw"), [(train_grpo, {}), (train_rloo, {})])
def test_lower_beta_buys_more_reward_for_more_kl(scores, train, kw):
    finals = [train(scores, beta=b, steps=150, seed=1, **kw).final() for b in (1.0, 0.1, 0.01)]
    kls = [f["kl"] for f in finals]
    proxies = [f["proxy_reward"] for f in finals]
    assert kls[0] < kls[1] < kls[2]
    assert proxies[0] < proxies[1] < proxies[2]
    start = train(scores, steps=1, seed=1).history["gold_reward"][0]
    assert all(f["gold_reward"] > start + 0.3 for f in finals)


def test_grpo_std_scaling_makes_beta_a_weaker_leash(scores):
    """Dividing advantages by the group's reward std (small on the win-probability scale)
    enlarges the reward against the fixed beta k3 term: the same beta drifts further."""
    scaled = train_grpo(scores, beta=0.1, seed=0).final()
    unscaled = train_grpo(scores, beta=0.1, scale_rewards="none", lr=3.0, seed=0).final()
    assert scaled["kl"] > 1.5 * unscaled["kl"]


def test_beta_zero_drops_the_penalty_and_collapses_every_group(scores):
    res = train_grpo(scores, beta=0.0, steps=200, seed=0)
    h = res.history
    assert h["entropy"][-1] < 0.05 and h["frac_reward_zero_std"][-1] > 0.9
    greedy = np.argmax(win_probability_rewards(scores, sft_policy()), axis=1)
    assert np.mean(res.policy.greedy() == greedy) > 0.9


def test_more_epochs_per_group_engage_the_clip(scores):
    one = train_grpo(scores, steps=30, lr=3.0, log_every=1, seed=0).history
    four = train_grpo(scores, steps=30, lr=3.0, update_epochs=4, log_every=1, seed=0).history
    assert max(one["clip_fraction"]) == 0.0  # one step per group: rho = 1, nothing clipped
    assert np.mean(four["clip_fraction"]) > 0.05
    higher = train_grpo(
        scores, steps=30, lr=3.0, update_epochs=4, clip_eps_high=0.5, log_every=1, seed=0
    )
    assert np.mean(higher.history["clip_fraction"]) < np.mean(four["clip_fraction"])


# --- bookkeeping ------------------------------------------------------------------------------


@pytest.mark.parametrize("train", [train_grpo, train_rloo])
def test_history_is_exact_and_well_formed(reference, win, train):
    res = train(beta=0.2, steps=40, log_every=10, seed=0)
    h = res.history
    assert h["step"] == [0, 10, 20, 30, 40]
    assert list(h) == [
        "step",
        "proxy_reward",
        "gold_reward",
        "kl",
        "entropy",
        "clip_fraction",
        "frac_reward_zero_std",
    ]
    assert all(isinstance(v, float | int) for vals in h.values() for v in vals)
    assert h["kl"][0] == 0.0
    assert h["proxy_reward"][0] == pytest.approx(np.mean(reference.expected(win)))
    assert h["kl"][-1] == pytest.approx(np.mean(res.policy.kl(reference)))
    assert all(0.0 <= v <= 1.0 for key in ("clip_fraction", "frac_reward_zero_std") for v in h[key])
    d = json.loads(json.dumps(res.to_dict()))
    assert d["final"]["kl"] == h["kl"][-1] and d["config"] == res.config
    np.testing.assert_allclose(np.sum(d["policy"], axis=1), 1.0)


@pytest.mark.parametrize("train", [train_grpo, train_rloo])
def test_runs_are_deterministic_per_seed(scores, train):
    a = train(scores, steps=20, seed=3).history
    assert a == train(scores, steps=20, seed=3).history
    assert a != train(scores, steps=20, seed=4).history


@pytest.mark.parametrize("train", [train_grpo, train_rloo])
def test_float32_runs_stay_finite_and_follow_float64(scores, train):
    f32 = train(scores, steps=60, seed=0, dtype="float32")
    f64 = train(scores, steps=60, seed=0)
    assert f32.policy.logits.dtype == np.float32
    for key, values in f32.history.items():
        assert np.all(np.isfinite(values)), key
    np.testing.assert_allclose(f32.history["kl"], f64.history["kl"], atol=0.02)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"rewards": np.zeros((3, 5))}, ValueError, "rewards"),
        ({"rewards": np.full((14, 5), np.nan)}, ValueError, "rewards"),
        ({"gold": np.zeros(3)}, ValueError, "gold"),
        ({"reference": np.zeros((14, 5))}, TypeError, "reference"),
        ({"scale_rewards": "token"}, ValueError, "scale_rewards"),
        ({"clip_eps_high": 0.0}, ValueError, "clip_eps_high"),
        ({"group_size": 2.0}, TypeError, "group_size"),
        ({"reward_scale": "whitened"}, ValueError, "reward_scale"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, error, name):
    with pytest.raises(error, match=name):
        train_grpo(**{"steps": 2, **kwargs})


def test_a_reward_table_a_reference_and_a_gold_table_need_no_world():
    rewards = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ref = SoftmaxPolicy(np.zeros((2, 3)))
    res = train_rloo(rewards, reference=ref, gold=rewards, reward_scale="raw", beta=0.1, seed=0)
    assert res.final()["gold_reward"] > 0.9  # pi* puts ~ e^10 / (e^10 + 2) on the right one
    assert res.history["gold_reward"][0] == pytest.approx(1 / 3)
