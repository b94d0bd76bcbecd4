"""The tiny transformer: forward against an independent torch GPT-2, every gradient against
torch autograd and finite differences, numpy/torch parity, KV cache, sampling, bad input."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from rlhf_mini.models import transformer as tr


def random_params(cfg, seed, heads=("value", "reward"), scale=0.3):
    """GPT-2 init plus noise on everything (LN gains, biases, heads), so no gradient is
    trivially zero."""
    rng = np.random.default_rng(seed)
    p = tr.init_params(cfg, seed, heads=heads)
    return {k: v + rng.normal(0.0, scale, v.shape) for k, v in p.items()}


def left_padded_mask(B, T, rng):
    mask = np.ones((B, T), dtype=int)
    for b in range(B):
        mask[b, : rng.integers(0, T // 2 + 1)] = 0
    return mask


def reference_forward(cfg, pt, tokens, mask):
    """GPT-2 written independently with torch.nn.functional (as Hugging Face's GPT2Model:
    position ids counted over the mask, padding keys masked out)."""
    tok = torch.as_tensor(tokens)
    m = torch.as_tensor(mask).bool()
    B, T = tok.shape
    d, H = cfg.n_embd, cfg.n_head
    pos = (m.long().cumsum(1) - 1).clamp(min=0)
    x = pt["wte.weight"][tok] + pt["wpe.weight"][pos]
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    allowed = causal[None] & (m[:, None, :] | torch.eye(T, dtype=torch.bool)[None])
    for i in range(cfg.n_layer):

        def w(name, i=i):
            return pt[f"h.{i}.{name}"]

        a = F.layer_norm(x, (d,), w("ln_1.weight"), w("ln_1.bias"), cfg.layer_norm_epsilon)
        q, k, v = (a @ w("attn.c_attn.weight") + w("attn.c_attn.bias")).split(d, dim=2)

        def heads(t):
            return t.view(B, T, H, d // H).transpose(1, 2)

        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), attn_mask=allowed[:, None])
        x = x + y.transpose(1, 2).reshape(B, T, d) @ w("attn.c_proj.weight") + w("attn.c_proj.bias")
        m2 = F.layer_norm(x, (d,), w("ln_2.weight"), w("ln_2.bias"), cfg.layer_norm_epsilon)
        f = F.gelu(m2 @ w("mlp.c_fc.weight") + w("mlp.c_fc.bias"), approximate="tanh")
        x = x + f @ w("mlp.c_proj.weight") + w("mlp.c_proj.bias")
    h = F.layer_norm(x, (d,), pt["ln_f.weight"], pt["ln_f.bias"], cfg.layer_norm_epsilon)
    logits = h @ pt["wte.weight"].T
    values = (h @ pt["value_head.weight"] + pt["value_head.bias"])[..., 0]
    rewards = (h @ pt["reward_head.weight"] + pt["reward_head.bias"])[..., 0]
    return logits, values, rewards


shapes = st.tuples(
    st.integers(1, 3),  # B
    st.integers(1, 6),  # T
    st.sampled_from([(4, 1), (8, 2), (12, 3)]),  # (d, H)
    st.integers(1, 2),  # layers
    st.integers(2, 9),  # V
    st.integers(0, 10_000),  # seed
    st.booleans(),  # left padding
)


@settings(max_examples=25, deadline=None)
@given(shapes)
@example((2, 5, (8, 2), 2, 7, 0, True))
@example((1, 1, (4, 1), 1, 2, 3, False))
def test_forward_and_every_gradient_match_torch(shape):
    B, T, (d, H), L, V, seed, padded = shape
    cfg = tr.GPTConfig(vocab_size=V, n_positions=T + 2, n_embd=d, n_layer=L, n_head=H)
    rng = np.random.default_rng(seed)
    p = random_params(cfg, seed)
    tokens = rng.integers(0, V, size=(B, T))
    mask = left_padded_mask(B, T, rng) if padded else np.ones((B, T), dtype=int)
    pt = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    ref_logits, ref_values, ref_rewards = reference_forward(cfg, pt, tokens, mask)
    out = tr.forward(p, cfg, tokens, mask)
    real = mask.astype(bool)  # outputs at padding positions are never used
    np.testing.assert_allclose(
        out.logits[real], ref_logits.detach().numpy()[real], rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        out.values[real], ref_values.detach().numpy()[real], rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        out.rewards[real], ref_rewards.detach().numpy()[real], rtol=1e-10, atol=1e-12
    )

    g_logits = rng.normal(size=(B, T, V)) * real[..., None]
    g_values = rng.normal(size=(B, T)) * real
    g_rewards = rng.normal(size=(B, T)) * real
    loss = (
        (ref_logits * torch.tensor(g_logits)).sum()
        + (ref_values * torch.tensor(g_values)).sum()
        + (ref_rewards * torch.tensor(g_rewards)).sum()
    )
    auto = dict(zip(pt, torch.autograd.grad(loss, list(pt.values())), strict=True))
    mine = tr.backward(p, cfg, out.cache, g_logits, g_values, g_rewards)
    assert set(mine) == set(p)
    for name, g in mine.items():
        np.testing.assert_allclose(g, auto[name].numpy(), rtol=1e-8, atol=1e-11, err_msg=name)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10_000))
@example(0)
def test_gradients_match_finite_differences(seed):
    cfg = tr.GPTConfig(vocab_size=6, n_positions=5, n_embd=8, n_layer=2, n_head=2)
    rng = np.random.default_rng(seed)
    p = random_params(cfg, seed)
    tokens = rng.integers(0, 6, size=(2, 4))
    mask = np.array([[0, 1, 1, 1], [1, 1, 1, 1]])
    g_logits, g_values, g_rewards = (rng.normal(size=s) for s in ((2, 4, 6), (2, 4), (2, 4)))
    g_logits[0, 0] = g_values[0, 0] = g_rewards[0, 0] = 0.0  # the padding position

    def loss(params):
        out = tr.forward(params, cfg, tokens, mask)
        return (
            np.sum(out.logits * g_logits)
            + np.sum(out.values * g_values)
            + np.sum(out.rewards * g_rewards)
        )

    grads = tr.backward(
        p, cfg, tr.forward(p, cfg, tokens, mask).cache, g_logits, g_values, g_rewards
    )
    eps = 1e-6
    for name, value in p.items():
        for idx in {tuple(rng.integers(0, n) for n in value.shape) for _ in range(3)}:
            plus, minus = dict(p), dict(p)
            plus[name], minus[name] = value.copy(), value.copy()
            plus[name][idx] += eps
            minus[name][idx] -= eps
            fd = (loss(plus) - loss(minus)) / (2 * eps)
            assert grads[name][idx] == pytest.approx(fd, rel=1e-5, abs=1e-7), (name, idx)


def test_logits_from_a_position_give_the_same_logits_and_gradients():
    """forward(logits_from=k) computes the logits of positions k.. only; backward with their
    gradient equals the full backward with zero gradient on positions before k."""
    cfg = tr.GPTConfig(vocab_size=11, n_positions=16, n_embd=8, n_layer=2, n_head=2)
    params = random_params(cfg, 4)
    rng = np.random.default_rng(5)
    tokens = rng.integers(0, 11, size=(3, 7))
    mask = left_padded_mask(3, 7, rng)
    full = tr.forward(params, cfg, tokens, mask)
    part = tr.forward(params, cfg, tokens, mask, logits_from=3)
    np.testing.assert_allclose(part.logits, full.logits[:, 3:], rtol=1e-12)
    dlogits = rng.normal(size=(3, 4, 11))
    dvalues = rng.normal(size=(3, 7))
    padded = np.concatenate([np.zeros((3, 3, 11)), dlogits], axis=1)
    g_full = tr.backward(params, cfg, full.cache, padded, dvalues=dvalues)
    g_part = tr.backward(params, cfg, part.cache, dlogits, dvalues=dvalues)
    for name in params:
        np.testing.assert_allclose(g_part[name], g_full[name], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="dlogits must have shape"):
        tr.backward(params, cfg, part.cache, padded)
    with pytest.raises(ValueError, match="logits_from"):
        tr.forward(params, cfg, tokens, logits_from=7)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_logits_mask_computes_those_logits_and_their_gradients_only(backend):
    """forward(logits_mask=m) gives the logits where m is 1 and 0 elsewhere; backward then
    equals the full backward with dlogits zeroed outside m (what it ignores there)."""
    cfg = tr.GPTConfig(vocab_size=11, n_positions=16, n_embd=8, n_layer=2, n_head=2)
    params = random_params(cfg, 6)
    rng = np.random.default_rng(7)
    tokens = rng.integers(0, 11, size=(3, 7))
    mask = left_padded_mask(3, 7, rng)
    keep = rng.integers(0, 2, size=(3, 5))
    keep[0] = 0  # a row without any logits
    dlogits = rng.normal(size=(3, 5, 11))
    dvalues = rng.normal(size=(3, 7))
    full = tr.forward(params, cfg, tokens, mask, logits_from=2)
    g_full = tr.backward(params, cfg, full.cache, dlogits * keep[:, :, None], dvalues=dvalues)
    p = params if backend == "numpy" else {k: torch.tensor(v) for k, v in params.items()}
    part = tr.forward(p, cfg, tokens, mask, logits_from=2, logits_mask=keep)
    g_part = tr.backward(p, cfg, part.cache, _like(p, dlogits), dvalues=_like(p, dvalues))
    np.testing.assert_allclose(_np(part.logits), full.logits * keep[:, :, None], rtol=1e-12)
    for name in params:
        np.testing.assert_allclose(_np(g_part[name]), g_full[name], rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="logits_mask must have shape"):
        tr.forward(params, cfg, tokens, mask, logits_from=2, logits_mask=keep[:, 1:])
    with pytest.raises(ValueError, match="logits_mask must hold only 0 and 1"):
        tr.forward(params, cfg, tokens, mask, logits_from=2, logits_mask=2 * keep)


def _like(params, x):
    return x if isinstance(params["wte.weight"], np.ndarray) else torch.tensor(x)


def _np(x):
    return x if isinstance(x, np.ndarray) else x.numpy()


def test_the_browsers_tanh_is_tanh(monkeypatch):
    """In Pyodide GELU's tanh is computed from exp (faster there): the same function."""
    z = np.concatenate([np.linspace(-30, 30, 2001), [0.0, 1e-9, -1e-9]])
    monkeypatch.setattr(tr, "_EINSUM_MATMUL", True)
    for dtype, tol in ((np.float64, 1e-15), (np.float32, 2e-7)):
        np.testing.assert_allclose(tr._tanh(np, z.astype(dtype)), np.tanh(z), atol=tol, rtol=0)


