"""Parity with TRL: the library's equations against TRL's own code, on the same inputs, to 1e-6.

TRL keeps most of its loss code inside trainer methods. Each test runs that very method and
replaces only what needs a real model or several processes, as little as possible:

- GRPO advantages (``scale_rewards`` group / batch / none) and RLOO advantages: real
  ``GRPOTrainer`` / ``RLOOTrainer`` instances on a tiny offline model (tests/tiny_hf.py) run
  their own ``_generate_and_score_completions``; the reward function returns given numbers,
  so the advantages the trainer computes can be compared with ours. (TRL scores in float32.)
- GRPO loss, every aggregation, with the KL term and clip-higher: the same ``GRPOTrainer``'s
  ``_compute_loss`` on a hand-made batch; only the model forward,
  ``_get_per_token_logps_and_entropies``, is replaced by one returning given per-token
  log-probs (requiring grad), so TRL's autograd gradient is compared with ``grpo_loss_grad``.
- KTO: ``KTOTrainer._compute_loss``, unbound, on a minimal object carrying the attributes it
  reads (reference log-probs precomputed, as with ``precompute_ref_log_probs=True``); the
  "model" is a lookup table giving each example's completion its log-prob.
- SimPO: ``CPOTrainer.cpo_loss`` (``loss_type="simpo"``) and ORPO:
  ``ORPOTrainer.odds_ratio_loss``, unbound, on minimal objects (beta, gamma, device).

TRL conventions checked on the way: GRPO's std uses Bessel's correction; GRPO's KL term is
compared with ``use_bias_correction_kl=False`` (TRL 1.16 defaults to True: k3 times the
importance ratio); KTO's reference point is detached and clamped at 0; TRL's ORPO returns
beta * log sigmoid(log_odds) (our loss's negative) and computes it in float32.
"""

from __future__ import annotations

import os

# Nothing here may reach a hub: set before transformers, datasets or trl are imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest
import torch  # the torch and bridge extras are part of `make test`
import trl
from tiny_hf import build_tiny_model

import rlhf_mini as rm

TOL = 1e-6
CPU = torch.device("cpu")


def _close(ours, theirs, scale=1.0):
    """Equal to 1e-6: relative, or absolute against ``scale`` (the magnitude of the batch)."""
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(
        theirs.detach().cpu() if hasattr(theirs, "detach") else theirs, dtype=np.float64
    )
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=TOL, atol=TOL * scale)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-gpt2")))


class QueuedRewards:
    """A TRL reward function returning the numbers it was given, in order."""

    __name__ = "queued_rewards"

    def __init__(self):
        self.values: list[float] = []

    def __call__(self, prompts, completions, **kwargs):
        assert len(completions) == len(prompts) == len(self.values)
        values, self.values = self.values, []
        return values


PROMPTS = [p.text for p in rm.load_world().prompts[:6]]


def _group_trainer(kind, tiny_model, tmp_path_factory, group_size=4):
    from datasets import Dataset

    rewards = QueuedRewards()
    common = {
        "output_dir": str(tmp_path_factory.mktemp(kind)),
        "per_device_train_batch_size": group_size,
        "num_generations": group_size,
        "max_completion_length": 3,
        "report_to": "none",
        "use_cpu": True,
        "save_strategy": "no",
        "beta": 0.0,  # RLOO: no KL in the reward; GRPO: no reference model
    }
    data = Dataset.from_list([{"prompt": p} for p in PROMPTS])
    if kind == "grpo":
        trainer = trl.GRPOTrainer(
            model=tiny_model,
            reward_funcs=rewards,
            args=trl.GRPOConfig(**common),
            train_dataset=data,
        )
    else:
        trainer = trl.RLOOTrainer(
            model=tiny_model,
            reward_funcs=rewards,
            args=trl.RLOOConfig(**common),
            train_dataset=data,
        )
    trainer.model.train()  # as in training: the "train" branches of the code
    return trainer, rewards


@pytest.fixture(scope="module")
def grpo_trainer(tiny_model, tmp_path_factory):
    return _group_trainer("grpo", tiny_model, tmp_path_factory)


@pytest.fixture(scope="module")
def rloo_trainer(tiny_model, tmp_path_factory):
    return _group_trainer("rloo", tiny_model, tmp_path_factory)


def _trainer_advantages(trainer_and_rewards, rewards: np.ndarray) -> torch.Tensor:
    trainer, queue = trainer_and_rewards
    n, g = rewards.shape
    assert g == trainer.num_generations
    queue.values = rewards.reshape(-1).tolist()  # prompt i's G samples are consecutive
    inputs = [{"prompt": PROMPTS[i]} for i in range(n) for _ in range(g)]
    with torch.no_grad():
        out = trainer._generate_and_score_completions(inputs)
    return out["advantages"].reshape(n, g)


