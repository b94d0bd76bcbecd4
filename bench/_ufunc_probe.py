import time, numpy as np
x = np.random.default_rng(0).normal(size=(16, 50, 128)).astype(np.float32)
for name, f in [("tanh", np.tanh), ("exp", np.exp), ("expit-form", lambda z: 2.0 / (1.0 + np.exp(-2.0 * z)) - 1.0), ("mul", lambda z: z * z)]:
    f(x); t = time.perf_counter()
    for _ in range(20): f(x)
    print(name, round(1000 * (time.perf_counter() - t) / 20, 2), "ms")