def test_the_browsers_matmul_is_matmul(monkeypatch, rng):
    """In Pyodide the products go through einsum, by one of two loops chosen from the shapes
    (a narrow output through b^T): both give a @ b, for row- and column-major operands."""
    monkeypatch.setattr(tr, "_EINSUM_MATMUL", True)
    for i, k in ((4, 12), (12, 4), (130, 3), (5, 1), (6, 6), (3, 70)):
        w = rng.normal(size=(i, k))
        a = rng.normal(size=(2, 5, i))
        for b in (w, np.asfortranarray(w), np.asfortranarray(w.T).T[:, :]):
            for x in (a, a.reshape(-1, i), np.asfortranarray(a.reshape(-1, i))):
                got = tr.matmul(x, b)
                assert got.shape == (*x.shape[:-1], k)
                np.testing.assert_allclose(got, x @ b, rtol=1e-12, atol=1e-12)


def test_the_browsers_code_path_gives_the_same_model(monkeypatch, rng):
    """Forward and backward with Pyodide's formulations (einsum products, tanh from exp)
    equal the ones used elsewhere."""
    cfg, p = small_model(seed=5)
    tokens = rng.integers(0, 7, size=(3, 6))
    mask = left_padded_mask(3, 6, rng)

    def run():
        out = tr.forward(p, cfg, tokens, mask)
        _, dl = tr.next_token_loss(out.logits, tokens, mask)
        return out.logits, tr.backward(p, cfg, out.cache, dl)

    logits, grads = run()
    monkeypatch.setattr(tr, "_EINSUM_MATMUL", True)
    logits_b, grads_b = run()
    np.testing.assert_allclose(logits_b, logits, rtol=1e-12, atol=1e-14)
    for k in grads:
        np.testing.assert_allclose(grads_b[k], grads[k], rtol=1e-10, atol=1e-14, err_msg=k)


