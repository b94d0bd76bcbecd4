"""CUDA-only checks (every test here carries the ``gpu`` marker; skipped without CUDA).

The per-function and per-trainer CUDA checks are the ``cuda`` parameters of
tests/test_torch_backend.py and tests/test_torch_trainers.py (also marked ``gpu``); this
file adds what only exists with a GPU: CUDA backends, device mix-ups, and large batches
(n = 1e6) checked against numpy. ``make gpu-check`` runs all of them (``pytest -m gpu``).
"""

from __future__ import annotations

import numpy as np
import pytest

import rlhf_mini as rm
from rlhf_mini.core.backend import resolve_backend, to_numpy

pytestmark = pytest.mark.gpu

N_LARGE = 1_000_000


def _cuda(x, dtype=None):
    import torch

    return torch.tensor(np.asarray(x), dtype=dtype or torch.float64, device="cuda")


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_resolve_backend_cuda(device):
    import torch

    b = resolve_backend("torch", device=device, dtype="float32")
    assert b.device.type == "cuda"
    x = b.asarray(np.arange(4))
    assert x.device.type == "cuda"
    assert x.dtype == torch.float32
    assert b.zeros((3,)).device.type == "cuda"
    np.testing.assert_array_equal(to_numpy(x), [0.0, 1.0, 2.0, 3.0])


def test_tensors_on_different_devices_raise_value_error_naming_the_argument():
    gpu, cpu = _cuda(np.zeros(3)), _cuda(np.zeros(3)).cpu()
    with pytest.raises(ValueError, match="logp_old must be on the same device as logp_new"):
        rm.ppo_clip_loss(gpu, cpu, gpu)
    with pytest.raises(ValueError, match="reference_chosen_logps must be on the same device"):
        rm.dpo_loss(gpu, gpu, cpu, gpu)


def _large_inputs(seed=0):
    rng = np.random.default_rng(seed)
    n = N_LARGE
    return {
        "dpo": (
            -20 + 4 * rng.standard_normal(n),
            -22 + 4 * rng.standard_normal(n),
            -20 + 4 * rng.standard_normal(n),
            -22 + 4 * rng.standard_normal(n),
        ),
        "ppo": (0.3 * rng.standard_normal(n), np.zeros(n), rng.standard_normal(n)),
        "gae": (rng.standard_normal((n // 100, 100)), rng.standard_normal((n // 100, 100))),
    }


def test_large_batches_match_numpy_on_cuda():
    data = _large_inputs()
    calls = [
        (rm.dpo_loss, data["dpo"], {"beta": 0.1}),
        (
            rm.dpo_loss_grad,
            data["dpo"],
            {"beta": 0.1, "loss_type": "robust", "label_smoothing": 0.1},
        ),
        (rm.ppo_clip_loss, data["ppo"], {}),
        (rm.ppo_clip_loss_grad, data["ppo"], {}),
        (rm.gae, data["gae"], {"gamma": 0.99, "lam": 0.95}),
        (rm.kl_k3, data["ppo"][:2], {}),
    ]
    for fn, args, kw in calls:
        expected = fn(*args, **kw)
        got = fn(*(_cuda(a) for a in args), **kw)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = got if isinstance(got, tuple) else (got,)
        for g, e in zip(got, expected, strict=True):
            assert g.device.type == "cuda", fn.__name__
            np.testing.assert_allclose(to_numpy(g), e, rtol=1e-12, atol=1e-12, err_msg=fn.__name__)


def test_large_float32_batches_stay_finite_on_cuda():
    import torch

    rng = np.random.default_rng(1)
    x = [_cuda(1e4 * rng.uniform(-1, 1, N_LARGE), torch.float32) for _ in range(4)]
    for out in (
        *rm.dpo_loss(*x, beta=1.0),
        *rm.dpo_loss_grad(*x, beta=1.0),
        rm.ppo_clip_loss(*x[:3]),
        rm.ppo_clip_loss_grad(*x[:3]),
        rm.kl_k3(x[0], x[1]),
        rm.kl_estimator_grad(x[0], x[1], "k3"),
        rm.bradley_terry_loss(x[0], x[1]),
    ):
        assert out.dtype == torch.float32
        assert bool(torch.isfinite(out).all())


def test_autograd_on_cuda_matches_explicit_gradients_at_scale():
    import torch

    pc, pr, rc, rr = _large_inputs()["dpo"]
    pc_t = _cuda(pc).requires_grad_(True)
    pr_t = _cuda(pr).requires_grad_(True)
    losses, _, _ = rm.dpo_loss(pc_t, pr_t, _cuda(rc), _cuda(rr), beta=0.5)
    losses.sum().backward()
    g_c, g_r = rm.dpo_loss_grad(pc_t.detach(), pr_t.detach(), _cuda(rc), _cuda(rr), beta=0.5)
    assert g_c.device.type == "cuda"
    torch.testing.assert_close(g_c, pc_t.grad, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(g_r, pr_t.grad, rtol=1e-9, atol=1e-12)


def test_language_model_ppo_and_dpo_run_on_cuda_as_on_numpy():
    """LMPPORun and LMDPORun on CUDA (float64): the same histories as numpy's."""
    options = {"batch_size": 4, "max_new_tokens": 8, "dtype": "float64", "seed": 3}
    a = rm.train_lm_ppo(steps=2, **options)
    b = rm.train_lm_ppo(steps=2, backend="torch", device="cuda", **options)
    for key in a.history:
        np.testing.assert_allclose(a.history[key], b.history[key], rtol=1e-6, atol=1e-8)
    pairs = rm.TextComparisons(
        ["capital-australia"] * 4,
        ["Tell me the capital of Australia."] * 4,
        ["It's Canberra.", "Canberra.", "Canberra, of course.", "It's Canberra."],
        ["Sydney.", "Definitely Sydney.", "Sydney.", "Melbourne."],
    )
    dpo = {"steps": 2, "batch_size": 2, "eval_every": 2, "eval_size": 2, "max_new_tokens": 8}
    c = rm.train_lm_dpo(pairs, dtype="float64", **dpo)
    d = rm.train_lm_dpo(pairs, dtype="float64", backend="torch", device="cuda", **dpo)
    for key in c.history:
        np.testing.assert_allclose(c.history[key], d.history[key], rtol=1e-6, atol=1e-8)
