import time, numpy as np
rng = np.random.default_rng(0)
def t(f, n=10):
    f(); s = time.perf_counter()
    for _ in range(n): f()
    return round(1000 * (time.perf_counter() - s) / n, 2)
N = 800
for (m, k, n_) in [(N, 32, 595), (N, 595, 32), (N, 32, 128), (N, 128, 32), (N, 32, 96)]:
    a = rng.normal(size=(m, k)).astype(np.float32); b = rng.normal(size=(k, n_)).astype(np.float32)
    print("A@B", (m, k, n_), "einsum", t(lambda: np.einsum("ij,jk->ik", a, b)), "@", t(lambda: a @ b), "dot", t(lambda: np.dot(a, b)))
# weight gradients: x^T dy with x (N,i), dy (N,o)
for (i, o) in [(32, 595), (595, 32), (32, 128), (128, 32), (32, 96), (32, 32)]:
    x = rng.normal(size=(N, i)).astype(np.float32); dy = rng.normal(size=(N, o)).astype(np.float32)
    print("x^T dy", (i, o), "einsum(view)", t(lambda: np.einsum("ij,jk->ik", x.T, dy)), "einsum ni,no", t(lambda: np.einsum("ni,no->io", x, dy)),
          "einsum(copy)", t(lambda: np.einsum("ij,jk->ik", np.ascontiguousarray(x.T), dy)), "@", t(lambda: x.T @ dy))