def test_heads_without_gradients_get_zero_and_unknown_heads_are_refused():
    cfg = tr.GPTConfig(vocab_size=5, n_positions=4, n_embd=4, n_layer=1, n_head=1)
    p = random_params(cfg, 0, heads=("value",))
    out = tr.forward(p, cfg, np.array([[1, 2, 3]]))
    assert out.rewards is None and out.values.shape == (1, 3)
    g = tr.backward(p, cfg, out.cache, dlogits=np.ones((1, 3, 5)))
    assert np.all(g["value_head.weight"] == 0) and np.all(g["value_head.bias"] == 0)
    with pytest.raises(ValueError, match="drewards given, but params has no reward_head"):
        tr.backward(p, cfg, out.cache, drewards=np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"dlogits must have shape \(1, 3, 5\)"):
        tr.backward(p, cfg, out.cache, dlogits=np.ones((1, 3, 4)))


def test_log_prob_loss_and_entropy_gradients_match_autograd(rng):
    logits = rng.normal(size=(2, 4, 5))
    tokens = rng.integers(0, 5, size=(2, 4))
    mask = np.array([[0, 1, 1, 1], [0, 0, 1, 1]])
    lt = torch.tensor(logits, requires_grad=True)
    lp_t = torch.log_softmax(lt[:, :-1], -1).gather(-1, torch.as_tensor(tokens)[:, 1:, None])[
        ..., 0
    ]
    np.testing.assert_allclose(
        tr.token_log_probs(logits, tokens), lp_t.detach().numpy(), rtol=1e-12
    )

    w = rng.normal(size=(2, 3))
    (g,) = torch.autograd.grad((lp_t * torch.tensor(w)).sum(), lt, retain_graph=True)
    np.testing.assert_allclose(
        tr.token_log_probs_grad(logits, tokens, w), g.numpy(), rtol=1e-10, atol=1e-14
    )

    loss, dlogits = tr.next_token_loss(logits, tokens, mask)
    m = torch.tensor(mask[:, 1:], dtype=torch.float64)
    loss_t = -(lp_t * m).sum() / m.sum()
    (g,) = torch.autograd.grad(loss_t, lt)
    assert float(loss) == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, g.numpy(), rtol=1e-10, atol=1e-14)

    h_t = -(torch.softmax(lt, -1) * torch.log_softmax(lt, -1)).sum(-1)
    np.testing.assert_allclose(tr.entropy(logits), h_t.detach().numpy(), rtol=1e-12)
    w = rng.normal(size=(2, 4))
    (g,) = torch.autograd.grad((h_t * torch.tensor(w)).sum(), lt, retain_graph=True)
    np.testing.assert_allclose(tr.entropy_grad(logits, w), g.numpy(), rtol=1e-10, atol=1e-14)


