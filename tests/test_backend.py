"""resolve_backend / Backend / to_numpy, and torch staying optional at import time."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rlhf_mini.core.backend import BACKENDS, Backend, resolve_backend, to_numpy


def test_import_rlhf_mini_imports_no_heavy_module():
    # A fresh interpreter (this test process has torch loaded already). The numpy path,
    # resolve_backend("numpy") included, must not import torch either; that
    # resolve_backend("torch") imports it on demand is test_torch_missing_names_the_extra.
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        import rlhf_mini
        from rlhf_mini.core.backend import resolve_backend
        resolve_backend("numpy")
        x = np.zeros(3)
        rlhf_mini.dpo_loss(x, x, x, x)
        rlhf_mini.gae(np.zeros((2, 3)), np.zeros((2, 3)))
        heavy = sorted(m for m in ("torch", "matplotlib", "tqdm", "scipy", "pandas")
                       if m in sys.modules)
        print(",".join(heavy) or "none")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "none"


def test_numpy_is_the_default():
    b = resolve_backend()
    assert b.name == "numpy"
    assert b.device == "cpu"
    assert b.dtype is np.float64
    x = b.asarray([1, 2, 3])
    assert isinstance(x, np.ndarray)
    assert x.dtype == np.float64
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    z = b.zeros((2, 3))
    assert z.shape == (2, 3)
    assert z.dtype == np.float64
    assert not z.any()


def test_numpy_float32_and_cpu_device():
    b = resolve_backend("numpy", device="cpu", dtype="float32")
    assert b.asarray([0.5]).dtype == np.float32
    assert b.zeros(4).dtype == np.float32
    # an explicit dtype wins over the backend's
    assert b.asarray([1], dtype=np.int64).dtype == np.int64


def test_torch_backend_cpu():
    import torch

    b = resolve_backend("torch", dtype="float32")
    assert b.name == "torch"
    assert b.device == torch.device("cpu")
    assert b.dtype is torch.float32
    x = b.asarray(np.arange(3))
    assert isinstance(x, torch.Tensor)
    assert x.dtype == torch.float32
    assert x.device == torch.device("cpu")
    assert x.tolist() == [0.0, 1.0, 2.0]
    z = b.zeros((2,))
    assert isinstance(z, torch.Tensor)
    assert z.dtype == torch.float32
    assert z.tolist() == [0.0, 0.0]
    # the namespace is array_api_compat's, so library code written against xp runs on it
    assert b.xp.exp(b.asarray([0.0])).tolist() == [1.0]


def test_to_numpy_copies_any_backend_to_numpy():
    import torch

    t = torch.tensor([1.5, -2.0], dtype=torch.float64, requires_grad=True)
    out = to_numpy(t * 2)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [3.0, -4.0])
    a = np.array([1.0])
    assert to_numpy(a) is a
    np.testing.assert_array_equal(to_numpy(3.0), np.array(3.0))
    np.testing.assert_array_equal(to_numpy([1, 2]), np.array([1, 2]))


@pytest.mark.parametrize("backend", ["jax", "Torch", "", None, 3])
def test_unknown_backend_raises_value_error(backend):
    with pytest.raises(ValueError, match="backend must be one of"):
        resolve_backend(backend)


@pytest.mark.parametrize("dtype", ["float16", "int64", "double", None])
@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_dtype_raises_value_error(backend, dtype):
    with pytest.raises(ValueError, match="dtype must be"):
        resolve_backend(backend, dtype=dtype)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", 0])
def test_numpy_with_a_device_raises_value_error(device):
    with pytest.raises(ValueError, match="device must be None or 'cpu' with backend='numpy'"):
        resolve_backend("numpy", device=device)


@pytest.mark.parametrize("device", ["gpu", "not-a-device", "cpu:x", 1.5])
def test_torch_with_a_bad_device_raises_value_error(device):
    with pytest.raises(ValueError, match="device must be a torch device"):
        resolve_backend("torch", device=device)


def test_torch_cuda_without_cuda_raises_value_error_else_resolves():
    import torch

    if torch.cuda.is_available():
        b = resolve_backend("torch", device="cuda")
        assert b.device.type == "cuda"
        assert b.asarray([1.0]).device.type == "cuda"
    else:
        with pytest.raises(ValueError, match=r"torch.cuda.is_available\(\) is False"):
            resolve_backend("torch", device="cuda")


def test_torch_missing_names_the_extra(monkeypatch):
    # sys.modules[name] = None makes `import name` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install 'rlhf-mini\[torch\]'"):
        resolve_backend("torch")
    # numpy keeps working without torch
    assert resolve_backend("numpy").name == "numpy"


def test_backend_is_frozen():
    b = resolve_backend()
    assert isinstance(b, Backend)
    with pytest.raises(AttributeError):
        b.name = "torch"  # type: ignore[misc]
