"""A token bucket per caller (token name, or client address without a token).

Each caller may burst `burst` requests, then `rate_per_s` a second on average. The clock
is passed in (a fake clock in tests, `time.monotonic` in the server). The table of buckets
is bounded: past `max_callers`, the fullest buckets (idle callers) are forgotten, which
only ever lets a forgotten caller start again with a full bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float],
                 max_callers: int = 10_000) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate, self.burst, self.clock, self.max_callers = rate_per_s, burst, clock, max_callers
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, caller: str) -> float:
        """0.0 when the request may proceed (and is counted), else seconds until it may."""
        now = self.clock()
        b = self._buckets.get(caller)
        if b is None:
            if len(self._buckets) >= self.max_callers:
                self._forget_idle(now)
            b = self._buckets[caller] = _Bucket(float(self.burst), now)
        b.tokens = min(float(self.burst), b.tokens + (now - b.at) * self.rate)
        b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return 0.0
        return (1.0 - b.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full = [k for k, b in self._buckets.items()
                if b.tokens + (now - b.at) * self.rate >= self.burst]
        for k in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[k]