def _reward_batches():
    rng = np.random.default_rng(7)
    return {
        "normal": rng.normal(size=(5, 4)),
        "ties": np.array([[1.0, 1.0, 1.0, 1.0], [0.0, 1.0, 0.0, 1.0], [2.5, -1.0, 2.5, 0.0]]),
        "spread": rng.normal(scale=30.0, size=(3, 4)) + 100.0,
    }


@pytest.mark.parametrize("scale", rm.GRPO_SCALES)
@pytest.mark.parametrize("name", list(_reward_batches()))
def test_grpo_advantages_match_grpo_trainer(grpo_trainer, scale, name):
    rewards = _reward_batches()[name].astype(np.float32).astype(np.float64)  # TRL scores in float32
    grpo_trainer[0].scale_rewards = scale
    theirs = _trainer_advantages(grpo_trainer, rewards)
    ours = rm.grpo_advantages(rewards, scale=scale)
    _close(ours, theirs, scale=max(1.0, float(np.abs(ours).max())))


@pytest.mark.parametrize("name", list(_reward_batches()))
def test_rloo_advantages_match_rloo_trainer(rloo_trainer, name):
    rewards = _reward_batches()[name].astype(np.float32).astype(np.float64)
    assert not rloo_trainer[0].normalize_advantages  # TRL's default
    theirs = _trainer_advantages(rloo_trainer, rewards)
    ours = rm.rloo_advantages(rewards)
    _close(ours, theirs, scale=max(1.0, float(np.abs(rewards).max())))


def _grpo_batch(extreme: bool):
    rng = np.random.default_rng(11 if extreme else 3)
    n, T = 4, 5
    logp = np.log(rng.uniform(0.05, 0.95, size=(n, T)))
    spread = 500.0 if extreme else 0.3
    old = logp - rng.normal(scale=0.3, size=(n, T))
    ref = logp + rng.normal(scale=0.3, size=(n, T))
    if extreme:  # log-ratios of +-500 on some real tokens; exp(500) fits in float64
        old[0, 0], old[1, 1], ref[2, 0], ref[3, 2] = (
            logp[0, 0] - spread,
            logp[1, 1] + spread,
            logp[2, 0] + spread,
            logp[3, 2] - spread,
        )
    lengths = np.array([5, 3, 1, 4])
    mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.int64)
    adv = rng.normal(size=n)
    if extreme:
        adv = np.clip(adv, -0.5, 0.5)
    return logp, old, ref, adv, mask


@pytest.mark.parametrize("loss_type", rm.GRPO_LOSS_TYPES)
@pytest.mark.parametrize(("beta", "clip_eps_high"), [(0.0, None), (0.04, None), (0.04, 0.28)])
@pytest.mark.parametrize("extreme", [False, True], ids=["moderate", "log-ratios-500"])
def test_grpo_loss_and_gradient_match_grpo_trainer(
    grpo_trainer, monkeypatch, loss_type, beta, clip_eps_high, extreme
):
    trainer = grpo_trainer[0]
    logp, old, ref, adv, mask = _grpo_batch(extreme)
    n, T = logp.shape
    max_len = 7
    for name, value in {
        "loss_type": loss_type,
        "beta": beta,
        "epsilon_low": 0.2,
        "epsilon_high": 0.2 if clip_eps_high is None else clip_eps_high,
        "max_completion_length": max_len,
        "current_gradient_accumulation_steps": 1,  # set by the training loop
    }.items():
        monkeypatch.setattr(trainer, name, value, raising=False)
    # TRL 1.16 defaults to use_bias_correction_kl=True: k3 multiplied by the importance ratio
    # (DeepSeek-V3.2). The contract is the plain k3 of GRPO, TRL's behaviour with it off.
    monkeypatch.setattr(trainer.args, "use_bias_correction_kl", False)
    logp_t = torch.tensor(logp, requires_grad=True)

    def forward(*args, **kwargs):  # stands in for the model: the given per-token log-probs
        return logp_t, torch.zeros_like(logp_t).detach(), None

    monkeypatch.setattr(trainer, "_get_per_token_logps_and_entropies", forward)
    inputs = {
        "prompt_ids": torch.zeros((n, 2), dtype=torch.long),
        "prompt_mask": torch.ones((n, 2), dtype=torch.long),
        "completion_ids": torch.zeros((n, T), dtype=torch.long),
        "completion_mask": torch.tensor(mask),
        "advantages": torch.tensor(adv),
        "old_per_token_logps": torch.tensor(old),
        "ref_per_token_logps": torch.tensor(ref),
        # what _generate_and_score_completions passes: the completion tokens of the batch
        "num_items_in_batch": torch.tensor(mask.sum()),
    }
    theirs = trainer._compute_loss(trainer.model, inputs)
    theirs.backward()
    kw = {
        "beta": beta,
        "clip_eps": 0.2,
        "clip_eps_high": clip_eps_high,
        "loss_type": loss_type,
        "max_completion_length": max_len,
    }
    ours = rm.grpo_loss(logp, old, ref, adv, mask, **kw)
    scale = max(1.0, abs(float(ours)))
    _close(float(ours), theirs.item(), scale=scale)
    grad = rm.grpo_loss_grad(logp, old, ref, adv, mask, **kw)
    _close(grad, logp_t.grad, scale=max(1.0, float(np.abs(grad).max())))


