"""KTO, SimPO and ORPO in train_dpo: the optimum each reaches where it is known, the
direction each moves where it is not, and the labels KTO is given."""

import numpy as np
import pytest

from rlhf_mini import (
    PREFERENCE_LOSS_TYPES,
    SoftmaxPolicy,
    base_policy,
    dpo_optimal_policy,
    kto_loss,
    load_world,
    sft_policy,
    simulate_comparisons,
    train_dpo,
)


@pytest.fixture(scope="module")
def comparisons():
    return simulate_comparisons(500, seed=0)


@pytest.fixture(scope="module")
def gold_start():
    world = load_world()
    return float(np.mean(sft_policy(world).expected(world.gold_utility())))


def _kl(p, q):
    return float(np.mean(p.kl(q)))


@pytest.mark.parametrize("loss_type", PREFERENCE_LOSS_TYPES)
def test_every_loss_improves_gold_utility(comparisons, gold_start, loss_type):
    h = train_dpo(comparisons, loss_type=loss_type, steps=300, seed=0).history
    assert h["gold_reward"][0] == pytest.approx(gold_start)
    assert h["gold_reward"][-1] > gold_start + 0.1
    assert h["loss"][-1] < h["loss"][0]
    assert h["accuracy"][-1] > 0.75


def test_simpo_without_margin_reaches_the_dpo_optimum_of_a_uniform_reference():
    """SimPO has no reference model: on a table of logits, gamma = 0 makes it DPO against a
    uniform reference, whose minimiser is softmax(s_x / beta) for the Bradley–Terry fit s_x
    of each prompt's comparisons. Where it starts does not matter."""
    data = simulate_comparisons(2000, seed=0, temperature=2.0)  # every MLE exists
    world = load_world()
    uniform = SoftmaxPolicy(np.zeros((world.n_prompts, world.n_candidates)))
    star = dpo_optimal_policy(data, uniform, beta=0.5)
    runs = [
        train_dpo(data, loss_type="simpo", simpo_gamma=0.0, beta=0.5, reference=ref, seed=0)
        for ref in (sft_policy(world), base_policy(world))
    ]
    for run in runs:
        assert _kl(run.policy, star) < 1e-5 * _kl(run.reference, star)
    assert _kl(runs[0].policy, runs[1].policy) < 1e-6


def test_simpo_margin_spreads_chosen_and_rejected_further(comparisons):
    """The loss is small only once beta (log pi(y_w) - log pi(y_l)) exceeds gamma."""
    margins = [
        train_dpo(comparisons, loss_type="simpo", simpo_gamma=g, seed=0).final()["reward_margin"]
        for g in (0.0, 1.0, 2.0)
    ]
    assert margins[0] < margins[1] < margins[2]


def test_orpo_with_a_tiny_beta_is_sft_on_the_chosen_responses(comparisons):
    """Without the odds-ratio term ORPO is maximum likelihood on the chosen responses: each
    prompt's policy becomes the share of its comparisons that chose each response."""
    world = load_world()
    share = np.zeros((world.n_prompts, world.n_candidates))
    np.add.at(share, (comparisons.prompt, comparisons.chosen), 1.0)
    share /= share.sum(axis=1, keepdims=True)
    run = train_dpo(comparisons, loss_type="orpo", beta=1e-3, steps=1000, seed=0)
    assert np.max(np.abs(run.policy.to_numpy() - share)) < 1e-3
    # with a real beta the odds-ratio term moves it on, toward the winners
    strong = train_dpo(comparisons, loss_type="orpo", beta=2.0, steps=1000, seed=0)
    assert strong.final()["gold_reward"] > run.final()["gold_reward"] + 0.1


def test_orpo_in_one_stage_from_the_base_model(comparisons):
    world = load_world()
    base = base_policy(world)
    start = float(np.mean(base.expected(world.gold_utility())))
    run = train_dpo(comparisons, loss_type="orpo", beta=0.5, reference=base, seed=0)
    assert run.final()["gold_reward"] > start + 1.0  # SFT and preference in one loss


def test_kto_learns_from_each_comparison_as_one_desirable_and_one_undesirable_example(
    comparisons,
):
    """The trainer's KTO loss is kto_loss over the unpaired examples (every chosen response
    desirable, every rejected one undesirable), with the exact KL as reference point."""
    run = train_dpo(comparisons, loss_type="kto", beta=0.5, steps=50, seed=0)
    logp = np.log(run.policy.to_numpy())
    ref = np.log(run.reference.to_numpy())
    c = comparisons
    kl = np.array([np.mean(run.policy.kl(run.reference))])
    losses, _, _, z0 = kto_loss(
        logp[c.prompt, c.chosen],
        logp[c.prompt, c.rejected],
        kl,
        ref[c.prompt, c.chosen],
        ref[c.prompt, c.rejected],
        np.zeros(1),
        beta=0.5,
    )
    assert losses.shape == (2 * len(c),)
    assert run.history["loss"][-1] == pytest.approx(float(np.mean(losses)), rel=1e-12)
    assert float(z0) == pytest.approx(run.final()["kl"])


def test_kto_pushes_net_winners_up_and_net_losers_down(comparisons):
    """On a table, a response's log-ratio has gradient beta sigma' (n_rejected - n_chosen):
    up if it was chosen more often than rejected, down otherwise, until the sigmoid
    saturates. On every prompt the net winners end above the net losers."""
    world = load_world()
    run = train_dpo(comparisons, loss_type="kto", beta=0.5, seed=0)
    net = np.zeros((world.n_prompts, world.n_candidates))
    np.add.at(net, (comparisons.prompt, comparisons.chosen), 1)
    np.add.at(net, (comparisons.prompt, comparisons.rejected), -1)
    ratio = np.log(run.policy.to_numpy() / run.reference.to_numpy())
    for x in range(world.n_prompts):
        up, down = ratio[x][net[x] > 0], ratio[x][net[x] < 0]
        assert up.size and down.size
        assert up.min() > down.max(), x
        assert down.max() < 0


def test_reference_free_losses_report_the_starting_policys_ranking(comparisons):
    """SimPO's and ORPO's implicit reward is beta log pi (no reference): at step 0 it already
    ranks pairs as the starting policy does; DPO's and KTO's start at 0."""
    c = comparisons
    logp = np.log(sft_policy().to_numpy())
    prefers = np.mean(logp[c.prompt, c.chosen] > logp[c.prompt, c.rejected])
    for loss_type in ("simpo", "orpo"):
        h = train_dpo(c, loss_type=loss_type, steps=2, seed=0).history
        assert h["accuracy"][0] == pytest.approx(prefers)
    for loss_type in ("sigmoid", "kto"):
        h = train_dpo(c, loss_type=loss_type, steps=2, seed=0).history
        assert h["accuracy"][0] == 0.0 and h["reward_margin"][0] == 0.0
