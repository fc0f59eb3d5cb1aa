"""Exact one-sided tail probabilities and bounds for alerting's tests. Pure, no scipy.

The tails are summed in log space from the observed count outward: each term is
exp(log pmf(j) - log pmf(k)), and a term ratio below 1 (k above the mean) makes them fall
geometrically, so a few dozen terms reach the double's precision even with thousands of
trials. Nothing overflows: `lgamma` carries the factorials.
"""

from __future__ import annotations

import math

_REL_EPS = 1e-15  # stop summing once a term adds less than this share of the sum
_MAX_TERMS = 100_000


def _log_poisson_pmf(k: int, mu: float) -> float:
    return -mu + k * math.log(mu) - math.lgamma(k + 1)


def poisson_sf(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu): the one-sided p-value of k events expected mu.

    1 for k <= 0; for mu == 0, 0 unless k <= 0. Exact to about 1e-14 relative for
    k > mu; for k <= mu it is 1 - P(X <= k - 1), summed the same way downward.
    """
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    if k > mu:
        return math.exp(_log_poisson_pmf(k, mu) + math.log(_tail_up_poisson(k, mu)))
    return max(0.0, 1.0 - _cdf_down_poisson(k - 1, mu))


def _tail_up_poisson(k: int, mu: float) -> float:
    """sum_{j >= k} pmf(j) / pmf(k)."""
    total = term = 1.0
    j = k
    for _ in range(_MAX_TERMS):
        j += 1
        term *= mu / j
        total += term
        if term < total * _REL_EPS:
            break
    return total


def _cdf_down_poisson(k: int, mu: float) -> float:
    """P(X <= k), summed from k downward (k <= mu: the terms fall going down)."""
    log_top = _log_poisson_pmf(k, mu)
    total = term = 1.0
    for j in range(k, 0, -1):
        term *= j / mu
        total += term
        if term < total * _REL_EPS:
            break
    return min(1.0, math.exp(log_top + math.log(total)))


def _log_binom_pmf(k: int, n: int, p: float) -> float:
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): the one-sided p-value of k misses among n when
    the miss probability is p. 1 for k <= 0; 0 for k > n; p >= 1 gives 1 (k <= n)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0:
        return 0.0
    if p >= 1:
        return 1.0
    if k <= n * p:  # at or below the mean: the complement is the short sum
        return max(0.0, 1.0 - _binom_cdf_down(k - 1, n, p))
    ratio = p / (1 - p)
    total = term = 1.0
    for j in range(k, n):
        term *= (n - j) / (j + 1) * ratio
        total += term
        if term < total * _REL_EPS:
            break
    return min(1.0, math.exp(_log_binom_pmf(k, n, p) + math.log(total)))


def _binom_cdf_down(k: int, n: int, p: float) -> float:
    """P(X <= k) for k <= n p, summed from k downward."""
    if k < 0:
        return 0.0
    inv = (1 - p) / p
    total = term = 1.0
    for j in range(k, 0, -1):
        term *= j / (n - j + 1) * inv
        total += term
        if term < total * _REL_EPS:
            break
    return min(1.0, math.exp(_log_binom_pmf(k, n, p) + math.log(total)))


def wilson_lower(misses: int, n: int, z: float) -> float:
    """One-sided Wilson score lower bound of a proportion (0 when n is 0)."""
    return _wilson(misses, n, z, -1.0)



def _wilson(misses: int, n: int, z: float, sign: float) -> float:
    if n <= 0:
        return 0.0
    p = min(1.0, misses / n)
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return min(1.0, max(0.0, (centre + sign * margin) / (1 + z2 / n)))