def test_sequence_log_probs_sum_and_mean():
    lp = np.log(np.array([[0.5, 0.25, 0.5, 0.1], [0.2, 0.5, 0.5, 0.5]]))
    mask = np.array([[0, 0, 1, 1, 0], [0, 1, 1, 1, 1]])  # (B, T): first column is BOS
    np.testing.assert_allclose(tr.sequence_log_probs(lp, mask), [np.log(0.125), np.log(0.025)])
    np.testing.assert_allclose(
        tr.sequence_log_probs(lp, mask, "mean"), [np.log(0.125) / 2, np.log(0.025) / 4]
    )
    with pytest.raises(ValueError, match="reduce must be"):
        tr.sequence_log_probs(lp, mask, "max")
    with pytest.raises(ValueError, match="response_mask must have shape"):
        tr.sequence_log_probs(lp, mask[:, 1:])


def small_model(seed=0, V=7):
    cfg = tr.GPTConfig(vocab_size=V, n_positions=12, n_embd=8, n_layer=2, n_head=2)
    return cfg, random_params(cfg, seed, scale=0.5)


def test_kv_cache_decoding_equals_the_full_forward(rng):
    cfg, p = small_model()
    tokens = rng.integers(0, 7, size=(3, 9))
    mask = left_padded_mask(3, 9, rng)
    full = tr.forward(p, cfg, tokens, mask).logits
    kv = tr.KVCache.empty(p, cfg, 3, 9)
    parts = [tr.forward(p, cfg, tokens[:, :4], mask[:, :4], kv_cache=kv).logits]
    for t in range(4, 9):
        parts.append(
            tr.forward(p, cfg, tokens[:, t : t + 1], mask[:, t : t + 1], kv_cache=kv).logits
        )
    inc = np.concatenate(parts, axis=1)
    real = mask.astype(bool)
    np.testing.assert_allclose(inc[real], full[real], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="kv_cache forward"):
        tr.backward(
            p, cfg, tr.forward(p, cfg, tokens[:, :1], kv_cache=tr.KVCache.empty(p, cfg, 3, 2)).cache
        )


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_outputs_only_at_one_column_per_row_are_the_full_forwards(backend, rng):
    """forward(only_at=cols) runs the last block at one column per row (a reward model's
    last token): its hidden states, values and rewards are the full forward's there."""
    cfg, p = small_model(seed=4)
    p = {**p, **{k: v for k, v in random_params(cfg, 6).items() if "head" in k}}
    params = p if backend == "numpy" else {k: torch.tensor(v) for k, v in p.items()}
    tokens = rng.integers(0, 7, size=(4, 6))
    mask = left_padded_mask(4, 6, rng)
    cols = np.array([5, 2, 4, 5])
    full = tr.forward(params, cfg, tokens, mask, logits=False)
    at = tr.forward(params, cfg, tokens, mask, logits=False, only_at=cols)
    rows = np.arange(4)
    assert tuple(at.hidden.shape) == (4, 1, 8) and tuple(at.rewards.shape) == (4, 1)
    for got, want in (
        (at.hidden, full.hidden),
        (at.values, full.values),
        (at.rewards, full.rewards),
    ):
        np.testing.assert_allclose(_np(got)[:, 0], _np(want)[rows, cols], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="backward needs a full one"):
        tr.backward(params, cfg, at.cache, drewards=at.rewards)
    with pytest.raises(ValueError, match="only_at needs logits=False"):
        tr.forward(params, cfg, tokens, mask, only_at=cols)
    with pytest.raises(ValueError, match="only_at must be"):
        tr.forward(params, cfg, tokens, mask, logits=False, only_at=np.array([6, 0, 0, 0]))


