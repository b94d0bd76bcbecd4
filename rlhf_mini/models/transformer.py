"""GPT-2, small enough to read: a decoder-only transformer with a hand-written backward.

The architecture is GPT-2's (Radford et al. 2019, "Language models are unsupervised multitask
learners"; the transformer of Vaswani et al. 2017, arXiv 1706.03762, with the LayerNorm moved
to the input of each sub-block): learned token and position embeddings, ``n_layer`` pre-LN
blocks of causal multi-head self-attention and a GELU (tanh) MLP, a final LayerNorm, and an
output head tied to the token embedding. Two optional scalar heads read the same final hidden
states: a value head (the PPO critic) and a reward head (the reward model's score).

Shapes: B sequences, T positions, V vocabulary, d = n_embd, H = n_head, D = d / H.

    x_0     = wte[tokens] + wpe[positions]                               (B, T, d)
    block:    x = x + Attn(LN_1(x));   x = x + MLP(LN_2(x))
    h       = LN_f(x_L)                                                  (B, T, d)
    logits  = h @ wte^T                                                  (B, T, V)
    values  = h @ w_value + b_value,   rewards = h @ w_reward + b_reward (B, T)

Parameters are a flat ``dict`` named like the state dict of Hugging Face's
``GPT2LMHeadModel`` without its ``transformer.`` prefix (:func:`to_gpt2_state_dict` adds it),
in GPT-2's ``Conv1D`` layout: every linear weight is (in, out) and applied as ``x @ W + b``::

    wte.weight (V, d)                  wpe.weight (n_positions, d)
    h.{i}.ln_1.weight, .bias (d,)      h.{i}.attn.c_attn.weight (d, 3d), .bias (3d,)
    h.{i}.attn.c_proj.weight (d, d)    h.{i}.ln_2.weight, .bias (d,)
    h.{i}.mlp.c_fc.weight (d, 4d)      h.{i}.mlp.c_proj.weight (4d, d)   (+ their biases)
    ln_f.weight, .bias (d,)
    value_head.weight (d, 1), .bias (1,)     reward_head.weight (d, 1), .bias (1,)  (optional)

Every function works on numpy arrays and on torch tensors (CPU or CUDA) alike: the array
namespace comes from the parameters (``array_api_compat``). Token ids and masks are host
data (numpy integer arrays). Randomness (initialisation, sampling) comes from a
``numpy.random.Generator``, so both backends draw the same numbers.

The forward pass keeps the activations its backward needs (``Forward.cache``);
:func:`backward` takes the gradients of a loss with respect to the logits, values and
rewards and returns the gradient of every parameter. A :class:`KVCache` keeps each layer's
keys and values while :func:`sample` writes one token at a time.
"""

from __future__ import annotations

import functools
import math
import sys
import types
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from array_api_compat import array_namespace

from rlhf_mini.core.arrays import _numpy_namespace
from rlhf_mini.core.backend import to_numpy
from rlhf_mini.core.numerics import log_softmax
from rlhf_mini.core.sampling import sample_categorical

__all__ = [
    "HEADS",
    "Batch",
    "Forward",
    "GPTConfig",
    "KVCache",
    "attention",
    "attention_backward",
    "backward",
    "backward_steps",
    "block",
    "block_backward",
    "check_params",
    "collate",
    "entropy",
    "entropy_grad",
    "forward",
    "forward_steps",
    "gelu",
    "gelu_backward",
    "host_to_backend",
    "init_params",
    "layer_norm",
    "layer_norm_backward",
    "log_softmax",
    "matmul",
    "mlp",
    "mlp_backward",
    "n_params",
    "next_token_loss",
    "param_shapes",
    "run_steps",
    "sample",
    "sample_steps",
    "sampling_probs",
    "sequence_log_probs",
    "to_gpt2_state_dict",
    "token_log_probs",
    "token_log_probs_grad",
]

#: The optional scalar heads on the final hidden states.
HEADS = ("value", "reward")

# GELU's tanh approximation (Hendrycks & Gimpel 2016, arXiv 1606.08415), GPT-2's "gelu_new".
_GELU_C = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


@dataclass(frozen=True)
class GPTConfig:
    """The hyperparameters of the architecture (field names as in ``transformers.GPT2Config``).

    Examples
    --------
    >>> cfg = GPTConfig(vocab_size=595, n_positions=64, n_embd=32, n_layer=2, n_head=4)
    >>> cfg.head_size, n_params(cfg)
    (8, 46560)
    """

    #: V, the number of token ids.
    vocab_size: int
    #: The context length: positions 0 .. n_positions - 1 have an embedding.
    n_positions: int = 64
    #: d, the width of the residual stream.
    n_embd: int = 48
    #: The number of transformer blocks.
    n_layer: int = 2
    #: H, the number of attention heads (d must be a multiple of H).
    n_head: int = 4
    #: The epsilon of every LayerNorm (GPT-2's 1e-5).
    layer_norm_epsilon: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd must be a multiple of n_head, got {self.n_embd} and {self.n_head}"
            )
        if not (self.layer_norm_epsilon > 0 and math.isfinite(self.layer_norm_epsilon)):
            raise ValueError(f"layer_norm_epsilon must be > 0, got {self.layer_norm_epsilon!r}")

    @property
    def head_size(self) -> int:
        """D = d / H."""
        return self.n_embd // self.n_head

    def to_dict(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "n_positions": self.n_positions,
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }

    def to_gpt2_config(self) -> dict[str, Any]:
        """Keyword arguments of ``transformers.GPT2Config`` for the same architecture
        (dropout off, GPT-2's "gelu_new" activation, tied output head)."""
        return {
            **self.to_dict(),
            "n_inner": 4 * self.n_embd,
            "activation_function": "gelu_new",
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
            "tie_word_embeddings": True,
        }


# ---------------------------------------------------------------------------------------
# parameters


