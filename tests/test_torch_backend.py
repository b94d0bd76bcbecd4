"""The torch backend of the contract functions: the numpy code, run on torch tensors.

Every contract function goes through ``array_api_compat.array_namespace``, so the same
source runs on numpy arrays and on torch tensors (CPU here; CUDA under the ``gpu`` marker,
the ``cuda`` parameters below). Checked here:

- each function accepts tensors and returns tensors of the input's device and dtype;
- numpy vs torch parity in float64 at tight tolerance, for every option (all DPO loss
  types, label smoothing, margins, response masks, 1-d / 2-d GAE), on fixed and on random
  (hypothesis) inputs up to |x| = 1e4;
- every hand-derived gradient equals ``torch.autograd`` applied to the library's own loss
  (autograd flows through the shared implementation), on random inputs including extreme
  values, wherever the function is differentiable;
- float32 runs stay float32 and finite at extreme inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis_profiles import examples

import rlhf_mini as rm

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]
DPO_VARIANTS = [
    ("sigmoid", 0.0),
    ("sigmoid", 0.2),
    ("ipo", 0.0),
    ("hinge", 0.0),
    ("robust", 0.1),
    ("robust", 0.3),
]
HYPOTHESIS = settings(max_examples=examples(25))


def _t(x, device="cpu", dtype=torch.float64, grad=False):
    return torch.tensor(np.asarray(x), dtype=dtype, device=device, requires_grad=grad)


def _np(x):
    return x.detach().cpu().numpy()


def _outputs(out):
    return out if isinstance(out, tuple) else (out,)


# --------------------------------------------------------------------------------------
# Fixed cases: every contract function with every option
# --------------------------------------------------------------------------------------


def _contract_cases():
    """(id, function, positional args, keyword args); arrays are numpy, numbers stay numbers."""
    rng = np.random.default_rng(0)
    n, batch, T = 9, 4, 6
    a, b = rng.normal(scale=3.0, size=n), rng.normal(scale=3.0, size=n)
    margin = np.abs(rng.normal(size=n))
    # summed log-probs of chosen / rejected responses under policy and reference
    pc, pr = -20 + 4 * rng.normal(size=n), -22 + 4 * rng.normal(size=n)
    rc, rr = pc + rng.normal(size=n), pr + rng.normal(size=n)
    # token log-probs near the data-collecting policy: some ratios clipped, some not
    old = np.log(rng.uniform(0.05, 0.9, size=(batch, T)))
    new = old + rng.normal(scale=0.3, size=(batch, T))
    adv = rng.normal(size=(batch, T))
    rewards, values = rng.normal(size=(batch, T)), rng.normal(size=(batch, T))
    scores = rng.normal(size=batch)
    lengths = np.array([1, 3, T, 4])
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float64)

    cases = [
        ("pref", rm.preference_probability, (a, b), {}),
        ("pref-broadcast", rm.preference_probability, (a[:, None], b[None, :]), {}),
        ("pref-number", rm.preference_probability, (a, 0.5), {}),
        ("pref-0d", rm.preference_probability, (np.array(1.5), np.array(-0.5)), {}),
        ("bt", rm.bradley_terry_loss, (a, b), {}),
        ("bt-margin", rm.bradley_terry_loss, (a, b), {"margin": 0.7}),
        ("bt-margins", rm.bradley_terry_loss, (a, b), {"margin": margin}),
        ("bt-grad", rm.bradley_terry_loss_grad, (a, b), {}),
        ("bt-grad-margin", rm.bradley_terry_loss_grad, (a, b), {"margin": 0.7}),
        ("bt-grad-margins", rm.bradley_terry_loss_grad, (a, b), {"margin": margin}),
    ]
    for loss_type, eps in DPO_VARIANTS:
        for beta in (0.1, 2.0):
            kw = {"beta": beta, "loss_type": loss_type, "label_smoothing": eps}
            tag = f"{loss_type}-eps{eps}-beta{beta}"
            cases.append((f"dpo-{tag}", rm.dpo_loss, (pc, pr, rc, rr), kw))
            cases.append((f"dpo-grad-{tag}", rm.dpo_loss_grad, (pc, pr, rc, rr), kw))
    for clip_eps in (0.1, 0.2):
        kw = {"clip_eps": clip_eps}
        cases.append((f"ppo-{clip_eps}", rm.ppo_clip_loss, (new, old, adv), kw))
        cases.append((f"ppo-grad-{clip_eps}", rm.ppo_clip_loss_grad, (new, old, adv), kw))
    cases += [
        ("ppo-0d", rm.ppo_clip_loss, (np.array(0.3), np.array(0.0), np.array(-2.0)), {}),
        ("gae", rm.gae, (rewards, values), {}),
        ("gae-td", rm.gae, (rewards, values), {"gamma": 0.9, "lam": 0.0}),
        ("gae-mc", rm.gae, (rewards, values), {"gamma": 1.0, "lam": 1.0}),
        ("gae-1d", rm.gae, (rewards[0], values[0]), {"gamma": 0.99, "lam": 0.9}),
        ("k1", rm.kl_k1, (new, old), {}),
        ("k2", rm.kl_k2, (new, old), {}),
        ("k3", rm.kl_k3, (new, old), {}),
        ("kl-grad-k1", rm.kl_estimator_grad, (new, old), {"estimator": "k1"}),
        ("kl-grad-k2", rm.kl_estimator_grad, (new, old), {"estimator": "k2"}),
        ("kl-grad-k3", rm.kl_estimator_grad, (new, old), {"estimator": "k3"}),
        ("kl-rewards", rm.kl_penalized_rewards, (scores, new, old, 0.1), {}),
        ("kl-rewards-beta0", rm.kl_penalized_rewards, (scores, new, old, 0.0), {}),
        ("kl-rewards-mask", rm.kl_penalized_rewards, (scores, new, old, 0.05, mask), {}),
    ]
    return cases


CASES = _contract_cases()
CASE_IDS = [c[0] for c in CASES]


def _to_torch(args, kwargs, device, dtype):
    conv = lambda x: _t(x, device, dtype) if isinstance(x, np.ndarray) else x  # noqa: E731
    return tuple(conv(x) for x in args), {k: conv(v) for k, v in kwargs.items()}


def test_cases_cover_every_contract_function():
    covered = {c[1].__name__ for c in CASES}
    contract = {
        "preference_probability",
        "bradley_terry_loss",
        "bradley_terry_loss_grad",
        "dpo_loss",
        "dpo_loss_grad",
        "ppo_clip_loss",
        "ppo_clip_loss_grad",
        "gae",
        "kl_k1",
        "kl_k2",
        "kl_k3",
        "kl_estimator_grad",
        "kl_penalized_rewards",
    }
    assert contract <= covered
    assert {c[3]["loss_type"] for c in CASES if c[1] is rm.dpo_loss} == set(rm.DPO_LOSS_TYPES)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float64_parity_with_numpy_same_device_and_dtype(case, device):
    _, fn, args, kwargs = case
    expected = _outputs(fn(*args, **kwargs))
    t_args, t_kwargs = _to_torch(args, kwargs, device, torch.float64)
    got = _outputs(fn(*t_args, **t_kwargs))
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert isinstance(g, torch.Tensor)
        assert g.device.type == torch.device(device).type
        assert g.dtype == torch.float64
        assert tuple(g.shape) == np.shape(e)
        np.testing.assert_allclose(_np(g), e, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float32_stays_float32_and_close(case, device):
    _, fn, args, kwargs = case
    expected = _outputs(fn(*args, **kwargs))
    t_args, t_kwargs = _to_torch(args, kwargs, device, torch.float32)
    got = _outputs(fn(*t_args, **t_kwargs))
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == torch.float32
        assert g.device.type == torch.device(device).type
        np.testing.assert_allclose(_np(g), e, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_float32_stays_finite_at_extreme_inputs(case, device):
    # The same calls with every input array scaled to magnitude ~1e4 (masks kept 0/1).
    _, fn, args, kwargs = case
    scaled = []
    for i, x in enumerate(args):
        is_mask = fn is rm.kl_penalized_rewards and i == 4
        if isinstance(x, np.ndarray) and not is_mask:
            x = np.asarray(np.sign(x + 1e-3) * 1e4 * (0.1 + np.abs(x) / (1 + np.abs(x))))
        scaled.append(x)
    kwargs = {
        k: (np.full_like(v, 30.0) if k == "margin" and isinstance(v, np.ndarray) else v)
        for k, v in kwargs.items()
    }
    t_args, t_kwargs = _to_torch(tuple(scaled), kwargs, device, torch.float32)
    for g in _outputs(fn(*t_args, **t_kwargs)):
        assert g.dtype == torch.float32
        assert bool(torch.isfinite(g).all()), f"non-finite output: {g}"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_inputs_are_not_modified(case):
    _, fn, args, kwargs = case
    t_args, t_kwargs = _to_torch(args, kwargs, "cpu", torch.float64)
    before = [x.clone() for x in t_args if isinstance(x, torch.Tensor)]
    fn(*t_args, **t_kwargs)
    after = [x for x in t_args if isinstance(x, torch.Tensor)]
    for x, y in zip(before, after, strict=True):
        assert torch.equal(x, y)


def test_int_tensors_are_promoted_to_float64():
    out = rm.kl_k2(torch.tensor([1, 2, 3]), torch.tensor([0, 0, 0]))
    assert out.dtype == torch.float64
    assert out.tolist() == [0.5, 2.0, 4.5]


def test_mixed_float32_float64_promotes_like_numpy():
    x32, x64 = np.array([0.1, -0.2], np.float32), np.array([0.3, 0.4])
    expected = rm.ppo_clip_loss(x32, x64, x64)
    got = rm.ppo_clip_loss(_t(x32, dtype=torch.float32), _t(x64), _t(x64))
    assert expected.dtype == np.float64
    assert got.dtype == torch.float64
    np.testing.assert_allclose(_np(got), expected, rtol=1e-12)


def test_python_number_joins_the_tensor_dtype():
    p = rm.preference_probability(torch.tensor([0.0, 2.0], dtype=torch.float32), 0.0)
    assert p.dtype == torch.float32
    np.testing.assert_allclose(_np(p), [0.5, 1 / (1 + np.exp(-2.0))], rtol=1e-6)


def test_mixing_numpy_and_torch_is_a_clear_type_error():
    x = np.zeros(3)
    with pytest.raises(TypeError, match="logp_new, logp_old, advantages must all be arrays"):
        rm.ppo_clip_loss(_t(x), x, _t(x))
    with pytest.raises(TypeError, match="r_a and r_b"):
        rm.preference_probability(_t(x), x)
    with pytest.raises(TypeError, match="scores must be an array of the same library"):
        rm.kl_penalized_rewards(np.zeros(2), _t(np.zeros((2, 3))), _t(np.zeros((2, 3))), 0.1)
    with pytest.raises(TypeError, match="response_mask must be an array of the same library"):
        rm.kl_penalized_rewards(
            _t(np.zeros(2)), _t(np.zeros((2, 3))), _t(np.zeros((2, 3))), 0.1, np.ones((2, 3))
        )


def test_bad_tensors_raise_like_numpy():
    with pytest.raises(ValueError, match="logp_policy must be finite"):
        rm.kl_k1(torch.tensor([0.0, float("nan")]), torch.tensor([0.0, 0.0]))
    with pytest.raises(ValueError, match="logp_old must have the same shape as logp_new"):
        rm.ppo_clip_loss(torch.zeros(3), torch.zeros(4), torch.zeros(3))
    with pytest.raises(TypeError, match="response_mask must hold real numbers"):
        rm.kl_penalized_rewards(
            torch.zeros(1), torch.zeros(1, 2), torch.zeros(1, 2), 0.1, torch.ones(1, 2).bool()
        )
    with pytest.raises(ValueError, match="policy_chosen_logps must not be empty"):
        rm.dpo_loss(*(torch.zeros(0),) * 4)


def test_scalar_arguments_may_be_0d_tensors():
    # e.g. a KL measured on the GPU, handed straight to the controller
    ctl_t, ctl_f = (rm.AdaptiveKLController(0.1, 6.0, 10_000) for _ in range(2))
    ctl_t.update(torch.tensor(9.0, dtype=torch.float64), torch.tensor(256))
    ctl_f.update(9.0, 256)
    assert ctl_t.value == ctl_f.value
    x = torch.zeros(2, dtype=torch.float64)
    losses, _, _ = rm.dpo_loss(x, x, x, x, beta=torch.tensor(0.5))
    np.testing.assert_allclose(_np(losses), np.log(2.0), rtol=1e-12)
    with pytest.raises(TypeError, match="beta must be a real number"):
        rm.dpo_loss(x, x, x, x, beta=torch.tensor([0.5]))


@pytest.mark.parametrize("device", DEVICES)
def test_fit_bradley_terry_accepts_tensor_comparisons(device):
    comparisons = np.array([[0, 1], [1, 2], [2, 0], [0, 2], [0, 1], [1, 0]])
    expected = rm.fit_bradley_terry(comparisons, 3)
    got = rm.fit_bradley_terry(torch.tensor(comparisons, device=device), 3)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# Random inputs (hypothesis): parity up to |x| = 1e4
# --------------------------------------------------------------------------------------


def _vectors(k, lo, hi, max_n=8):
    """k float64 arrays of one random length with elements in [lo, hi]."""
    elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.integers(1, max_n).flatmap(
        lambda n: st.tuples(*(arrays(np.float64, n, elements=elements) for _ in range(k)))
    )


BIG = 1e4
#: Log-ratios up to this size give representable exp(log r) |A| in float64 for |A| <= BIG
#: (exp(600) 1e4 ~ 4e264): neither loss saturates there, so autograd and the formulas agree.
UNSATURATED = 600.0


@pytest.mark.parametrize("device", DEVICES)
@HYPOTHESIS
@given(xs=_vectors(4, -BIG, BIG), beta=st.floats(1e-3, 10.0))
def test_dpo_parity_random(device, xs, beta):
    for loss_type, eps in DPO_VARIANTS:
        kw = {"beta": beta, "loss_type": loss_type, "label_smoothing": eps}
        for fn in (rm.dpo_loss, rm.dpo_loss_grad):
            expected = fn(*xs, **kw)
            got = fn(*(_t(x, device) for x in xs), **kw)
            for g, e in zip(got, expected, strict=True):
                np.testing.assert_allclose(_np(g), e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@HYPOTHESIS
@given(xs=_vectors(3, -BIG, BIG), clip_eps=st.floats(0.01, 0.99))
def test_ppo_parity_random(device, xs, clip_eps):
    for fn in (rm.ppo_clip_loss, rm.ppo_clip_loss_grad):
        expected = fn(*xs, clip_eps=clip_eps)
        got = fn(*(_t(x, device) for x in xs), clip_eps=clip_eps)
        np.testing.assert_allclose(_np(got), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@HYPOTHESIS
@given(xs=_vectors(3, -BIG, BIG))
def test_bradley_terry_and_kl_parity_random(device, xs):
    a, b, m = xs
    t = [_t(x, device) for x in xs]
    pairs = [
        (rm.preference_probability(a, b), rm.preference_probability(t[0], t[1])),
        (rm.bradley_terry_loss(a, b, m), rm.bradley_terry_loss(t[0], t[1], t[2])),
        *zip(rm.bradley_terry_loss_grad(a, b, m), rm.bradley_terry_loss_grad(*t), strict=True),
        (rm.kl_k1(a, b), rm.kl_k1(t[0], t[1])),
        (rm.kl_k2(a, b), rm.kl_k2(t[0], t[1])),
        (rm.kl_k3(a, b), rm.kl_k3(t[0], t[1])),
        *(
            (rm.kl_estimator_grad(a, b, k), rm.kl_estimator_grad(t[0], t[1], k))
            for k in rm.KL_ESTIMATORS
        ),
    ]
    for e, g in pairs:
        np.testing.assert_allclose(_np(g), e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@HYPOTHESIS
@given(
    shape=st.tuples(st.integers(1, 4), st.integers(1, 7)),
    data=st.data(),
    gamma=st.floats(0.0, 1.0),
    lam=st.floats(0.0, 1.0),
    beta=st.floats(0.0, 1.0),
)
def test_gae_and_kl_penalized_rewards_parity_random(device, shape, data, gamma, lam, beta):
    el = st.floats(-BIG, BIG, allow_nan=False, allow_infinity=False)
    r, v, lp, lr = (data.draw(arrays(np.float64, shape, elements=el)) for _ in range(4))
    scores = data.draw(arrays(np.float64, shape[0], elements=el))
    lengths = data.draw(arrays(np.int64, shape[0], elements=st.integers(1, shape[1])))
    mask = (np.arange(shape[1])[None, :] < lengths[:, None]).astype(np.float64)
    for e, g in zip(
        rm.gae(r, v, gamma, lam), rm.gae(_t(r, device), _t(v, device), gamma, lam), strict=True
    ):
        np.testing.assert_allclose(_np(g), e, rtol=1e-12, atol=1e-12 * BIG)
    for m in (None, mask):
        e = rm.kl_penalized_rewards(scores, lp, lr, beta, m)
        g = rm.kl_penalized_rewards(
            _t(scores, device),
            _t(lp, device),
            _t(lr, device),
            beta,
            None if m is None else _t(m, device),
        )
        np.testing.assert_allclose(_np(g), e, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# Explicit gradients == torch.autograd through the library's own loss
# --------------------------------------------------------------------------------------


def _assert_grad_close(explicit, autograd, keep=None):
    e, a = _np(explicit), _np(autograd)
    if keep is not None:  # drop the measure-zero set where the loss has a kink
        e, a = e[keep], a[keep]
    np.testing.assert_allclose(e, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@HYPOTHESIS
@given(xs=_vectors(2, -BIG, BIG), margin=st.one_of(st.floats(-10, 10), st.just("array")))
def test_bradley_terry_grad_equals_autograd(device, xs, margin):
    if margin == "array":
        margin = _t(np.linspace(-3.0, 3.0, xs[0].size), device)
    r_c, r_r = (_t(x, device, grad=True) for x in xs)
    rm.bradley_terry_loss(r_c, r_r, margin).backward()
    g_c, g_r = rm.bradley_terry_loss_grad(r_c.detach(), r_r.detach(), margin)
    _assert_grad_close(g_c, r_c.grad)
    _assert_grad_close(g_r, r_r.grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("loss_type", "eps"), DPO_VARIANTS)
@HYPOTHESIS
@given(xs=_vectors(4, -BIG, BIG), beta=st.floats(1e-3, 10.0))
def test_dpo_grad_equals_autograd(device, loss_type, eps, xs, beta):
    pc, pr = _t(xs[0], device, grad=True), _t(xs[1], device, grad=True)
    rc, rr = _t(xs[2], device), _t(xs[3], device)
    kw = {"beta": beta, "loss_type": loss_type, "label_smoothing": eps}
    losses, _, _ = rm.dpo_loss(pc, pr, rc, rr, **kw)
    losses.sum().backward()  # loss i depends on example i only: per-example gradients
    g_c, g_r = rm.dpo_loss_grad(pc.detach(), pr.detach(), rc, rr, **kw)
    keep = None
    if loss_type == "hinge":  # kink at beta h = 1
        h = (xs[0] - xs[2]) - (xs[1] - xs[3])
        keep = np.abs(1 - beta * h) > 1e-9 * (1 + np.abs(beta * h))
    _assert_grad_close(g_c, pc.grad, keep)
    _assert_grad_close(g_r, pr.grad, keep)


@pytest.mark.parametrize("device", DEVICES)
@HYPOTHESIS
@given(
    xs=_vectors(3, -BIG, BIG),
    log_ratio=st.floats(-UNSATURATED, UNSATURATED),
    clip_eps=st.floats(0.01, 0.99),
)
def test_ppo_grad_equals_autograd(device, xs, log_ratio, clip_eps):
    # logp_old and advantages anywhere in [-1e4, 1e4]; log-ratios spread over the range
    # where r |A| is representable in float64 (not saturated), |log r| <= UNSATURATED.
    old, spread, adv = xs
    log_r = np.clip(log_ratio + spread / BIG * 5.0, -UNSATURATED, UNSATURATED)
    new = old + log_r
    new_t = _t(new, device, grad=True)
    old_t, adv_t = _t(old, device), _t(adv, device)
    rm.ppo_clip_loss(new_t, old_t, adv_t, clip_eps).sum().backward()
    explicit = rm.ppo_clip_loss_grad(new_t.detach(), old_t, adv_t, clip_eps)
    r = np.exp(new - old)
    keep = (np.abs(r - (1 - clip_eps)) > 1e-9) & (np.abs(r - (1 + clip_eps)) > 1e-9)
    _assert_grad_close(explicit, new_t.grad, keep)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("estimator", rm.KL_ESTIMATORS)
@HYPOTHESIS
@given(xs=_vectors(2, -BIG, BIG))
def test_kl_estimator_grad_equals_autograd(device, estimator, xs):
    policy, ref = xs
    if estimator == "k3":  # k3 saturates log r = ref - policy only where expm1 overflows
        ref = np.minimum(ref, policy + UNSATURATED)
    p_t, r_t = _t(policy, device, grad=True), _t(ref, device)
    getattr(rm, f"kl_{estimator}")(p_t, r_t).sum().backward()
    explicit = rm.kl_estimator_grad(p_t.detach(), r_t, estimator)
    _assert_grad_close(explicit, p_t.grad)


@pytest.mark.parametrize("device", DEVICES)
@HYPOTHESIS
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 30.0), l2=st.floats(0.0, 1.0))
def test_reward_model_grads_equal_autograd(device, seed, scale, l2):
    """The linear and the MLP reward model's explicit gradients, including saturated tanh."""
    from rlhf_mini.reward_model import mlp_reward_model_loss, reward_model_loss

    rng = np.random.default_rng(seed)
    phi_c, phi_r = (_t(rng.random((9, 5)), device) for _ in range(2))
    w = _t(rng.normal(size=5) * scale, device, grad=True)
    loss, grad = reward_model_loss(w, phi_c, phi_r, l2)
    loss.backward()
    _assert_grad_close(grad.detach(), w.grad)
    params = [_t(rng.normal(size=shape) * scale, device, grad=True) for shape in ((4, 5), 4, 4)]
    loss, grads = mlp_reward_model_loss(*params, phi_c, phi_r, l2)
    loss.backward()
    for explicit, param in zip(grads, params, strict=True):
        _assert_grad_close(explicit.detach(), param.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_at_named_extremes(device):
    """Hand-picked extreme points: saturated sigmoids, huge ratios, tiny ratios."""
    big = np.array([-1e4, -1e3, 0.0, 1e3, 1e4])
    zeros = np.zeros_like(big)
    # Bradley-Terry: scores of magnitude 1e4 on both sides
    r_c, r_r = _t(big, device, grad=True), _t(big[::-1].copy(), device, grad=True)
    rm.bradley_terry_loss(r_c, r_r).backward()
    g_c, g_r = rm.bradley_terry_loss_grad(r_c.detach(), r_r.detach())
    _assert_grad_close(g_c, r_c.grad)
    _assert_grad_close(g_r, r_r.grad)
    np.testing.assert_allclose(_np(g_c), [-0.2, -0.2, -0.1, 0.0, 0.0], atol=1e-300)
    # DPO sigmoid with beta h = +-1e3: gradient is exactly -beta or 0 in float64
    pc = _t(big, device, grad=True)
    z = _t(zeros, device)
    losses, _, _ = rm.dpo_loss(pc, z, z, z, beta=1.0)
    losses.sum().backward()
    g_c, _ = rm.dpo_loss_grad(pc.detach(), z, z, z, beta=1.0)
    _assert_grad_close(g_c, pc.grad)
    np.testing.assert_allclose(_np(g_c), [-1.0, -1.0, -0.5, 0.0, 0.0], atol=1e-300)
    # PPO: log-ratios of +-49 with advantages of +-1e4
    new = _t([49.0, -49.0, 49.0, -49.0], device, grad=True)
    old = _t(np.zeros(4), device)
    adv = _t([1e4, 1e4, -1e4, -1e4], device)
    rm.ppo_clip_loss(new, old, adv).sum().backward()
    explicit = rm.ppo_clip_loss_grad(new.detach(), old, adv)
    _assert_grad_close(explicit, new.grad)
    np.testing.assert_allclose(_np(explicit), [0.0, -np.exp(-49) * 1e4, np.exp(49) * 1e4, 0.0])


@pytest.mark.parametrize("device", DEVICES)
def test_saturated_log_ratios_give_finite_gradients(device):
    """Where exp would overflow the losses are flat by construction (autograd: 0);
    the explicit gradients stay finite there (the unsaturated formula at the saturation
    point), in float64 and float32."""
    for dtype in (torch.float64, torch.float32):
        new = _t([1e4, -1e4, 1e4, -1e4], device, dtype)
        old = _t(np.zeros(4), device, dtype)
        adv = _t([1e4, 1e4, -1e4, -1e4], device, dtype)
        g = rm.ppo_clip_loss_grad(new, old, adv)
        assert bool(torch.isfinite(g).all())
        assert bool(torch.isfinite(rm.ppo_clip_loss(new, old, adv)).all())
        k3g = rm.kl_estimator_grad(old, new, "k3")
        assert bool(torch.isfinite(k3g).all())
        assert bool(torch.isfinite(rm.kl_k3(old, new)).all())
