"""The interval maths of the bound rules against published values (no scipy at runtime)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from airlock.analysis.intervals import look_quantile, newcombe_lower, normal_cdf, normal_quantile, wilson

# Phi^-1(p), from scipy.stats.norm.ppf (and standard tables): both tails and the centre
KNOWN_QUANTILES = [
    (1e-300, -37.0470962993612),
    (1e-10, -6.361340902404056),
    (0.001, -3.090232306167813),
    (0.01 / 15, -3.2087069104350183),
    (0.025, -1.9599639845400545),
    (0.3, -0.5244005127080409),
    (0.5, 0.0),
    (0.975, 1.959963984540054),
    (0.995, 2.5758293035489004),
    (0.9999, 3.719016485455709),
]


@pytest.mark.parametrize(("p", "expected"), KNOWN_QUANTILES)
def test_normal_quantile_matches_known_values(p, expected):
    assert normal_quantile(p) == pytest.approx(expected, rel=1e-14, abs=1e-14)


def test_normal_quantile_inverts_the_cdf_across_the_range():
    for p in np.concatenate([np.logspace(-250, -1, 200), np.linspace(0.01, 0.99, 199)]):
        assert normal_cdf(normal_quantile(float(p))) == pytest.approx(float(p), rel=1e-13)
    for p in np.linspace(0.001, 0.999, 199):  # symmetric where 1 - p is still exact enough
        assert normal_quantile(float(p)) == pytest.approx(-normal_quantile(1.0 - float(p)), abs=1e-12)


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_normal_quantile_refuses_impossible_probabilities(p):
    with pytest.raises(ValueError, match="0 < p < 1"):
        normal_quantile(p)


# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3 (score)
@pytest.mark.parametrize(
    ("errors", "requests", "low", "high"),
    [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)],
)
def test_wilson_matches_newcombe_1998(errors, requests, low, high):
    got = wilson(errors, requests, normal_quantile(0.975))
    assert got == pytest.approx((low, high), abs=5e-5)


# Newcombe (1998), "Interval estimation for the difference between independent proportions", method 10
@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [((56, 70), (48, 80), 0.0524, 0.3339), ((9, 10), (3, 10), 0.1705, 0.8090)],
)
def test_newcombe_difference_matches_newcombe_1998(a, b, low, high):
    z = normal_quantile(0.975)
    assert newcombe_lower(*a, *b, z) == pytest.approx(low, abs=5e-5)
    assert -newcombe_lower(*b, *a, z) == pytest.approx(high, abs=5e-5)  # upper bound by symmetry


def test_look_quantile_splits_alpha_over_the_looks():
    assert look_quantile(0.01, 1) == pytest.approx(2.3263478740408408, rel=1e-14)
    assert look_quantile(0.01, 15) == pytest.approx(3.2087069104350183, rel=1e-14)
    assert look_quantile(0.01, 0) == look_quantile(0.01, 1)  # never more than alpha on one look


def test_wilson_bound_covers_the_true_rate_as_promised():
    # One look at 200 requests of a canary truly at 5 %: the lower bound at alpha 0.01 is above 5 % in
    # at most ~1 % of draws (a point estimate is above 5 % in ~45 %).
    rng = np.random.default_rng(11)
    z = look_quantile(0.01, 1)
    draws = rng.binomial(200, 0.05, size=20_000)
    above = np.mean([wilson(float(e), 200.0, z)[0] > 0.05 for e in draws])
    assert above <= 0.015
