"""The dead-letter flood guard: halt when too large a share of recent input is rejected.

Arroyo caps the share of dead-lettered messages so that a bad producer deploy halts the
consumer instead of dead-lettering everything (docs/STYLE.md, "Two kinds of failure"). The
window is the last `window_events` events (valid and rejected, whole batches at a time);
no verdict before `min_events` were seen. Settings: COURIERWATCH_DLQ_MAX_SHARE,
COURIERWATCH_DLQ_WINDOW_EVENTS, COURIERWATCH_DLQ_MIN_EVENTS. O(1) per batch.
"""

from __future__ import annotations

from collections import deque


class DeadLetterFlood(RuntimeError):
    """Too large a share of recent input was rejected: halt instead of dead-lettering it all."""


class FloodGuard:
    def __init__(self, max_share: float, window_events: int, min_events: int) -> None:
        self.max_share = max_share
        self.window_events = window_events
        self.min_events = min_events
        self._recent: deque[tuple[int, int]] = deque()  # (valid, rejected) per batch
        self.total = 0
        self.rejected = 0

    @property
    def share(self) -> float:
        return self.rejected / self.total if self.total else 0.0

    def observe(self, valid: int, rejected: int) -> None:
        """Count one stored batch; raise DeadLetterFlood when the window's rejected share
        exceeds `max_share` (the batch stays counted: a restart starts a fresh window)."""
        self._recent.append((valid, rejected))
        self.total += valid + rejected
        self.rejected += rejected
        while self._recent and self.total - sum(self._recent[0]) >= self.window_events:
            a, b = self._recent.popleft()
            self.total -= a + b
            self.rejected -= b
        if self.total >= self.min_events and self.share > self.max_share:
            raise DeadLetterFlood(
                f"{self.rejected} of the last {self.total} events were rejected "
                f"({self.share:.0%} > {self.max_share:.0%}); halting so that a bad "
                "producer deploy is fixed instead of dead-lettering everything")
