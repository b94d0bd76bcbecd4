"""Bradley–Terry: closed forms, gradients, the Newton fit against choix, bad input."""

import math

import choix
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from hypothesis_profiles import examples

import rlhf_mini as rm

finite = st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False)


def test_worked_example_from_the_course():
    # P(A > B) with r_A = 2, r_B = 0 is e^2 / (e^2 + 1)
    assert float(rm.preference_probability(2.0, 0.0)) == pytest.approx(0.8808, abs=5e-5)
    assert float(rm.preference_probability(2.0, 0.0)) == pytest.approx(
        math.exp(2) / (math.exp(2) + 1), rel=1e-15
    )


def test_preference_probability_broadcasts():
    p = rm.preference_probability(np.array([[0.0], [1.0]]), np.array([0.0, 1.0, 2.0]))
    assert p.shape == (2, 3)
    assert p[0, 0] == 0.5 and p[1, 1] == 0.5


@given(finite, finite)
def test_preference_probability_is_complementary_and_bounded(a, b):
    p_ab = float(rm.preference_probability(a, b))
    p_ba = float(rm.preference_probability(b, a))
    assert 0.0 <= p_ab <= 1.0
    assert p_ab + p_ba == pytest.approx(1.0, abs=1e-12)


@given(finite)
def test_preference_probability_depends_only_on_difference(shift):
    base = float(rm.preference_probability(1.3, -0.4))
    assert float(rm.preference_probability(1.3 + shift, -0.4 + shift)) == pytest.approx(
        base, abs=1e-9
    )


def test_bradley_terry_loss_closed_forms():
    assert float(rm.bradley_terry_loss(np.zeros(3), np.zeros(3))) == pytest.approx(math.log(2))
    # -log sigmoid(2) = log(1 + e^-2)
    assert float(rm.bradley_terry_loss([2.0], [0.0])) == pytest.approx(math.log1p(math.exp(-2)))
    # margin shifts the difference
    assert float(rm.bradley_terry_loss([2.0], [0.0], margin=2.0)) == pytest.approx(math.log(2))
    per_pair = rm.bradley_terry_loss([2.0, 2.0], [0.0, 0.0], margin=np.array([2.0, 0.0]))
    assert float(per_pair) == pytest.approx((math.log(2) + math.log1p(math.exp(-2))) / 2)


def test_bradley_terry_loss_is_finite_at_extremes():
    loss = rm.bradley_terry_loss(np.array([-1e4, 1e4]), np.array([1e4, -1e4]))
    # -log sigmoid(-2e4) = 2e4 (+ e^-2e4), -log sigmoid(2e4) ~ 0
    assert float(loss) == pytest.approx(1e4)


@settings(max_examples=examples(60))
@given(
    arrays(np.float64, 5, elements=st.floats(-30, 30)),
    arrays(np.float64, 5, elements=st.floats(-30, 30)),
    st.floats(-3, 3),
)
def test_bradley_terry_grad_matches_finite_differences(rc, rr, margin):
    g_c, g_r = rm.bradley_terry_loss_grad(rc, rr, margin)
    eps = 1e-6
    for i in range(5):
        e = np.zeros(5)
        e[i] = eps
        fd_c = (
            rm.bradley_terry_loss(rc + e, rr, margin) - rm.bradley_terry_loss(rc - e, rr, margin)
        ) / (2 * eps)
        fd_r = (
            rm.bradley_terry_loss(rc, rr + e, margin) - rm.bradley_terry_loss(rc, rr - e, margin)
        ) / (2 * eps)
        assert g_c[i] == pytest.approx(fd_c, abs=1e-7)
        assert g_r[i] == pytest.approx(fd_r, abs=1e-7)


# ----------------------------------------------------------------------------- fitting


def _random_comparisons(rng, n_items, m, spread=1.5):
    true = rng.normal(0, spread, n_items)
    a = rng.integers(0, n_items, m)
    b = (a + rng.integers(1, n_items, m)) % n_items
    p = 1 / (1 + np.exp(-(true[a] - true[b])))
    a_wins = rng.random(m) < p
    winners = np.where(a_wins, a, b)
    losers = np.where(a_wins, b, a)
    return np.stack([winners, losers], axis=1), true