class _KTOHarness:
    """The attributes ``KTOTrainer._compute_loss`` reads, and the two methods it calls."""

    _compute_loss = trl.KTOTrainer._compute_loss
    _compute_kl_logps = trl.KTOTrainer._compute_kl_logps

    def __init__(self, beta, desirable_weight, undesirable_weight):
        self.model = torch.nn.Module()  # only .training is read
        self.ref_model = None
        self.accelerator = SimpleNamespace(
            device=CPU, gather_for_metrics=lambda x: x
        )  # one process
        self.args = SimpleNamespace(gradient_checkpointing_kwargs=None)
        self.calculate_KL = True
        self.precompute_ref_logps = True
        self.aux_loss_enabled = False
        self.loss_type = "kto"
        self.beta = beta
        self.desirable_weight = desirable_weight
        self.undesirable_weight = undesirable_weight
        self._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._total_train_tokens = 0
        self._tp_size = 1


class _LookupModel:
    """A causal LM whose input row [k, 0] has one completion token of log-prob table[k]."""

    def __init__(self, table):
        self.table = table

    def __call__(self, input_ids, **kwargs):
        log_probs = self.table[input_ids[:, 0]][:, None]  # (B, 1): sum over the completion
        zeros = torch.zeros_like(log_probs).detach()
        return SimpleNamespace(log_probs=log_probs, entropy=zeros, mean_logits=zeros)


def _kto_inputs(policy, labels, ref, policy_kl, ref_kl):
    b, m = len(labels), len(policy_kl)
    table = torch.cat([policy, policy_kl])  # rows 0..b-1: the examples; b..b+m-1: KL pairs
    batch = {
        "input_ids": torch.stack([torch.arange(b), torch.zeros(b, dtype=torch.long)], dim=1),
        "attention_mask": torch.ones((b, 2), dtype=torch.long),
        "completion_mask": torch.tensor([[0, 1]] * b),
        "KL_input_ids": torch.stack(
            [torch.arange(b, b + m), torch.zeros(m, dtype=torch.long)], dim=1
        ),
        "KL_attention_mask": torch.ones((m, 2), dtype=torch.long),
        "KL_completion_mask": torch.tensor([[0, 1]] * m),
        "label": torch.tensor(labels),
        "ref_logps": ref,
        "ref_KL_logps": ref_kl,
    }
    return _LookupModel(table), batch


