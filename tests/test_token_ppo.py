"""Token-level PPO on the bigram policy: learning, KL trade-off, gradients, determinism, errors."""

import time

import numpy as np
import pytest

import rlhf_mini as rm
from rlhf_mini.core.numerics import log_softmax
from rlhf_mini.trainers import token_ppo as tp
from rlhf_mini.worlds import bigram


@pytest.fixture(scope="module")
def small_beta():
    return rm.train_token_ppo(steps=100, beta=0.01, seed=0)


@pytest.fixture(scope="module")
def large_beta():
    return rm.train_token_ppo(steps=100, beta=0.5, seed=0)


def test_public_names_are_exported():
    assert rm.train_token_ppo is tp.train_token_ppo
    assert "train_token_ppo" in rm.__all__ and "TokenPPOResult" in rm.__all__


def test_score_rises_and_value_function_learns(small_beta):
    h = small_beta.history
    assert set(h) == set(tp.HISTORY_KEYS)
    assert all(len(v) == 100 for v in h.values())
    assert np.mean(h["score"][-10:]) > np.mean(h["score"][:10]) + 0.6
    assert np.mean(h["score"][-10:]) > 0.9  # close to the scorer's maximum of 1
    assert np.mean(h["value_loss"][-10:]) < 0.2 * np.mean(h["value_loss"][:10])
    assert h["entropy"][-1] < 0.5 * h["entropy"][0]  # the policy sharpens
    for v in h["clip_fraction"]:
        assert 0.0 <= v <= 1.0
    assert any(v > 0 for v in h["clip_fraction"])  # the clip does act


def test_small_beta_drifts_further_than_large_beta(small_beta, large_beta):
    # the KL penalty trades score for staying near the reference
    assert small_beta.history["kl"][-1] > 3 * large_beta.history["kl"][-1]
    assert small_beta.history["score"][-1] > large_beta.history["score"][-1]
    assert large_beta.history["kl"][-1] < 0.5
    # first update: the policy is still the reference
    assert small_beta.history["kl"][0] == pytest.approx(0.0, abs=1e-12)


def test_reward_is_score_minus_beta_times_kl_estimate(small_beta):
    h = small_beta.history
    np.testing.assert_allclose(
        h["reward"], np.array(h["score"]) - 0.01 * np.array(h["kl_estimate"]), atol=1e-12
    )


def test_exact_kl_matches_monte_carlo_and_is_zero_at_reference(small_beta):
    theta, ref = small_beta.theta, small_beta.theta_ref
    assert bigram.exact_kl(ref, ref, 6) == 0.0
    rng = np.random.default_rng(1)
    prompts = rng.integers(len(bigram.PROMPTS), size=20000)
    states, tokens = bigram.sample_responses(theta, prompts, 6, rng)
    logp = log_softmax(np, theta)[states, tokens].sum(axis=1)
    logq = log_softmax(np, ref)[states, tokens].sum(axis=1)
    mc = logp - logq
    exact = bigram.exact_kl(theta, ref, 6)
    assert abs(mc.mean() - exact) < 4 * mc.std() / np.sqrt(mc.size)
    # KL of length-T responses grows with T (each step adds a non-negative term)
    assert bigram.exact_kl(theta, ref, 3) < exact


def _numerical_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f(x)
        x[i] = old - h
        down = f(x)
        x[i] = old
        g[i] = (up - down) / (2 * h)
    return g


@pytest.mark.parametrize("one_hot", [True, False])
@pytest.mark.parametrize("ent_coef", [0.0, 0.1])
def test_policy_gradient_matches_finite_differences(one_hot, ent_coef):
    rng = np.random.default_rng(7)
    n, S, V = 40, 5, 4
    features = np.eye(S)[rng.integers(S, size=n)] if one_hot else rng.normal(size=(n, S))
    actions = np.eye(V)[rng.integers(V, size=n)]
    theta = rng.normal(size=(S, V))
    logp = np.sum(actions * log_softmax(np, features @ theta), axis=1)
    # old log-probs: some ratios inside the clip range, some far outside it
    logp_old = logp + rng.choice([-0.5, -0.05, 0.05, 0.5], size=n)
    advantages = rng.normal(size=n)

    def loss(th):
        return float(
            tp.policy_loss_and_grad(th, features, actions, logp_old, advantages, 0.2, ent_coef)[0]
        )

    _, grad, stats = tp.policy_loss_and_grad(
        theta, features, actions, logp_old, advantages, 0.2, ent_coef
    )
    np.testing.assert_allclose(grad, _numerical_grad(loss, theta.copy()), rtol=1e-6, atol=1e-8)
    assert 0.0 < float(stats["clip_fraction"]) < 1.0
    np.testing.assert_allclose(stats["logp"], logp)