def param_shapes(config: GPTConfig, heads: tuple[str, ...] = ()) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter, in GPT-2's order (heads last).

    Examples
    --------
    >>> shapes = param_shapes(GPTConfig(vocab_size=10, n_embd=8, n_layer=1, n_head=2))
    >>> shapes["wte.weight"], shapes["h.0.attn.c_attn.weight"], shapes["h.0.mlp.c_proj.weight"]
    ((10, 8), (8, 24), (32, 8))
    """
    for head in heads:
        if head not in HEADS:
            raise ValueError(f"heads must name some of {HEADS}, got {head!r}")
    d, V = config.n_embd, config.vocab_size
    shapes: dict[str, tuple[int, ...]] = {
        "wte.weight": (V, d),
        "wpe.weight": (config.n_positions, d),
    }
    for i in range(config.n_layer):
        shapes |= {
            f"h.{i}.ln_1.weight": (d,),
            f"h.{i}.ln_1.bias": (d,),
            f"h.{i}.attn.c_attn.weight": (d, 3 * d),
            f"h.{i}.attn.c_attn.bias": (3 * d,),
            f"h.{i}.attn.c_proj.weight": (d, d),
            f"h.{i}.attn.c_proj.bias": (d,),
            f"h.{i}.ln_2.weight": (d,),
            f"h.{i}.ln_2.bias": (d,),
            f"h.{i}.mlp.c_fc.weight": (d, 4 * d),
            f"h.{i}.mlp.c_fc.bias": (4 * d,),
            f"h.{i}.mlp.c_proj.weight": (4 * d, d),
            f"h.{i}.mlp.c_proj.bias": (d,),
        }
    shapes |= {"ln_f.weight": (d,), "ln_f.bias": (d,)}
    for head in HEADS:  # a fixed order, whatever the order of ``heads``
        if head in heads:
            shapes |= {f"{head}_head.weight": (d, 1), f"{head}_head.bias": (1,)}
    return shapes


def n_params(config: GPTConfig, heads: tuple[str, ...] = ()) -> int:
    """The number of parameters (the tied output head counts once).

    Examples
    --------
    >>> n_params(GPTConfig(vocab_size=10, n_positions=16, n_embd=8, n_layer=1, n_head=2))
    1096
    """
    return sum(math.prod(s) for s in param_shapes(config, heads).values())


def init_params(
    config: GPTConfig,
    seed: int = 0,
    *,
    heads: tuple[str, ...] = (),
    dtype: Any = np.float64,
) -> dict[str, np.ndarray]:
    """GPT-2's initialisation, from ``np.random.default_rng(seed)`` (numpy arrays).

    Weights ~ N(0, 0.02^2), except the two residual projections of each block
    (``attn.c_proj``, ``mlp.c_proj``), ~ N(0, (0.02 / sqrt(2 n_layer))^2) so the residual
    stream's variance does not grow with depth (Radford et al. 2019, section 2.3); biases 0,
    LayerNorm gains 1; the heads' weights 0 (a critic / reward model starts at 0).
    Move them to another backend with ``backend.asarray``.

    Examples
    --------
    >>> p = init_params(GPTConfig(vocab_size=10, n_embd=8, n_layer=1, n_head=2), seed=0)
    >>> p["h.0.ln_1.weight"][:3], p["wte.weight"].dtype
    (array([1., 1., 1.]), dtype('float64'))
    """
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {}
    for name, shape in param_shapes(config, heads).items():
        if name.endswith("_head.weight") or name.endswith(".bias"):
            value = np.zeros(shape)
        elif ".ln_" in name or name.startswith("ln_f"):
            value = np.ones(shape)
        elif name.endswith("c_proj.weight"):
            value = rng.normal(0.0, 0.02 / math.sqrt(2 * config.n_layer), size=shape)
        else:
            value = rng.normal(0.0, 0.02, size=shape)
        params[name] = value.astype(dtype)
    return params


def check_params(params: dict[str, Any], config: GPTConfig) -> tuple[str, ...]:
    """Check names and shapes against ``config``; return the heads present.

    Raises ``ValueError`` naming the first missing, unexpected or misshapen parameter.
    """
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    heads = tuple(h for h in HEADS if f"{h}_head.weight" in params)
    expected = param_shapes(config, heads)
    for name, shape in expected.items():
        if name not in params:
            raise ValueError(f"params is missing {name!r} (shape {shape})")
        got = tuple(params[name].shape)
        if got != shape:
            raise ValueError(f"params[{name!r}] must have shape {shape}, got {got}")
    unexpected = sorted(set(params) - set(expected))
    if unexpected:
        raise ValueError(f"params has unexpected entries {unexpected}")
    return heads


def to_gpt2_state_dict(params: dict[str, Any]) -> dict[str, Any]:
    """The trunk's parameters under ``GPT2LMHeadModel``'s names (heads dropped).

    Hugging Face's model adds the (tied) ``lm_head.weight`` itself and keeps causal-mask
    buffers we do not have: load with ``strict=False`` after setting the config from
    :meth:`GPTConfig.to_gpt2_config`.
    """
    return {f"transformer.{k}": v for k, v in params.items() if "_head." not in k}


#: numpy without BLAS (Pyodide) multiplies matrices with a fallback loop whose speed depends
#: on the operands' memory layout. Measured in Pyodide 0.27 (bench/lm_pyodide.mjs), numpy's
#: einsum kernel is 1.2-5x faster for an activation times a weight matrix (e.g. dlogits^T h,
#: (V, N) @ (N, d): 4.8 ms against 18-28 ms) but 2-4x slower on batched products (attention),
#: which keep ``@``. With BLAS (CPython, torch) ``@`` is the fast one everywhere.
_EINSUM_MATMUL = sys.platform == "emscripten"


def matmul(a: Any, b: Any) -> Any:
    """a @ b for a (..., i) and a matrix b (i, k) -> (..., k) (einsum in Pyodide, see above).

    In Pyodide, einsum's inner loop runs along the last axis of b when b is row-major (one
    loop of length k per pair of a row of a and an i) and along i when b^T is (one dot
    product of length i per output entry); so a narrow output (k < i, k <= 64) goes through
    b^T, copied row-major if it is not (measured: (640, 128) @ (128, 32) 1.05 ms against
    1.47 ms, dlogits^T h (595, 400) @ (400, 32) 2.7 ms against 4.3 ms), and a wide one keeps
    b ((640, 32) @ (32, 128): 1.0 ms against 1.4 ms).
    """
    if _EINSUM_MATMUL and isinstance(a, np.ndarray):
        a2 = a.reshape((-1, a.shape[-1]))
        i, k = b.shape
        if k < i and k <= 64:
            out = np.einsum("ni,ki->nk", a2, np.ascontiguousarray(b.T))
        else:
            out = np.einsum("ni,ik->nk", a2, b)
        return out.reshape((*a.shape[:-1], k))
    return a @ b


def _namespace(x: Any) -> Any:
    """The array namespace of ``x`` (for numpy a cached one with cheaper calls, see
    :func:`_fast_numpy`: it is asked in tight loops)."""
    return _fast_numpy() if isinstance(x, np.ndarray) else array_namespace(x)


@functools.cache
def _fast_numpy() -> Any:
    """array_api_compat's numpy namespace with the calls this module makes thousands of times
    per PPO iteration bound to numpy's cheapest entry points, same results and dtypes:
    ``sum``/``max`` as the ufuncs' ``reduce``, ``reshape``/``permute_dims`` as array methods.
    On these small arrays numpy's Python wrappers cost as much as the work: in CPython 2.7
    against 1.4 us for a sum over the last axis of a (16, 1, 32) array, 0.74 against 0.15 us
    for a reshape; in Pyodide the wrappers took ~10 ms of a ~310 ms PPO iteration."""
    ns = types.SimpleNamespace(**vars(_numpy_namespace()))
    ns.sum = _np_sum
    ns.max = _np_max
    ns.reshape = _np_reshape
    ns.permute_dims = _np_permute_dims
    return ns


def _np_sum(x: np.ndarray, /, *, axis: Any = None, keepdims: Any = False) -> Any:
    return np.add.reduce(x, axis=axis, keepdims=keepdims)


def _np_max(x: np.ndarray, /, *, axis: Any = None, keepdims: Any = False) -> Any:
    return np.maximum.reduce(x, axis=axis, keepdims=keepdims)


def _np_reshape(x: np.ndarray, /, shape: tuple[int, ...]) -> np.ndarray:
    return x.reshape(shape)


def _np_permute_dims(x: np.ndarray, /, axes: tuple[int, ...]) -> np.ndarray:
    return x.transpose(axes)


# ---------------------------------------------------------------------------------------
# layers: each forward returns (output, cache), each backward takes (d output, cache)


def layer_norm(xp: Any, x: Any, weight: Any, bias: Any, eps: float) -> tuple[Any, Any]:
    """LayerNorm over the last axis (Ba et al. 2016, arXiv 1607.06450).

        x_hat = (x - mean(x)) / sqrt(var(x) + eps),    y = x_hat * weight + bias

    x: (..., d) -> y: (..., d); the cache is (x_hat, 1 / sqrt(var + eps)).
    """
    inv_d = 1.0 / x.shape[-1]  # means as sums: numpy's mean is a slower Python wrapper
    xc = x - xp.sum(x, axis=-1, keepdims=True) * inv_d
    rstd = 1.0 / xp.sqrt(xp.sum(xc * xc, axis=-1, keepdims=True) * inv_d + eps)
    x_hat = xc * rstd
    return x_hat * weight + bias, (x_hat, rstd)


def layer_norm_backward(xp: Any, dy: Any, weight: Any, cache: Any) -> tuple[Any, Any, Any]:
    """Gradients of :func:`layer_norm`: (dx, dweight, dbias).

    dx_hat = dy * weight
    dx     = rstd * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))   (last axis)
    dweight = sum(dy * x_hat),  dbias = sum(dy)                    (over all other axes)
    """
    x_hat, rstd = cache
    d = x_hat.shape[-1]
    dx_hat = dy * weight
    inv_d = 1.0 / d
    dx = rstd * (
        dx_hat
        - xp.sum(dx_hat, axis=-1, keepdims=True) * inv_d
        - x_hat * (xp.sum(dx_hat * x_hat, axis=-1, keepdims=True) * inv_d)
    )
    dweight = xp.sum(xp.reshape(dy * x_hat, (-1, d)), axis=0)
    dbias = xp.sum(xp.reshape(dy, (-1, d)), axis=0)
    return dx, dweight, dbias


def gelu(xp: Any, x: Any) -> tuple[Any, Any]:
    """GELU, tanh approximation (GPT-2's "gelu_new"); the cache is (x, t).

    t = tanh(sqrt(2/pi) (x + 0.044715 x^3)),    y = x (1 + t) / 2
    """
    z = x * x * x  # the argument C (x + a x^3), in place (see _linear)
    z *= _GELU_A
    z += x
    z *= _GELU_C
    t = _tanh(xp, z)
    return (0.5 * x) * (1.0 + t), (x, t)


def _tanh(xp: Any, z: Any) -> Any:
    """tanh(z); in Pyodide as 1 - 2 / (1 + exp(2 z)) (z clipped to [-20, 20], where tanh is
    +-1 to float64 precision), because numpy's tanh there is 2.5x slower than its exp
    (measured: 2.9 ms against 1.2 ms on 16 x 50 x 128 float32), and GELU runs on every MLP
    activation. Elsewhere numpy's own tanh."""
    if _EINSUM_MATMUL and isinstance(z, np.ndarray):
        e = np.clip(z, -20.0, 20.0)  # then in place (see _linear): 1 - 2 / (1 + exp(2 z))
        e *= 2.0
        np.exp(e, out=e)
        e += 1.0
        np.divide(2.0, e, out=e)
        np.subtract(1.0, e, out=e)
        return e
    return xp.tanh(z)


def gelu_backward(xp: Any, dy: Any, cache: Any) -> Any:
    """dy/dx of :func:`gelu`:  (1 + t) / 2 + x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2."""
    x, t = cache
    g = t * t  # in place from here (see _linear)
    g *= -1.0
    g += 1.0  # 1 - t^2
    u = x * x
    u *= 3.0 * _GELU_A
    u += 1.0
    u *= _GELU_C
    g *= u  # dt = dt/dx
    g *= x
    g *= 0.5  # x dt / 2
    u = t + 1.0
    u *= 0.5
    g += u  # (1 + t) / 2 + x dt / 2
    g *= dy
    return g


def _linear(x: Any, w: Any, b: Any) -> Any:
    """y = x @ W + b, (..., i) -> (..., o); the bias is added in place to the fresh product.

    In place here and below (on temporaries no one else holds, never on an array an autograd
    graph saved): each large array not allocated spares numpy fresh pages from the
    allocator, which cost as much as the arithmetic at these sizes (gelu_backward on
    (16, 45, 128) float32: 100 us in place against 270 us).
    """
    y = matmul(x, w)
    y += b
    return y


def _linear_backward(xp: Any, x: Any, w: Any, dy: Any) -> tuple[Any, Any, Any]:
    """Gradients of y = x @ W + b (x: (..., i), W: (i, o)): (dx, dW = x^T dy, db = sum dy)."""
    x2 = xp.reshape(x, (-1, x.shape[-1]))
    dy2 = xp.reshape(dy, (-1, dy.shape[-1]))
    return matmul(dy, w.mT), matmul(x2.mT, dy2), xp.sum(dy2, axis=0)


def attention(
    xp: Any,
    a: Any,
    w_qkv: Any,
    b_qkv: Any,
    w_o: Any,
    b_o: Any,
    n_head: int,
    bias: Any,
    kv: tuple[Any, Any, int] | None = None,
    at: tuple[Any, Any, Any] | None = None,
) -> tuple[Any, Any]:
    """Causal multi-head self-attention (Vaswani et al. 2017, arXiv 1706.03762).

        [q | k | v] = a @ W_qkv + b_qkv            a: (B, T, d) -> q, k, v: (B, H, T, D)
        att = softmax(q k^T / sqrt(D) + bias)      (B, H, T, T_k); bias = 0 or -inf (mask)
        o   = merge_heads(att v) @ W_o + b_o       (B, T, d)

    ``bias`` (B or 1, 1, T, T_k) holds 0 where a query may attend to a key and -inf
    elsewhere (the future, padding). With ``kv = (k_buffer, v_buffer, L)`` the new keys and
    values are written at positions L .. L + T - 1 of the buffers (B, H, n, D) and the
    queries attend to all L + T of them (:class:`KVCache`). With ``at = (rows, cols, bias)``
    (index arrays (B,) on the backend and that query's bias (B, 1, 1, T_k)) only the query
    of each row at its column is run, against every key: the output is (B, 1, d) (no
    backward).
    """
    B, T, d = a.shape
    D = d // n_head
    qkv = _linear(a, w_qkv, b_qkv)  # (B, T, 3d)
    qkv = xp.permute_dims(xp.reshape(qkv, (B, T, 3, n_head, D)), (2, 0, 3, 1, 4))  # (3,B,H,T,D)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if kv is not None:
        k_buf, v_buf, L = kv
        k_buf[:, :, L : L + T, :] = k
        v_buf[:, :, L : L + T, :] = v
        k, v = k_buf[:, :, : L + T, :], v_buf[:, :, : L + T, :]
    if at is not None:  # one query per row: (B, H, 1, D)
        q, T, bias = q[at[0], :, at[1]][:, :, None, :], 1, at[2]
    s = q @ k.mT  # (B, H, T, T_k), scaled and masked in place
    s *= 1.0 / math.sqrt(D)
    s += bias
    e = xp.exp(s - xp.max(s, axis=-1, keepdims=True))
    att = e / xp.sum(e, axis=-1, keepdims=True)
    y = xp.reshape(xp.permute_dims(att @ v, (0, 2, 1, 3)), (B, T, d))  # merge heads
    return _linear(y, w_o, b_o), (a, q, k, v, att, y)


def attention_backward(
    xp: Any, do: Any, w_qkv: Any, w_o: Any, n_head: int, cache: Any
) -> tuple[Any, Any, Any, Any, Any]:
    """Gradients of :func:`attention`: (da, dW_qkv, db_qkv, dW_o, db_o).

    dy = do @ W_o^T (split into heads)      d att = dy v^T,   dv = att^T dy
    ds = att * (d att - sum_k(d att * att)) / sqrt(D)          (softmax, then the scale)
    dq = ds k,   dk = ds^T q,   da = [dq | dk | dv] @ W_qkv^T
    """
    a, q, k, v, att, y = cache
    B, T, d = a.shape
    D = d // n_head
    dy, dw_o, db_o = _linear_backward(xp, y, w_o, do)
    dy = xp.permute_dims(xp.reshape(dy, (B, T, n_head, D)), (0, 2, 1, 3))  # (B, H, T, D)
    datt = dy @ v.mT  # (B, H, T, T)
    dv = att.mT @ dy
    datt -= xp.sum(datt * att, axis=-1, keepdims=True)  # ds, in place (see _linear)
    datt *= att
    datt *= 1.0 / math.sqrt(D)
    ds = datt
    dq = ds @ k
    dk = ds.mT @ q
    dqkv = xp.reshape(xp.permute_dims(xp.stack([dq, dk, dv]), (1, 3, 0, 2, 4)), (B, T, 3 * d))
    da, dw_qkv, db_qkv = _linear_backward(xp, a, w_qkv, dqkv)
    return da, dw_qkv, db_qkv, dw_o, db_o


def mlp(xp: Any, m: Any, w_fc: Any, b_fc: Any, w_proj: Any, b_proj: Any) -> tuple[Any, Any]:
    """The position-wise MLP: gelu(m @ W_fc + b_fc) @ W_proj + b_proj, (B, T, d) -> (B, T, d)
    through a hidden width of 4d."""
    g, gelu_cache = gelu(xp, _linear(m, w_fc, b_fc))
    return _linear(g, w_proj, b_proj), (m, g, gelu_cache)


def mlp_backward(
    xp: Any, dout: Any, w_fc: Any, w_proj: Any, cache: Any
) -> tuple[Any, Any, Any, Any, Any]:
    """Gradients of :func:`mlp`: (dm, dW_fc, db_fc, dW_proj, db_proj)."""
    m, g, gelu_cache = cache
    dg, dw_proj, db_proj = _linear_backward(xp, g, w_proj, dout)
    df = gelu_backward(xp, dg, gelu_cache)
    dm, dw_fc, db_fc = _linear_backward(xp, m, w_fc, df)
    return dm, dw_fc, db_fc, dw_proj, db_proj


def _names(i: int) -> tuple[str, ...]:
    """The 12 parameter names of block ``i``, in the order :func:`block` reads them."""
    p = f"h.{i}."
    return tuple(
        p + n
        for n in (
            "ln_1.weight",
            "ln_1.bias",
            "attn.c_attn.weight",
            "attn.c_attn.bias",
            "attn.c_proj.weight",
            "attn.c_proj.bias",
            "ln_2.weight",
            "ln_2.bias",
            "mlp.c_fc.weight",
            "mlp.c_fc.bias",
            "mlp.c_proj.weight",
            "mlp.c_proj.bias",
        )
    )


def block(
    xp: Any,
    x: Any,
    w: tuple[Any, ...],
    n_head: int,
    eps: float,
    bias: Any,
    kv: Any = None,
    at: Any = None,
) -> tuple[Any, Any]:
    """One pre-LN transformer block, (B, T, d) -> (B, T, d):

        x = x + Attn(LN_1(x));    x = x + MLP(LN_2(x))

    ``w`` holds the block's 12 parameters in the order of ``_names``. With ``at`` (see
    :func:`attention`) the output is (B, 1, d), at one column per row.
    """
    a, ln1 = layer_norm(xp, x, w[0], w[1], eps)
    o, att = attention(xp, a, w[2], w[3], w[4], w[5], n_head, bias, kv, at)
    if at is not None:
        x = x[at[0], at[1]][:, None, :]  # (B, 1, d): the residual stream at the queries
    x = x + o
    m, ln2 = layer_norm(xp, x, w[6], w[7], eps)
    out, mlp_cache = mlp(xp, m, w[8], w[9], w[10], w[11])
    return x + out, (ln1, att, ln2, mlp_cache)


def block_backward(
    xp: Any, dx: Any, w: tuple[Any, ...], n_head: int, cache: Any
) -> tuple[Any, tuple[Any, ...]]:
    """Gradients of :func:`block`: (dx, the 12 parameter gradients in ``w``'s order).

    The residual connections pass ``dx`` through unchanged and add each sub-block's input
    gradient to it.
    """
    ln1, att, ln2, mlp_cache = cache
    dm, dw_fc, db_fc, dw_p, db_p = mlp_backward(xp, dx, w[8], w[10], mlp_cache)
    dx_mid, dg2, db2 = layer_norm_backward(xp, dm, w[6], ln2)
    dx = dx + dx_mid
    da, dw_qkv, db_qkv, dw_o, db_o = attention_backward(xp, dx, w[2], w[4], n_head, att)
    dx_in, dg1, db1 = layer_norm_backward(xp, da, w[0], ln1)
    return dx + dx_in, (dg1, db1, dw_qkv, db_qkv, dw_o, db_o, dg2, db2, dw_fc, db_fc, dw_p, db_p)


# ---------------------------------------------------------------------------------------
# the model


@dataclass
class KVCache:
    """Keys and values of the positions processed so far, for incremental decoding.

    ``k[i]``, ``v[i]`` (B, H, capacity, D) buffers of layer i, filled up to ``length``;
    ``key_valid`` (B, capacity) numpy bools (False: a padding position nobody attends to);
    ``next_position`` (B,) numpy ints, the position id the next real token of each row gets.
    """

    k: list[Any]
    v: list[Any]
    key_valid: np.ndarray
    next_position: np.ndarray
    length: int = 0

    @classmethod
    def empty(cls, params: dict[str, Any], config: GPTConfig, batch: int, capacity: int) -> KVCache:
        """Zeroed buffers for ``batch`` rows of up to ``capacity`` positions."""
        xp = _namespace(params["wte.weight"])
        w = params["wte.weight"]
        shape = (batch, config.n_head, capacity, config.head_size)
        dev = getattr(w, "device", None)

        def zeros() -> Any:
            if isinstance(w, np.ndarray):
                return np.zeros(shape, dtype=w.dtype)
            return xp.zeros(shape, dtype=w.dtype, device=dev)

        return cls(
            k=[zeros() for _ in range(config.n_layer)],
            v=[zeros() for _ in range(config.n_layer)],
            key_valid=np.zeros((batch, capacity), dtype=bool),
            next_position=np.zeros(batch, dtype=np.intp),
        )

    @property
    def capacity(self) -> int:
        return int(self.key_valid.shape[1])

    def keep_rows(self, keep: np.ndarray) -> KVCache:
        """A cache of the rows where ``keep`` (B,) is True, in their order (a copy)."""
        rows = np.flatnonzero(keep)
        if isinstance(self.k[0], np.ndarray):
            k, v = [a[rows] for a in self.k], [a[rows] for a in self.v]
        else:
            xp = array_namespace(self.k[0])
            index = xp.asarray(rows, device=self.k[0].device)
            k = [xp.take(a, index, axis=0) for a in self.k]
            v = [xp.take(a, index, axis=0) for a in self.v]
        return KVCache(k, v, self.key_valid[rows], self.next_position[rows], self.length)


@dataclass
class Forward:
    """What :func:`forward` returns: ``logits`` (B, T, V) or None, ``values`` and
    ``rewards`` (B, T) when the model has those heads (else None), the final hidden states
    ``hidden`` (B, T, d) and the activations ``cache`` that :func:`backward` needs."""

    logits: Any
    values: Any
    rewards: Any
    hidden: Any
    cache: Any = field(repr=False)


def _check_tokens(tokens: Any, config: GPTConfig, name: str = "tokens") -> np.ndarray:
    t = np.asarray(to_numpy(tokens))
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty (batch, length) array of token ids")
    if t.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer token ids, got dtype {t.dtype}")
    if t.min() < 0 or t.max() >= config.vocab_size:
        raise ValueError(
            f"{name} must be ids in [0, vocab_size) = [0, {config.vocab_size}), "
            f"got values in [{t.min()}, {t.max()}]"
        )
    return t.astype(np.intp)


def _attention_bias(key_valid: np.ndarray, n_query: int, offset: int) -> np.ndarray:
    """0 where query i (at buffer column offset + i) may attend to key j, else -inf.

    Allowed: j <= offset + i (causal) and key j is a real token, or j is the query itself
    (so a padding query still has one key and its softmax stays finite; its output is
    never used). Shape (B, 1, n_query, n_key), or (1, 1, ...) when every key is valid.
    """
    n_key = key_valid.shape[1]
    if n_query == 1 and offset == n_key - 1:
        # One query at the last column (a decoding step): causality allows every key, so
        # only the padding keys before it are masked; built directly, 5 against 23 us a step.
        if key_valid.all():
            return np.zeros((1, 1, 1, n_key))
        allowed = key_valid.copy()
        allowed[:, -1] = True  # the query itself
        return np.where(allowed, 0.0, -np.inf)[:, None, None, :]
    q_col = offset + np.arange(n_query)[:, None]  # (T, 1)
    k_col = np.arange(n_key)[None, :]  # (1, T_k)
    causal = k_col <= q_col
    if key_valid.all():
        allowed = causal[None, None]
    else:
        allowed = causal[None, None] & (key_valid[:, None, None, :] | (k_col == q_col)[None, None])
    return np.where(allowed, 0.0, -np.inf)


def host_to_backend(x: np.ndarray, like: Any, dtype: Any = None) -> Any:
    """Host data onto ``like``'s backend and device (ints stay ints unless ``dtype``)."""
    if isinstance(like, np.ndarray):
        return x if dtype is None else x.astype(dtype)
    xp = array_namespace(like)
    return xp.asarray(x, dtype=dtype, device=like.device)


def forward(
    params: dict[str, Any],
    config: GPTConfig,
    tokens: Any,
    attention_mask: Any = None,
    *,
    logits: bool = True,
    logits_from: int = 0,
    logits_mask: Any = None,
    kv_cache: KVCache | None = None,
    only_at: Any = None,
) -> Forward:
    """Run the model on a batch of token ids.

    Parameters
    ----------
    params : dict of arrays (numpy or torch), see :func:`param_shapes`
    config : GPTConfig
    tokens : (B, T) integer array
        Token ids; with ``kv_cache``, only the new tokens.
    attention_mask : (B, T) array of 0/1, optional
        1 for real tokens, 0 for padding (e.g. on the left of a shorter prompt). Padding is
        attended to by nobody and takes no position: a row's position ids count its real
        tokens, 0, 1, 2, ... (as ``transformers`` does with ``position_ids`` from the mask).
        Default: every token is real and positions are 0 .. T - 1. Right padding after a
        sequence's end needs no mask (causality keeps it out of the real positions).
    logits : bool, default True
        Compute the (B, T, V) logits (a reward model does not need them).
    logits_from : int, default 0
        Compute the logits of positions ``logits_from`` .. T - 1 only, (B, T - logits_from, V)
        (e.g. only those that predict a response: the prompt's are never used); the tied
        output head is the largest matrix product of this model. :func:`backward` then takes
        ``dlogits`` of those positions.
    logits_mask : (B, T - logits_from) array of 0/1, optional
        Compute the logits only where 1 and leave 0 elsewhere (e.g. the positions that
        predict a real response token, not the padding after a short response): the head's
        products then cost what the masked positions cost. :func:`backward` ignores
        ``dlogits`` outside the mask.
    kv_cache : KVCache, optional
        Continue from the cached keys and values (incremental decoding; no backward).
    only_at : (B,) integer array, optional
        One column per row whose outputs alone are needed (e.g. :attr:`Batch.last_index`,
        where a reward model reads its score): the last block runs its query and MLP at
        those columns only (its keys and values at every position), and the hidden states,
        values and rewards are (B, 1, ...). Needs ``logits=False``; no kv_cache, no backward.

    Returns
    -------
    Forward
        logits, values, rewards, hidden states and the activation cache.
    """
    return run_steps(
        forward_steps(
            params,
            config,
            tokens,
            attention_mask,
            logits=logits,
            logits_from=logits_from,
            logits_mask=logits_mask,
            kv_cache=kv_cache,
            only_at=only_at,
        )
    )


def forward_steps(
    params: dict[str, Any],
    config: GPTConfig,
    tokens: Any,
    attention_mask: Any = None,
    *,
    logits: bool = True,
    logits_from: int = 0,
    logits_mask: Any = None,
    kv_cache: KVCache | None = None,
    only_at: Any = None,
) -> Generator[str, None, Forward]:
    """:func:`forward` in slices: a generator that yields ``"block"`` after each transformer
    block and returns the :class:`Forward` (``out = yield from forward_steps(...)``), so a
    caller can pause between blocks (a page answering clicks while it trains)."""
    w_te = params["wte.weight"]
    xp = _namespace(w_te)
    tok = _check_tokens(tokens, config)
    B, T = tok.shape
    mask = np.ones((B, T), dtype=bool) if attention_mask is None else _mask(attention_mask, B, T)
    offset = 0 if kv_cache is None else kv_cache.length
    start = np.zeros(B, dtype=np.intp) if kv_cache is None else kv_cache.next_position
    positions = (start[:, None] + np.maximum(np.cumsum(mask, axis=1) - 1, 0)).astype(np.intp)
    if positions.max() >= config.n_positions:
        raise ValueError(
            f"tokens: a row has {int(positions.max()) + 1} positions, more than the context "
            f"n_positions={config.n_positions}"
        )
    if kv_cache is None:
        key_valid = mask
    else:
        if offset + T > kv_cache.capacity:
            raise ValueError(f"kv_cache is full: {offset} + {T} > capacity {kv_cache.capacity}")
        kv_cache.key_valid[:, offset : offset + T] = mask
        key_valid = kv_cache.key_valid[:, : offset + T]
    bias_np = _attention_bias(key_valid, T, offset)
    bias = host_to_backend(bias_np, w_te, w_te.dtype)
    at = None
    if only_at is not None:
        if logits or kv_cache is not None:
            raise ValueError("only_at needs logits=False and no kv_cache")
        at_cols = np.asarray(to_numpy(only_at))
        if (
            at_cols.shape != (B,)
            or at_cols.dtype.kind not in "iu"
            or at_cols.min() < 0
            or at_cols.max() >= T
        ):
            raise ValueError(f"only_at must be (B,) = ({B},) columns in [0, {T}), got {at_cols}")
        at_cols = at_cols.astype(np.intp)
        at_rows = np.arange(B)
        row_bias = np.broadcast_to(bias_np, (B, 1, T, T))[at_rows, :, at_cols][:, :, None, :]
        at = (
            host_to_backend(at_rows, w_te),
            host_to_backend(at_cols, w_te),
            host_to_backend(row_bias, w_te, w_te.dtype),  # (B, 1, 1, T)
        )
    tok_b, pos_b = host_to_backend(tok, w_te), host_to_backend(positions, w_te)
    h, caches, ln_f = yield from _trunk_steps(xp, params, config, tok_b, pos_b, bias, kv_cache, at)
    if kv_cache is not None:
        kv_cache.length = offset + T
        kv_cache.next_position = positions[:, -1] + mask[:, -1]
    if not 0 <= logits_from < T:
        raise ValueError(f"logits_from must be in [0, {T}), got {logits_from}")
    rows = None if logits_mask is None else _logit_rows(logits_mask, w_te, B, T - logits_from)
    out_logits = _output_head(xp, h[:, logits_from:], w_te, rows) if logits else None
    heads = {}
    for head in HEADS:
        if f"{head}_head.weight" in params:
            wh, bh = params[f"{head}_head.weight"], params[f"{head}_head.bias"]
            heads[head] = xp.reshape(matmul(h, wh) + bh, h.shape[:2])  # one per position
    cache = {
        "tokens": tok_b,
        "positions": pos_b,
        "blocks": caches,
        "ln_f": ln_f,
        "hidden": h,
        "incremental": kv_cache is not None or only_at is not None,
        "logits_from": logits_from,
        "logit_rows": rows,
    }
    return Forward(out_logits, heads.get("value"), heads.get("reward"), h, cache)


def _logit_rows(logits_mask: Any, like: Any, B: int, T: int) -> Any:
    """The flat indices (into B * T positions) where ``logits_mask`` (B, T) is 1."""
    m = np.asarray(to_numpy(logits_mask))
    if m.shape != (B, T):
        raise ValueError(f"logits_mask must have shape {(B, T)}, got {m.shape}")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("logits_mask must hold only 0 and 1")
    return host_to_backend(np.flatnonzero(m).astype(np.intp), like)


def _output_head(xp: Any, h: Any, w_te: Any, rows: Any) -> Any:
    """The tied output head, logits = h wte^T: (B, T, d) -> (B, T, V); with ``rows`` (flat
    position indices) only those positions' logits, 0 elsewhere."""
    if rows is None:
        return matmul(h, w_te.mT)
    B, T, d = h.shape
    V = w_te.shape[0]
    picked = matmul(xp.take(xp.reshape(h, (B * T, d)), rows, axis=0), w_te.mT)  # (n, V)
    out = xp.zeros((B * T, V), dtype=picked.dtype, device=getattr(picked, "device", None))
    out[rows] = picked  # numpy and torch index assignment (the backends this module runs)
    return xp.reshape(out, (B, T, V))


def _trunk(
    xp: Any,
    params: dict[str, Any],
    config: GPTConfig,
    tokens: Any,
    positions: Any,
    bias: Any,
    kv_cache: KVCache | None,
) -> tuple[Any, list[Any], Any]:
    """:func:`_trunk_steps` run to its end."""
    return run_steps(_trunk_steps(xp, params, config, tokens, positions, bias, kv_cache))


def _trunk_steps(
    xp: Any,
    params: dict[str, Any],
    config: GPTConfig,
    tokens: Any,
    positions: Any,
    bias: Any,
    kv_cache: KVCache | None,
    at: Any = None,
) -> Generator[str, None, tuple[Any, list[Any], Any]]:
    """Embeddings, the blocks and the final LayerNorm: (B, T) ids -> h (B, T, d), with
    the blocks' and LN_f's caches (h (B, 1, d) with ``at``: the last block at those
    columns only, see :func:`attention`). Inputs already on the backend and checked."""
    B, T = tokens.shape
    # x_0 = wte[tokens] + wpe[positions]                                   (B, T, d)
    x = xp.take(params["wte.weight"], xp.reshape(tokens, (-1,)), axis=0) + xp.take(
        params["wpe.weight"], xp.reshape(positions, (-1,)), axis=0
    )
    x = xp.reshape(x, (B, T, config.n_embd))
    eps = config.layer_norm_epsilon
    offset = 0 if kv_cache is None else kv_cache.length
    caches = []
    for i in range(config.n_layer):
        w = tuple(params[n] for n in _names(i))
        kv = None if kv_cache is None else (kv_cache.k[i], kv_cache.v[i], offset)
        last = at if i == config.n_layer - 1 else None
        x, c = block(xp, x, w, config.n_head, eps, bias, kv, last)
        caches.append(c)
        yield "block"
    h, ln_f = layer_norm(xp, x, params["ln_f.weight"], params["ln_f.bias"], eps)
    return h, caches, ln_f


def _mask(attention_mask: Any, B: int, T: int) -> np.ndarray:
    m = np.asarray(to_numpy(attention_mask))
    if m.shape != (B, T):
        raise ValueError(f"attention_mask must have the shape of tokens {(B, T)}, got {m.shape}")
    if not np.all((m == 0) | (m == 1)):
        raise ValueError("attention_mask must hold only 0 and 1")
    return m.astype(bool)


def _scatter_add_rows(xp: Any, n_rows: int, index: Any, values: Any) -> Any:
    """out[index[n]] += values[n]: the gradient of a row lookup (N,) -> (n_rows, d).

    numpy: ``np.add.at`` (measured 2-7x faster than the one-hot product here); other
    backends: one_hot(index)^T @ values, which every array library (and a GPU) runs.
    """
    if isinstance(values, np.ndarray):
        out = np.zeros((n_rows, values.shape[1]), dtype=values.dtype)
        np.add.at(out, index, values)
        return out
    one_hot = xp.astype(
        index[:, None] == xp.arange(n_rows, device=values.device)[None, :], values.dtype
    )
    return one_hot.mT @ values


def backward(
    params: dict[str, Any],
    config: GPTConfig,
    cache: Any,
    dlogits: Any = None,
    dvalues: Any = None,
    drewards: Any = None,
) -> dict[str, Any]:
    """Gradients of a loss with respect to every parameter, given its gradients with
    respect to the outputs of the :func:`forward` that made ``cache``.

    Parameters
    ----------
    dlogits : (B, T - logits_from, V), optional
        (the positions the forward pass computed logits for; outside its ``logits_mask``,
        if it had one, ignored)
    dvalues, drewards : (B, T), optional
        dL/dvalues and dL/drewards (e.g. nonzero only at each sequence's last token for a
        reward model). A head whose gradient is None gets a zero gradient.

    Returns
    -------
    dict
        One gradient per parameter, same names and shapes as ``params``.

    The chain, from the top:

        dh      = dlogits @ wte + dvalues w_value^T + drewards w_reward^T      (B, T, d)
        dwte    = dlogits^T h  (tied head)  +  scatter_add(tokens, dx_0)
        dwpe    = scatter_add(positions, dx_0)
    """
    return run_steps(backward_steps(params, config, cache, dlogits, dvalues, drewards))


def backward_steps(
    params: dict[str, Any],
    config: GPTConfig,
    cache: Any,
    dlogits: Any = None,
    dvalues: Any = None,
    drewards: Any = None,
) -> Generator[str, None, dict[str, Any]]:
    """:func:`backward` in slices: yields ``"head"`` after the output heads and ``"block"``
    after each transformer block's backward pass, and returns the gradients
    (``grads = yield from backward_steps(...)``)."""
    if cache["incremental"]:
        raise ValueError(
            "cache comes from a kv_cache forward or an only_at one; backward needs a full one"
        )
    w_te = params["wte.weight"]
    xp = _namespace(w_te)
    h = cache["hidden"]
    B, T, d = h.shape
    h2 = xp.reshape(h, (B * T, d))
    grads: dict[str, Any] = {}
    dh = xp.zeros_like(h)
    dwte = None
    if dlogits is not None:
        k = cache["logits_from"]  # the logits began at this position
        _check_grad_shape(dlogits, (B, T - k, config.vocab_size), "dlogits")
        h_k = h2 if k == 0 else xp.reshape(h[:, k:], (B * (T - k), d))
        dl = xp.reshape(dlogits, (B * (T - k), config.vocab_size))
        rows = cache["logit_rows"]
        if rows is None:
            dh_head = matmul(dl, w_te)  # (B (T - k), d)
            dwte = matmul(dl.mT, h_k)  # (V, d)
        else:  # only the positions whose logits were computed
            dl, h_rows = xp.take(dl, rows, axis=0), xp.take(h_k, rows, axis=0)  # (n, V), (n, d)
            dh_head = xp.zeros_like(h_k)
            dh_head[rows] = matmul(dl, w_te)
            dwte = matmul(dl.mT, h_rows)
        dh_head = xp.reshape(dh_head, (B, T - k, d))
        dh = dh_head if k == 0 else xp.concat([xp.zeros_like(h[:, :k]), dh_head], axis=1)
    for head, dhead in (("value", dvalues), ("reward", drewards)):
        name = f"{head}_head"
        if f"{name}.weight" not in params:
            if dhead is not None:
                raise ValueError(f"d{head}s given, but params has no {name}")
            continue
        if dhead is None:
            grads[f"{name}.weight"] = xp.zeros_like(params[f"{name}.weight"])
            grads[f"{name}.bias"] = xp.zeros_like(params[f"{name}.bias"])
            continue
        _check_grad_shape(dhead, (B, T), f"d{head}s")
        dh = dh + dhead[:, :, None] * xp.reshape(params[f"{name}.weight"], (d,))
        grads[f"{name}.weight"] = matmul(h2.mT, xp.reshape(dhead, (B * T, 1)))
        grads[f"{name}.bias"] = xp.reshape(xp.sum(dhead), (1,))
    dx, grads["ln_f.weight"], grads["ln_f.bias"] = layer_norm_backward(
        xp, dh, params["ln_f.weight"], cache["ln_f"]
    )
    yield "head"
    for i in reversed(range(config.n_layer)):
        names = _names(i)
        w = tuple(params[n] for n in names)
        dx, dw = block_backward(xp, dx, w, config.n_head, cache["blocks"][i])
        grads.update(zip(names, dw, strict=True))
        yield "block"
    dx2 = xp.reshape(dx, (B * T, d))
    demb = _scatter_add_rows(xp, config.vocab_size, xp.reshape(cache["tokens"], (-1,)), dx2)
    grads["wte.weight"] = demb if dwte is None else dwte + demb
    grads["wpe.weight"] = _scatter_add_rows(
        xp, config.n_positions, xp.reshape(cache["positions"], (-1,)), dx2
    )
    return {name: grads[name] for name in params}


def _check_grad_shape(g: Any, shape: tuple[int, ...], name: str) -> None:
    if tuple(g.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(g.shape)}")


# ---------------------------------------------------------------------------------------
# log-probabilities, entropy, the language-modelling loss


def token_log_probs(logits: Any, tokens: Any, *, log_probs: Any = None) -> Any:
    """log pi(tokens[:, t+1] | tokens[:, :t+1]) for t = 0 .. T-2, shape (B, T - 1).

    Position t's logits predict token t + 1, so the first token (BOS) has no log-prob.
    ``log_probs``: ``log_softmax(logits[:, :-1])`` (B, T - 1, V) if already computed (it is
    the costly part; :func:`token_log_probs_grad` and :func:`entropy` can reuse it too).

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.zeros((1, 3, 4))  # uniform over 4 tokens
    >>> token_log_probs(logits, np.array([[0, 1, 2]])).round(4)
    array([[-1.3863, -1.3863]])
    """
    xp = _namespace(logits)
    tok = host_to_backend(np.asarray(to_numpy(tokens)).astype(np.intp), logits)
    lp = log_softmax(xp, logits[:, :-1, :]) if log_probs is None else log_probs
    return xp.take_along_axis(lp, tok[:, 1:, None], axis=-1)[:, :, 0]


def token_log_probs_grad(logits: Any, tokens: Any, dlogp: Any, *, log_probs: Any = None) -> Any:
    """dL/dlogits for a loss L of :func:`token_log_probs`, given dL/dlogp (B, T - 1):

        d log pi(y | s) / d logits(s) = onehot(y) - softmax(logits(s))

    so dlogits[:, t] = dlogp[:, t] (onehot(tokens[:, t+1]) - p[:, t]); the last position
    predicts nothing here and gets 0. Shape (B, T, V). ``log_probs`` as for
    :func:`token_log_probs`.
    """
    xp = _namespace(logits)
    B, T, _ = logits.shape
    tok = np.asarray(to_numpy(tokens)).astype(np.intp)[:, 1:]  # (B, T - 1) the predicted ids
    g = xp.exp(log_softmax(xp, logits[:, :-1, :]) if log_probs is None else log_probs)
    # - dlogp p everywhere, then + dlogp at each predicted id: the one-hot term written into
    # its B (T - 1) entries instead of built as a (B, T - 1, V) array: 3 passes over the
    # array instead of 6 (measured on (16, 50, 595) float32: 0.36 against 0.68 ms in CPython,
    # 4.5 against 6.0 ms in Pyodide)
    g *= -dlogp[:, :, None]
    rows = host_to_backend(np.arange(B)[:, None], logits)
    cols = host_to_backend(np.arange(T - 1)[None, :], logits)
    ids = host_to_backend(tok, logits)
    g[rows, cols, ids] += dlogp
    return xp.concat([g, xp.zeros_like(logits[:, -1:, :])], axis=1)


def sequence_log_probs(token_logps: Any, response_mask: Any, reduce: str = "sum") -> Any:
    """Per-sequence log-probability of the masked tokens, shape (B,).

        sum:  log pi(y | x) = sum_t m_t log pi(y_t | ...)       (DPO's sequence log-prob)
        mean: the same divided by sum_t m_t                     (length-normalised, SimPO)

    ``token_logps`` (B, T - 1) from :func:`token_log_probs`; ``response_mask`` (B, T) marks
    the scored tokens of the full sequence (the response and its EOS), 1 = counted; its
    first column (BOS) is dropped to align with ``token_logps``.

    Examples
    --------
    >>> import numpy as np
    >>> lp = np.log(np.array([[0.5, 0.25, 0.5]]))
    >>> m = np.array([[0, 0, 1, 1]])
    >>> sequence_log_probs(lp, m).round(4), sequence_log_probs(lp, m, "mean").round(4)
    (array([-2.0794]), array([-1.0397]))
    """
    if reduce not in ("sum", "mean"):
        raise ValueError(f"reduce must be 'sum' or 'mean', got {reduce!r}")
    xp = _namespace(token_logps)
    m = np.asarray(to_numpy(response_mask))
    if m.ndim != 2 or m.shape[1] != token_logps.shape[1] + 1 or m.shape[0] != token_logps.shape[0]:
        raise ValueError(
            f"response_mask must have shape {(token_logps.shape[0], token_logps.shape[1] + 1)} "
            f"(that of tokens), got {m.shape}"
        )
    mb = host_to_backend(m[:, 1:].astype(float), token_logps, token_logps.dtype)
    total = xp.sum(token_logps * mb, axis=-1)
    if reduce == "sum":
        return total
    counts = np.maximum(m[:, 1:].sum(axis=-1), 1)
    return total / host_to_backend(counts.astype(float), token_logps, token_logps.dtype)


def entropy(logits: Any, *, log_probs: Any = None) -> Any:
    """Entropy of each next-token distribution, H = -sum_v p_v log p_v, shape (B, T)
    (``log_probs``: ``log_softmax(logits)``, if already computed).

    Examples
    --------
    >>> import numpy as np
    >>> entropy(np.zeros((1, 1, 4))).round(4)  # uniform over 4: log 4
    array([[1.3863]])
    """
    xp = _namespace(logits)
    lp = log_softmax(xp, logits) if log_probs is None else log_probs
    return -xp.sum(xp.exp(lp) * lp, axis=-1)


def entropy_grad(logits: Any, dentropy: Any, *, log_probs: Any = None) -> Any:
    """dL/dlogits given dL/dH (B, T):  dH/dlogits = -p (log p + H) (``log_probs`` as for
    :func:`entropy`)."""
    xp = _namespace(logits)
    lp = log_softmax(xp, logits) if log_probs is None else log_probs
    p = xp.exp(lp)
    h = -xp.sum(p * lp, axis=-1, keepdims=True)
    return dentropy[..., None] * (-p * (lp + h))


def next_token_loss(logits: Any, tokens: Any, loss_mask: Any = None) -> tuple[Any, Any]:
    """Language-modelling loss and its gradient with respect to the logits.

        L = -(1 / N) sum_{b, t} m[b, t+1] log pi(tokens[b, t+1] | tokens[b, :t+1]),
        N = sum m[:, 1:]

    ``loss_mask`` (B, T) marks the tokens to predict (default: all but the first); e.g.
    only the response for supervised fine-tuning, never the padding.

    Returns
    -------
    (loss, dlogits) : a 0-d array and (B, T, V).

    Examples
    --------
    >>> import numpy as np
    >>> loss, dlogits = next_token_loss(np.zeros((2, 3, 5)), np.array([[1, 2, 3], [1, 4, 0]]))
    >>> round(float(loss), 4), dlogits.shape  # uniform over 5 tokens: log 5
    (1.6094, (2, 3, 5))
    """
    xp = _namespace(logits)
    B, T, _ = logits.shape
    if loss_mask is None:
        m = np.ones((B, T))
    else:
        m = np.asarray(to_numpy(loss_mask), dtype=float)
        if m.shape != (B, T):
            raise ValueError(f"loss_mask must have shape {(B, T)}, got {m.shape}")
    n = float(m[:, 1:].sum())
    if n == 0:
        raise ValueError("loss_mask selects no token to predict")
    w = host_to_backend(m[:, 1:] / n, logits, logits.dtype)  # (B, T - 1)
    lp = token_log_probs(logits, tokens)
    loss = -xp.sum(w * lp)
    return loss, token_log_probs_grad(logits, tokens, -w)


# ---------------------------------------------------------------------------------------
# sampling


def sampling_probs(logits: Any, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """The distribution :func:`sample` draws from, as numpy float64 (…, V):

        p = softmax(z / temperature) restricted to the top_k largest z, renormalised

    (ties with the k-th largest logit are kept). ``temperature`` > 0; ``top_k`` >= 1 or None
    (all tokens). ``top_k=1`` is greedy decoding.

    Examples
    --------
    >>> import numpy as np
    >>> sampling_probs(np.log(np.array([0.5, 0.3, 0.2])), top_k=2).round(3)
    array([0.625, 0.375, 0.   ])
    """
    temperature, top_k = _check_sampling(temperature, top_k)
    return _sampling_probs(logits, temperature, top_k)


def _sampling_probs(logits: Any, temperature: float, top_k: int | None) -> np.ndarray:
    """:func:`sampling_probs` of checked arguments (the sampling loop checks them once)."""
    z = np.asarray(to_numpy(logits), dtype=np.float64)
    if temperature != 1.0:
        z = z / temperature
    if top_k is not None and top_k < z.shape[-1]:
        kth = np.partition(z, -top_k, axis=-1)[..., -top_k, None]
        z = np.where(z >= kth, z, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


def _check_sampling(temperature: Any, top_k: Any) -> tuple[float, int | None]:
    if isinstance(temperature, bool) or not isinstance(
        temperature, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(
            f"temperature must be a finite number > 0 (use top_k=1 for greedy decoding), "
            f"got {temperature!r}"
        )
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)):
            raise TypeError(f"top_k must be an int or None, got {type(top_k).__name__}")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1 (or None for all tokens), got {top_k}")
        top_k = int(top_k)
    return float(temperature), top_k


def _decode_step(params: dict[str, Any], config: GPTConfig, kv: KVCache, new: np.ndarray) -> Any:
    """Feed one new (real) token per row (B,) through the model with the cache; h (B, 1, d).

    The checks of :func:`forward` are skipped: :func:`sample` made these ids itself.
    """
    w_te = params["wte.weight"]
    L = kv.length
    kv.key_valid[:, L] = True
    bias = host_to_backend(_attention_bias(kv.key_valid[:, : L + 1], 1, L), w_te, w_te.dtype)
    tok = host_to_backend(new[:, None].astype(np.intp), w_te)
    pos = host_to_backend(kv.next_position[:, None], w_te)
    h, _, _ = _trunk(_namespace(w_te), params, config, tok, pos, bias, kv)
    kv.length = L + 1
    kv.next_position = kv.next_position + 1
    return h


@dataclass
class Batch:
    """Prompts and responses as token rows, prompts left-padded so every response starts in
    one column (what :func:`sample` returns and :func:`collate` builds).

    ``tokens`` (B, T) ids: padding, prompt, response (with its EOS if it stopped), padding.
    ``attention_mask`` (B, T): 1 on prompt and response tokens, 0 on padding.
    ``response_mask`` (B, T): 1 on response tokens (EOS included).
    ``prompt_length``: the column where responses start (the longest prompt's length).
    All numpy integer arrays: feed them to :func:`forward` for log-probs and values.
    """

    tokens: np.ndarray
    attention_mask: np.ndarray
    response_mask: np.ndarray
    prompt_length: int

    def responses(self) -> list[list[int]]:
        """The response token ids of each row (EOS included if generated)."""
        return [
            row[m == 1].tolist() for row, m in zip(self.tokens, self.response_mask, strict=True)
        ]

    @property
    def last_index(self) -> np.ndarray:
        """(B,) column of each row's last real token: where a reward model reads its score."""
        T = self.attention_mask.shape[1]
        return T - 1 - np.argmax(self.attention_mask[:, ::-1], axis=1)


def collate(prompts: list[list[int]], responses: list[list[int]], pad_id: int) -> Batch:
    """A :class:`Batch` of given prompt and response token ids (left-padded prompts,
    right-padded responses), e.g. to score texts with :func:`forward`.

    Examples
    --------
    >>> b = collate([[1, 7, 3], [1, 3]], [[8, 2], [9, 9, 2]], pad_id=0)
    >>> b.tokens
    array([[1, 7, 3, 8, 2, 0],
           [0, 1, 3, 9, 9, 2]])
    >>> b.response_mask[1], b.last_index
    (array([0, 0, 0, 1, 1, 1]), array([4, 5]))
    """
    if len(prompts) != len(responses) or not prompts:
        raise ValueError("prompts and responses must be non-empty lists of the same length")
    if min(len(p) for p in prompts) == 0:
        raise ValueError("prompts must not contain an empty prompt")
    P = max(len(p) for p in prompts)
    R = max(len(r) for r in responses)
    B = len(prompts)
    tokens = np.full((B, P + R), pad_id, dtype=np.intp)
    attn = np.zeros((B, P + R), dtype=np.intp)
    resp = np.zeros((B, P + R), dtype=np.intp)
    for b, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        tokens[b, P - len(p) : P] = p
        tokens[b, P : P + len(r)] = r
        attn[b, P - len(p) : P + len(r)] = 1
        resp[b, P : P + len(r)] = 1
    return Batch(tokens, attn, resp, P)


def sample(
    params: dict[str, Any],
    config: GPTConfig,
    prompts: list[list[int]],
    rng: np.random.Generator,
    *,
    max_new_tokens: int,
    eos_id: int,
    pad_id: int,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> Batch:
    """Sample one continuation of each prompt, token by token, with a :class:`KVCache`.

    :func:`sample_steps` run to its end (see there for the method).
    """
    steps = sample_steps(
        params,
        config,
        prompts,
        rng,
        max_new_tokens=max_new_tokens,
        eos_id=eos_id,
        pad_id=pad_id,
        temperature=temperature,
        top_k=top_k,
    )
    return run_steps(steps)


def run_steps(steps: Generator[Any, None, Any]) -> Any:
    """Run a generator of work slices (such as :func:`sample_steps`) to its end and return
    its return value."""
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def sample_steps(
    params: dict[str, Any],
    config: GPTConfig,
    prompts: list[list[int]],
    rng: np.random.Generator,
    *,
    max_new_tokens: int,
    eos_id: int,
    pad_id: int,
    temperature: float = 1.0,
    top_k: int | None = None,
) -> Generator[int, None, Batch]:
    """:func:`sample` in slices: a generator that yields the number of tokens written
    after each one and returns the :class:`Batch` (``batch = yield from sample_steps(...)``),
    so a caller can pause between tokens (a page answering clicks while it samples).

    The prompts (lists of ids, e.g. BOS, prompt words, SEP) are left-padded to a common
    length and run once; then each step feeds only the new tokens, whose keys and values
    join the cache, so a step costs O(T) instead of re-running the whole prefix. Each next
    token is drawn from :func:`sampling_probs` of the last position's logits by inverse
    CDF (:func:`rlhf_mini.core.sampling.sample_categorical`) with one uniform per row from ``rng`` (on the CPU: the same draws for every
    backend). A row stops at ``eos_id`` (later columns are padding) and leaves the batch
    that the next steps run (a batch whose rows stop early costs what its written tokens
    cost); sampling ends when every row has stopped or after ``max_new_tokens`` tokens.
    """
    temperature, top_k = _check_sampling(temperature, top_k)
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)):
        raise TypeError(f"max_new_tokens must be an int, got {type(max_new_tokens).__name__}")
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError("prompts must be a non-empty list of token-id lists")
    lengths = [len(p) for p in prompts]
    if min(lengths) == 0:
        raise ValueError("prompts must not contain an empty prompt")
    P = max(lengths)
    if P + max_new_tokens > config.n_positions:
        raise ValueError(
            f"prompts: a prompt of {P} tokens plus max_new_tokens={max_new_tokens} exceeds "
            f"the context n_positions={config.n_positions}"
        )
    B = len(prompts)
    tokens = np.full((B, P + max_new_tokens), pad_id, dtype=np.intp)
    attn = np.zeros((B, P + max_new_tokens), dtype=np.intp)
    for b, p in enumerate(prompts):
        tokens[b, P - len(p) : P] = p
        attn[b, P - len(p) : P] = 1
    _check_tokens(tokens[:, :P], config, "prompts")

    w_te = params["wte.weight"]
    kv = KVCache.empty(params, config, B, P + max_new_tokens)
    h = forward(params, config, tokens[:, :P], attn[:, :P], logits=False, kv_cache=kv).hidden
    live = np.arange(B)  # the rows still writing, in the order of h and the cache's rows
    n = 0
    for step in range(max_new_tokens):
        logits = matmul(h[:, -1, :], w_te.mT)  # (b, V): only the last position is needed
        probs = _sampling_probs(logits, temperature, top_k)
        # One uniform per row of the batch, also for rows that have stopped: the stream, so
        # every sample, is what it would be if stopped rows were still run (and padded).
        u = rng.random((B, 1))
        nxt = sample_categorical(np, probs, u[live])[:, 0]  # (b,)
        col = P + step
        tokens[live, col] = nxt
        attn[live, col] = 1
        going = nxt != eos_id
        n = step + 1
        if not going.any() or step == max_new_tokens - 1:
            break
        yield n
        if not going.all():  # rows that wrote EOS leave the batch (and the cache)
            kv, live, nxt = kv.keep_rows(going), live[going], nxt[going]
        h = _decode_step(params, config, kv, nxt)
    tokens, attn = tokens[:, : P + n], attn[:, : P + n]
    response = attn.copy()
    response[:, :P] = 0
    return Batch(tokens, attn, response, P)