def test_sampling_frequencies_match_the_softmax():
    """The first sampled token of 20,000 rows: chi-square against sampling_probs."""
    cfg, p = small_model(seed=3)
    prompt = [1, 4, 2]
    logits = tr.forward(p, cfg, np.array([prompt])).logits[0, -1]
    n = 20_000
    for temperature, top_k in ((1.0, None), (0.7, None), (1.5, 3)):
        s = tr.sample(
            p,
            cfg,
            [prompt] * n,
            np.random.default_rng(11),
            max_new_tokens=1,
            eos_id=0,
            pad_id=6,
            temperature=temperature,
            top_k=top_k,
        )
        counts = np.bincount(s.tokens[:, 3], minlength=7)
        probs = tr.sampling_probs(logits, temperature, top_k)
        kept = probs > 0
        assert counts[~kept].sum() == 0  # top-k never samples the rest
        assert stats.chisquare(counts[kept], n * probs[kept]).pvalue > 1e-3


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_sampling_with_rows_stopping_early_equals_sampling_without_a_cache(backend):
    """Rows that write EOS leave the decoding batch (and its KV cache); the samples are still
    those of the plain method: each step a full forward on every row's prefix, the next token
    drawn by inverse CDF from one uniform per row of the batch (stopped rows included)."""
    cfg, p = small_model(seed=9, V=7)
    eos, pad = 2, 0
    prompts = [[1, 3, 4], [5], [6, 1], [3, 3, 3, 1], [4, 5]]
    params = p if backend == "numpy" else {k: torch.tensor(v) for k, v in p.items()}
    for seed in range(8):
        got = tr.sample(
            params,
            cfg,
            prompts,
            np.random.default_rng(seed),
            max_new_tokens=7,
            eos_id=eos,
            pad_id=pad,
            temperature=1.3,
        )
        rng = np.random.default_rng(seed)
        rows = [list(q) for q in prompts]
        stopped = [False] * len(rows)
        for _ in range(7):
            u = rng.random(len(rows))
            for b, row in enumerate(rows):
                if stopped[b]:
                    continue
                logits = tr.forward(p, cfg, np.array([row])).logits[0, -1]
                cdf = np.cumsum(tr.sampling_probs(logits, 1.3))
                token = int(min(np.searchsorted(cdf, u[b] * cdf[-1], side="right"), 6))
                row.append(token)
                stopped[b] = token == eos
            if all(stopped):
                break
        assert got.responses() == [row[len(q) :] for row, q in zip(rows, prompts, strict=True)], (
            seed
        )
    assert any(len(r) < 7 for r in got.responses())  # some rows did stop early


