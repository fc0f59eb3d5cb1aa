"""The exact tails of courierwatch.alert_stats against exact rational sums computed here."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from courierwatch.alert_stats import binomial_sf, poisson_sf


def exact_binomial_sf(k: int, n: int, p: Fraction) -> float:
    return float(sum(math.comb(n, j) * p**j * (1 - p)**(n - j) for j in range(k, n + 1)))


def exact_poisson_sf(k: int, mu: float) -> float:
    below = sum(Fraction(mu)**j / math.factorial(j) for j in range(k))
    return float(1 - Fraction(math.exp(-mu)) * below)


@pytest.mark.parametrize(("k", "n", "p"), [
    pytest.param(3, 50, Fraction(2, 1000), id="three-delays-in-50"),
    pytest.param(12, 1000, Fraction(2, 1000), id="12-in-1000"),
    pytest.param(5, 100, Fraction(2, 100), id="below-the-mean"),
    pytest.param(90, 100, Fraction(88, 100), id="large-budget"),
    pytest.param(1, 10, Fraction(1, 10), id="one"),
    pytest.param(0, 10, Fraction(1, 10), id="zero"),
    pytest.param(150, 800, Fraction(15, 100), id="hundreds"),
])
def test_binomial_tail_matches_the_exact_sum(k: int, n: int, p: Fraction) -> None:
    """P(X >= k) for Binomial(n, p) to 1e-9 relative, in the tail and below the mean."""
    assert binomial_sf(k, n, float(p)) == pytest.approx(exact_binomial_sf(k, n, p), rel=1e-9)


@pytest.mark.parametrize(("k", "mu"), [
    pytest.param(20, 6.0, id="issue-evidence-6h"),
    pytest.param(3, 0.04, id="tiny-mean"),
    pytest.param(10, 10.0, id="at-the-mean"),
    pytest.param(2, 9.0, id="below-the-mean"),
    pytest.param(0, 1.0, id="zero"),
])
def test_poisson_tail_matches_the_exact_sum(k: int, mu: float) -> None:
    """P(X >= k) for Poisson(mu) to 1e-9 relative."""
    assert poisson_sf(k, mu) == pytest.approx(exact_poisson_sf(k, mu), rel=1e-9)


def test_edges() -> None:
    """More misses than trials is impossible; a zero share makes any miss impossible."""
    assert binomial_sf(11, 10, 0.5) == 0.0
    assert binomial_sf(1, 10, 0.0) == 0.0
    assert poisson_sf(1, 0.0) == 0.0