@pytest.mark.parametrize(("beta", "dw", "uw"), [(0.1, 1.0, 1.0), (0.5, 1.33, 0.8)])
@pytest.mark.parametrize("kl_sign", [1.0, -1.0], ids=["kl-positive", "kl-clamped"])
def test_kto_matches_kto_trainer(beta, dw, uw, kl_sign):
    rng = np.random.default_rng(5)
    labels = [True, False, True, True, False, False, True]
    b = len(labels)
    policy = -20 + 5 * rng.normal(size=b)
    ref = policy + rng.normal(scale=3.0, size=b)
    ref_kl = -25 + 5 * rng.normal(size=b)
    policy_kl = ref_kl + kl_sign * np.abs(rng.normal(scale=2.0, size=b))
    chosen, rejected = np.array(labels), ~np.array(labels)

    policy_t = torch.tensor(policy, requires_grad=True)
    model, batch = _kto_inputs(
        policy_t, labels, torch.tensor(ref), torch.tensor(policy_kl), torch.tensor(ref_kl)
    )
    harness = _KTOHarness(beta, dw, uw)
    harness.model.train()
    theirs = harness._compute_loss(model, batch, return_outputs=False)
    theirs.backward()

    losses, chosen_rewards, rejected_rewards, kl = rm.kto_loss(
        policy[chosen], policy[rejected], policy_kl, ref[chosen], ref[rejected], ref_kl,
        beta=beta, desirable_weight=dw, undesirable_weight=uw,
    )  # fmt: skip
    metrics = harness._metrics["train"]
    _close(float(np.mean(losses)), theirs.item())
    _close(float(kl), metrics["kl"][-1])
    assert (float(kl) == 0.0) == (kl_sign < 0)
    _close(float(np.mean(chosen_rewards)), metrics["rewards/chosen"][-1])
    _close(float(np.mean(rejected_rewards)), metrics["rewards/rejected"][-1])
    # TRL's loss is the mean of the per-example losses: its gradient is ours / b
    grad_c, grad_r = rm.kto_loss_grad(
        policy[chosen], policy[rejected], policy_kl, ref[chosen], ref[rejected], ref_kl,
        beta=beta, desirable_weight=dw, undesirable_weight=uw,
    )  # fmt: skip
    grad = np.empty(b)
    grad[chosen], grad[rejected] = grad_c / b, grad_r / b
    _close(grad, policy_t.grad)
    # each example's own loss: TRL run on that example alone, with the same KL pairs
    ours_by_example = np.empty(b)
    ours_by_example[chosen] = losses[: chosen.sum()]
    ours_by_example[rejected] = losses[chosen.sum() :]
    for i in range(b):
        model, one = _kto_inputs(
            torch.tensor(policy[i : i + 1]), labels[i : i + 1], torch.tensor(ref[i : i + 1]),
            torch.tensor(policy_kl), torch.tensor(ref_kl),
        )  # fmt: skip
        _close(ours_by_example[i], float(harness._compute_loss(model, one, return_outputs=False)))


def _pair_batch():
    rng = np.random.default_rng(9)
    c = -np.abs(rng.normal(scale=1.5, size=8)) - 0.01
    r = -np.abs(rng.normal(scale=1.5, size=8)) - 0.01
    # exactly representable in float32, since TRL's ORPO computes in float32
    return c.astype(np.float32).astype(np.float64), r.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize(
    ("beta", "gamma", "ls"), [(2.0, 0.5, 0.0), (2.5, 1.4, 0.0), (2.0, 0.5, 0.1)]
)
def test_simpo_matches_cpo_trainer_simpo_loss(beta, gamma, ls):
    from trl.experimental.cpo import CPOTrainer

    c, r = _pair_batch()
    harness = SimpleNamespace(
        alpha=0.0,
        beta=beta,
        loss_type="simpo",
        simpo_gamma=gamma,
        label_smoothing=ls,
        accelerator=SimpleNamespace(device=CPU),
    )
    c_t, r_t = torch.tensor(c, requires_grad=True), torch.tensor(r, requires_grad=True)
    losses_t, chosen_t, rejected_t = CPOTrainer.cpo_loss(harness, c_t, r_t)
    losses_t.sum().backward()
    losses, chosen, rejected = rm.simpo_loss(c, r, beta=beta, gamma=gamma, label_smoothing=ls)
    _close(losses, losses_t)
    _close(chosen, chosen_t)
    _close(rejected, rejected_t)
    grad_c, grad_r = rm.simpo_loss_grad(c, r, beta=beta, gamma=gamma, label_smoothing=ls)
    _close(grad_c, c_t.grad)
    _close(grad_r, r_t.grad)


@pytest.mark.parametrize("beta", [0.1, 0.25])
def test_orpo_is_minus_odds_ratio_loss(beta):
    from trl.experimental.orpo import ORPOTrainer

    c, r = _pair_batch()
    c[0] = np.float32(-1e-6)  # near certainty: log(1 - e^c) through expm1
    harness = SimpleNamespace(beta=beta, accelerator=SimpleNamespace(device=CPU))
    c_t, r_t = torch.tensor(c, requires_grad=True), torch.tensor(r, requires_grad=True)
    trl_losses, _, _, _, trl_mean_log_odds = ORPOTrainer.odds_ratio_loss(harness, c_t, r_t)
    # ORPOTrainer's objective: nll - losses.mean(); the odds-ratio part's gradient:
    (-trl_losses).sum().backward()
    losses, log_odds = rm.orpo_loss(c, r, beta=beta)
    _close(losses, -trl_losses)  # TRL returns the negative of the term to minimise
    _close(float(np.mean(log_odds)), float(trl_mean_log_odds))
    grad_c, grad_r = rm.orpo_loss_grad(c, r, beta=beta)
    _close(grad_c, c_t.grad, scale=max(1.0, float(np.abs(grad_c).max())))
    _close(grad_r, r_t.grad)