def test_value_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(30, 6))
    returns = rng.normal(size=30)
    w = rng.normal(size=6)
    loss, grad = tp.value_loss_and_grad(w, features, returns)
    assert float(loss) == pytest.approx(0.5 * np.mean((features @ w - returns) ** 2))

    def f(x):
        return float(tp.value_loss_and_grad(x, features, returns)[0])

    np.testing.assert_allclose(grad, _numerical_grad(f, w.copy()), rtol=1e-6, atol=1e-9)


def test_score_tokens():
    v = bigram.VOCAB.index
    tokens = np.array([[v("thanks")] * 4, [v("ugh"), v("the"), v("please"), v("no")]])
    np.testing.assert_allclose(bigram.score_tokens(tokens), [1.0, (-1 + 0 + 1 - 0.5) / 4])
    with pytest.raises(ValueError, match="tokens"):
        bigram.score_tokens(np.array([1, 2]))
    with pytest.raises(ValueError, match="tokens"):
        bigram.score_tokens(np.array([[len(bigram.VOCAB)]]))


def test_deterministic_for_a_seed():
    a = rm.train_token_ppo(steps=15, seed=5)
    b = rm.train_token_ppo(steps=15, seed=5)
    c = rm.train_token_ppo(steps=15, seed=6)
    assert a.history == b.history
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.samples == b.samples
    assert a.history["score"] != c.history["score"]


def test_callback_sees_every_update_and_result_serialises():
    seen = []
    r = rm.train_token_ppo(
        steps=4, seed=0, callback=lambda step, m: seen.append((step, m["score"]))
    )
    assert seen == list(enumerate(r.history["score"]))
    d = r.to_dict()
    assert d["config"]["steps"] == 4 and d["final"]["kl"] == r.history["kl"][-1]
    assert len(r.samples) == 2 * len(bigram.PROMPTS)
    assert all(set(s["text"].replace(".", " ").split()) <= set(bigram.VOCAB) for s in r.samples)
    assert r.value.shape == (bigram.N_STATES, 6)


def test_two_hundred_updates_take_under_five_seconds():
    start = time.process_time()  # CPU time: robust to other processes on the machine
    rm.train_token_ppo(steps=200, seed=0)
    elapsed = time.process_time() - start
    assert elapsed < 5.0, f"200 updates took {elapsed:.2f} s of CPU"


def test_torch_backend_gives_the_same_history():
    import torch  # the test extra installs it (`make test`): never skip for want of it

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: extra threads only add contention
    try:
        t = rm.train_token_ppo(steps=5, seed=2, backend="torch")
    finally:
        torch.set_num_threads(threads)
    n = rm.train_token_ppo(steps=5, seed=2)
    for key in n.history:
        np.testing.assert_allclose(t.history[key], n.history[key], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(t.theta, n.theta, atol=1e-12)
    assert t.config["backend"] == "torch"


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"beta": -0.1}, ValueError, "beta"),
        ({"beta": "big"}, TypeError, "beta"),
        ({"beta": float("nan")}, ValueError, "beta"),
        ({"clip_eps": 1.5}, ValueError, "clip_eps"),
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lam": 2.0}, ValueError, "lam"),
        ({"batch_size": True}, TypeError, "batch_size"),
        ({"batch_size": 4, "num_minibatches": 8}, ValueError, "num_minibatches"),
        ({"response_length": 0}, ValueError, "response_length"),
        ({"ent_coef": -1.0}, ValueError, "ent_coef"),
        ({"seed": -1}, ValueError, "seed"),
        ({"backend": "jax"}, ValueError, "backend"),
        ({"device": "cuda"}, ValueError, "device"),
        ({"callback": 3}, TypeError, "callback"),
    ],
)
def test_bad_arguments_raise_naming_them(kwargs, error, name):
    with pytest.raises(error, match=name):
        rm.train_token_ppo(**{"steps": 2, **kwargs})
