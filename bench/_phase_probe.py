import time, sys, json
import numpy as np
from rlhf_mini import LMPPORun, load_language_model
m = {s: load_language_model(s, dtype="float32") for s in ("sft","reward_verbose")}
run = LMPPORun(beta=0.01, steps=30, seed=0, policy=m["sft"], reference=m["sft"], reward_model=m["reward_verbose"])
run.step()
phases = {}
for _ in range(6):
    gen = run._iteration()
    t = time.perf_counter(); last = "start"
    while True:
        try: ev = next(gen)
        except StopIteration: break
        now = time.perf_counter()
        key = ev
        phases.setdefault(key, []).append(1000*(now-t))
        t = now
tot = {k: (len(v)/6, round(sum(v)/6, 1), round(max(v), 1)) for k, v in phases.items()}
print(json.dumps(tot))