def test_fit_two_items_closed_form():
    # 3 wins vs 1: MLE difference is log(3)
    s = rm.fit_bradley_terry([[0, 1]] * 3 + [[1, 0]], n_items=2)
    assert s[0] - s[1] == pytest.approx(math.log(3), abs=1e-9)
    assert s.sum() == pytest.approx(0.0, abs=1e-12)


def test_fit_satisfies_the_likelihood_equations():
    rng = np.random.default_rng(1)
    comps, _ = _random_comparisons(rng, 12, 400)
    s = rm.fit_bradley_terry(comps, 12)
    # MLE: for every item, observed wins = expected wins
    w, l = comps[:, 0], comps[:, 1]
    p_w = 1 / (1 + np.exp(-(s[w] - s[l])))
    expected_wins = np.bincount(w, weights=p_w, minlength=12) + np.bincount(
        l, weights=1 - p_w, minlength=12
    )
    observed = np.bincount(w, minlength=12)
    np.testing.assert_allclose(expected_wins, observed, atol=1e-7)


@pytest.mark.parametrize("l2", [0.0, 0.1, 2.0])
def test_fit_matches_choix(l2):
    rng = np.random.default_rng(7)
    n = 30
    comps, _ = _random_comparisons(rng, n, 2000)
    ours = rm.fit_bradley_terry(comps, n, l2=l2)
    if l2 == 0:
        theirs = choix.ilsr_pairwise(n, comps, tol=1e-12, max_iter=10_000)
    else:
        # choix minimises alpha * ||s||^2 + NLL, ours (l2 / 2) ||s||^2 + NLL
        theirs = choix.opt_pairwise(n, comps, alpha=l2 / 2, tol=1e-12)
    theirs = theirs - theirs.mean()
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_fit_recovers_true_scores_with_many_comparisons():
    rng = np.random.default_rng(3)
    comps, true = _random_comparisons(rng, 8, 40_000)
    s = rm.fit_bradley_terry(comps, 8)
    np.testing.assert_allclose(s, true - true.mean(), atol=0.08)


def test_fit_handles_an_item_that_never_loses_when_regularised():
    comps = [[0, 1], [0, 2], [1, 2], [2, 1], [0, 1]]
    s = rm.fit_bradley_terry(comps, 3, l2=0.5)
    assert np.all(np.isfinite(s))
    assert s[0] > s[1] and s[0] > s[2]
    # with a prior the optimum is mean-zero automatically, and the gradient vanishes there
    c = np.asarray(comps)
    p = 1 / (1 + np.exp(-(s[c[:, 0]] - s[c[:, 1]])))
    grad = -np.bincount(c[:, 0], weights=1 - p, minlength=3) + np.bincount(
        c[:, 1], weights=1 - p, minlength=3
    )
    np.testing.assert_allclose(grad + 0.5 * s, 0.0, atol=1e-8)


@pytest.mark.parametrize(
    ("comps", "n", "match"),
    [
        ([[0, 1], [1, 2], [2, 1]], 3, "never lose"),
        ([[0, 1], [1, 0], [2, 0]], 3, "never lose"),  # item 2 never loses
        ([[0, 1], [1, 0], [0, 2], [2, 0]], 4, "never"),  # item 3 never plays
        ([[0, 1], [1, 0], [2, 3], [3, 2], [0, 2]], 4, "not strongly connected"),
    ],
)
def test_fit_says_when_the_mle_does_not_exist(comps, n, match):
    with pytest.raises(ValueError, match=match):
        rm.fit_bradley_terry(comps, n)


def test_fit_never_wins_message():
    with pytest.raises(ValueError, match="never win"):
        rm.fit_bradley_terry([[0, 1], [1, 0], [0, 2], [1, 2]], 3)


