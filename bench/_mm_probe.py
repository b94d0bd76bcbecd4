import time, collections
from rlhf_mini.models import transformer as tr
orig = tr.matmul
acc = collections.defaultdict(lambda: [0, 0.0])
def mm(a, b):
    t = time.perf_counter(); out = orig(a, b); dt = time.perf_counter() - t
    key = (tuple(a.shape[:-1]) if a.ndim == 2 else ("...",) , a.shape[-1], b.shape[-1])
    k = (a.shape[-1], b.shape[-1], "big" if a.size // a.shape[-1] > 100 else "small")
    acc[k][0] += 1; acc[k][1] += dt
    return out
tr.matmul = mm
from rlhf_mini import LMPPORun, load_language_model
m = {s: load_language_model(s, dtype="float32") for s in ("sft","reward_verbose")}
run = LMPPORun(beta=0.01, steps=30, seed=0, policy=m["sft"], reference=m["sft"], reward_model=m["reward_verbose"])
run.step(); acc.clear()
for _ in range(5): run.step()
for k, (n, t) in sorted(acc.items(), key=lambda kv: -kv[1][1]):
    print(k, n // 5, round(1000 * t / 5, 1), "ms/iter")