def test_greedy_decoding_is_deterministic_and_follows_the_argmax():
    cfg, p = small_model(seed=5)
    prompts = [[1, 2], [3, 4, 5]]
    a = tr.sample(
        p, cfg, prompts, np.random.default_rng(0), max_new_tokens=5, eos_id=99, pad_id=0, top_k=1
    )
    b = tr.sample(
        p, cfg, prompts, np.random.default_rng(1), max_new_tokens=5, eos_id=99, pad_id=0, top_k=1
    )
    np.testing.assert_array_equal(a.tokens, b.tokens)
    logits = tr.forward(p, cfg, a.tokens, a.attention_mask).logits
    # each generated token is the argmax of the logits one position earlier
    np.testing.assert_array_equal(a.tokens[:, 3:], logits[:, 2:-1].argmax(-1))


def test_eos_stops_a_sample_and_pads_the_rest():
    cfg, p = small_model(seed=6)
    prompts = [[1, 2, 3], [4]]
    greedy = tr.sample(
        p, cfg, prompts, np.random.default_rng(0), max_new_tokens=6, eos_id=99, pad_id=0, top_k=1
    )
    eos = int(greedy.tokens[0, 3])  # row 0's first greedy token: make it the EOS
    s = tr.sample(
        p, cfg, prompts, np.random.default_rng(0), max_new_tokens=6, eos_id=eos, pad_id=0, top_k=1
    )
    assert s.responses()[0] == [eos]
    assert np.all(s.tokens[0, 4:] == 0) and np.all(s.attention_mask[0, 4:] == 0)
    row1 = s.responses()[1]
    assert eos not in row1[:-1]  # row 1 runs until its own EOS or the budget
    assert len(row1) == 6 or row1[-1] == eos


def test_numpy_and_torch_give_the_same_logits_losses_grads_and_samples(rng):
    cfg, p = small_model(seed=7)
    p = {**p, **{k: v for k, v in random_params(cfg, 8, heads=("value",)).items() if "head" in k}}
    tokens = rng.integers(0, 7, size=(3, 6))
    pt = {k: torch.tensor(v) for k, v in p.items()}
    out_n, out_t = tr.forward(p, cfg, tokens), tr.forward(pt, cfg, tokens)
    np.testing.assert_allclose(out_t.logits.numpy(), out_n.logits, rtol=1e-12)
    loss_n, dl_n = tr.next_token_loss(out_n.logits, tokens)
    loss_t, dl_t = tr.next_token_loss(out_t.logits, tokens)
    assert float(loss_t) == pytest.approx(float(loss_n), rel=1e-12)
    g_n = tr.backward(p, cfg, out_n.cache, dl_n, np.ones((3, 6)))
    g_t = tr.backward(pt, cfg, out_t.cache, dl_t, torch.ones(3, 6, dtype=torch.float64))
    for k in g_n:
        assert isinstance(g_t[k], torch.Tensor)
        np.testing.assert_allclose(g_t[k].numpy(), g_n[k], rtol=1e-10, atol=1e-14, err_msg=k)
    kw = dict(max_new_tokens=6, eos_id=0, pad_id=6)
    s_n = tr.sample(p, cfg, [[1, 2], [3]], np.random.default_rng(4), **kw)
    s_t = tr.sample(pt, cfg, [[1, 2], [3]], np.random.default_rng(4), **kw)
    np.testing.assert_array_equal(s_n.tokens, s_t.tokens)


