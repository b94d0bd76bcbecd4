import cProfile, pstats, io
from rlhf_mini import LMPPORun, load_language_model
m = {s: load_language_model(s, dtype="float32") for s in ("sft","reward_verbose")}
run = LMPPORun(beta=0.01, steps=30, seed=0, policy=m["sft"], reference=m["sft"], reward_model=m["reward_verbose"])
run.step()
pr = cProfile.Profile(); pr.enable()
for _ in range(5): run.step()
pr.disable()
s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats("cumtime").print_stats(80); print(s.getvalue())