def test_fit_is_exactly_zero_mean_and_symmetric_under_relabelling():
    rng = np.random.default_rng(11)
    comps, _ = _random_comparisons(rng, 10, 500)
    perm = rng.permutation(10)
    s = rm.fit_bradley_terry(comps, 10, l2=0.01)
    s_perm = rm.fit_bradley_terry(perm[comps], 10, l2=0.01)
    np.testing.assert_allclose(s_perm[perm], s, atol=1e-9)
    assert abs(s.mean()) < 1e-12


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"comparisons": [[0, 5]], "n_items": 3}, ValueError, "comparisons ids"),
        ({"comparisons": [[-1, 0]], "n_items": 3}, ValueError, "comparisons ids"),
        ({"comparisons": [[0.5, 1]], "n_items": 3}, TypeError, "integer"),
        ({"comparisons": [["a", "b"]], "n_items": 3}, TypeError, "integer"),
        ({"comparisons": [0, 1, 2], "n_items": 3}, ValueError, r"shape \(m, 2\)"),
        ({"comparisons": [[0, 1, 2]], "n_items": 3}, ValueError, r"shape \(m, 2\)"),
        ({"comparisons": np.zeros((0, 2), int), "n_items": 3}, ValueError, "empty"),
        ({"comparisons": [[0, 0]], "n_items": 3}, ValueError, "different items"),
        ({"comparisons": [[0, 1]], "n_items": 3, "l2": -1.0}, ValueError, "l2 must be >= 0"),
        ({"comparisons": [[0, 1]], "n_items": 3, "l2": float("nan")}, ValueError, "l2"),
        ({"comparisons": [[0, 1]], "n_items": 2.0}, TypeError, "n_items"),
        ({"comparisons": [[0, 1]], "n_items": 1}, ValueError, "n_items"),
    ],
)
def test_fit_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        rm.fit_bradley_terry(**kwargs)


@pytest.mark.parametrize(
    ("args", "exc", "match"),
    [
        (([1.0, 2.0], [1.0]), ValueError, "r_rejected must have the same shape as r_chosen"),
        (([np.nan], [1.0]), ValueError, "r_chosen must be finite"),
        (([1.0], [np.inf]), ValueError, "r_rejected must be finite"),
        (([], []), ValueError, "r_chosen must not be empty"),
        ((["a"], [1.0]), TypeError, "r_chosen"),
        ((np.array([1 + 1j]), [1.0]), TypeError, "r_chosen"),
    ],
)
def test_bradley_terry_loss_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        rm.bradley_terry_loss(*args)


def test_bradley_terry_loss_bad_margin():
    with pytest.raises(ValueError, match="margin"):
        rm.bradley_terry_loss([1.0, 2.0], [0.0, 0.0], margin=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="margin must be finite"):
        rm.bradley_terry_loss([1.0], [0.0], margin=float("nan"))


def test_preference_probability_bad_input():
    with pytest.raises(ValueError, match="broadcast"):
        rm.preference_probability(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="r_a must be finite"):
        rm.preference_probability(np.nan, 0.0)
    with pytest.raises(TypeError, match="r_b"):
        rm.preference_probability(0.0, "x")


@pytest.mark.parametrize(("seed", "n_items", "m"), [(63, 8, 1702), (216, 14, 2763)])
def test_fit_converges_where_rounding_used_to_stall_it(seed, n_items, m):
    # Regression: on these data (l2 = 0) the line search rejected every Newton step near the
    # optimum (rounding in the objective) and CG on the singular Laplacian diverged below
    # its rounding floor: the fit raised "did not converge".
    rng = np.random.default_rng(seed)
    rng.integers(3, 15), rng.integers(50, 3000)  # the draws that chose n_items and m
    comps, _ = _random_comparisons(rng, n_items, m)
    s = rm.fit_bradley_terry(comps, n_items)
    theirs = choix.ilsr_pairwise(n_items, comps, tol=1e-12, max_iter=10_000)
    np.testing.assert_allclose(s, theirs - theirs.mean(), atol=1e-6)


@settings(max_examples=examples(40))
@given(st.integers(0, 2**31 - 1), st.integers(3, 12), st.sampled_from([0.0, 0.01, 1.0]))
def test_fit_always_converges_on_valid_random_data(seed, n_items, l2):
    rng = np.random.default_rng(seed)
    comps, _ = _random_comparisons(rng, n_items, 300)
    try:
        s = rm.fit_bradley_terry(comps, n_items, l2=l2)
    except ValueError as err:  # only the documented "MLE does not exist" case may raise
        assert l2 == 0 and "do not exist" in str(err)
        return
    assert np.all(np.isfinite(s)) and abs(s.mean()) < 1e-9