@pytest.mark.gpu
def test_the_same_code_runs_on_a_gpu(rng):
    cfg, p = small_model(seed=9)
    tokens = rng.integers(0, 7, size=(2, 5))
    pc = {k: torch.tensor(v, device="cuda") for k, v in p.items()}
    out = tr.forward(pc, cfg, tokens)
    np.testing.assert_allclose(
        out.logits.cpu().numpy(), tr.forward(p, cfg, tokens).logits, rtol=1e-9
    )
    _, dl = tr.next_token_loss(out.logits, tokens)
    g = tr.backward(pc, cfg, out.cache, dl)
    assert g["wte.weight"].device.type == "cuda"


def test_bad_input_is_named():
    cfg, p = small_model()
    kw = dict(max_new_tokens=2, eos_id=0, pad_id=6)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        tr.sample(p, cfg, [[1]], rng, temperature=0.0, **kw)
    with pytest.raises(ValueError, match="top_k must be >= 1"):
        tr.sample(p, cfg, [[1]], rng, top_k=0, **kw)
    with pytest.raises(ValueError, match="empty prompt"):
        tr.sample(p, cfg, [[1], []], rng, **kw)
    with pytest.raises(ValueError, match="exceeds the context n_positions=12"):
        tr.sample(p, cfg, [list(range(1, 7)) * 2], rng, **kw)
    with pytest.raises(ValueError, match=r"prompts must be ids in \[0, vocab_size\)"):
        tr.sample(p, cfg, [[1, 9]], rng, **kw)
    with pytest.raises(ValueError, match="more than the context"):
        tr.forward(p, cfg, np.ones((1, 13), dtype=int))
    with pytest.raises(TypeError, match="integer token ids"):
        tr.forward(p, cfg, np.ones((1, 3)))
    with pytest.raises(ValueError, match="attention_mask must hold only 0 and 1"):
        tr.forward(p, cfg, np.ones((1, 3), dtype=int), np.full((1, 3), 2))
    bad = dict(p)
    bad["h.1.mlp.c_fc.weight"] = np.zeros((8, 31))
    with pytest.raises(
        ValueError, match=r"params\['h.1.mlp.c_fc.weight'\] must have shape \(8, 32\)"
    ):
        tr.check_params(bad, cfg)
    with pytest.raises(ValueError, match=r"params is missing 'ln_f\.bias'"):
        tr.check_params({k: v for k, v in p.items() if k != "ln_f.bias"}, cfg)
    with pytest.raises(ValueError, match="n_embd must be a multiple of n_head"):
        tr.GPTConfig(vocab_size=5, n_embd=6, n_head=4)


def test_gpt2_layout_and_size():
    cfg = tr.GPTConfig(vocab_size=595, n_positions=64, n_embd=32, n_layer=2, n_head=4)
    shapes = tr.param_shapes(cfg, ("value", "reward"))
    assert shapes["h.1.attn.c_attn.weight"] == (32, 96)  # Conv1D: (in, out)
    assert shapes["h.0.mlp.c_proj.weight"] == (128, 32)
    assert tr.n_params(cfg) < 100_000
    names = tr.to_gpt2_state_dict(tr.init_params(cfg, heads=("value",)))
    assert "transformer.h.0.attn.c_attn.bias" in names and "transformer.wte.weight" in names
    assert not any("head" in n for n in names)
    assert tr.GPTConfig(vocab_size=5).to_gpt2_config()["activation_function"] == "gelu_new"
    assert math.isclose(tr.n_params(cfg), sum(math.prod(s) for s in tr.param_shapes(cfg).values()))


def test_a_decoding_steps_bias_is_the_general_rule_for_one_query():
    """_attention_bias builds the bias of one query at the last column directly; it is what
    the general rule gives: causal, padding keys masked, the query's own key always allowed."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        B, n = int(rng.integers(1, 5)), int(rng.integers(1, 9))
        valid = rng.random((B, n)) < 0.6
        got = tr._attention_bias(valid, 1, n - 1)
        allowed = valid.copy()
        allowed[:, -1] = True
        want = np.where(allowed, 0.0, -np.inf)[:, None, None, :]
        np.testing.assert_array_equal(np.broadcast_to(got, want.shape), want)
        # and the general branch (two queries) agrees at its last query
        if n >= 2:
            two = tr._attention_bias(valid, 2, n - 2)
            np.testing.assert_array_equal(np.broadcast_to(two, (B, 1, 2, n))[:, :, 1:], want)
