"""Publication of closed periods, and restatements when late data changes them.

A period (a CST hour or day) is *published* once the event-time watermark has passed its
end by `grace_ms` (COURIERWATCH_PUBLISH_GRACE_S): its figures go to `kpi_published`.
Events that arrive later for a published period (within the allowed lateness) still
update the figures; the publisher then re-computes that period and records every figure
that changed in `restatements`: old and new numerator, denominator and value, the cause,
and the time. Open periods are live figures, not publications, so their constant
movement is not a restatement.

One publisher per deployment, however many workers (streams.leader decides which runs
it): so the watermark and the late arrivals come from the store (`hour_arrivals`, fed by a
view from every worker's inserts, warehouse.arrivals), not from this worker's batches. A
publisher that takes over (a restart, a rebalance) resumes from what is stored: the last
published hour, and arrivals since the last publication less `ARRIVAL_MARGIN_MS`;
re-computing a period that did not change writes nothing, so looking twice is harmless.

Work is bounded by what changed: each run computes only the periods that closed since the
last run (at most six hours of them, so that a backfill whose event time runs ahead of the
clock catches up over several ticks instead of stalling ingest in one long one) and the
closed periods that late events touched. Reads go through `PublishedFigures`, writes
through the sink contract: the publisher itself does no I/O, and is unit-tested with the
in-memory sink and a fake clock.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from courierwatch.figures import Figure
from courierwatch.periods import (
    DAY_MS,
    HOUR_MS,
    day_of,
    period_start_epoch_s,
    period_start_text,
)
from warehouse.arrivals import Arrivals
from warehouse.publication import (
    PUBLISHED_COLUMNS,
    PUBLISHED_TABLE,
    RESTATEMENT_COLUMNS,
    RESTATEMENTS_TABLE,
    PublishedFigures,
)
from warehouse.sink import Sink

log = logging.getLogger(__name__)

MAX_HOURS_PER_CALL = 6  # newly closed hours published per call (keeps a tick short)
# Arrivals are looked at again this far back: covers an insert's duration between its
# view's clock reading and its commit, and clock differences between ClickHouse nodes and
# workers (NTP keeps them within milliseconds).
ARRIVAL_MARGIN_MS = 60_000


@dataclass
class Publisher:
    source: PublishedFigures
    sink: Sink
    grace_ms: int
    # Checked right before storing: a publisher that lost its leadership while computing
    # writes nothing (streams.leader).
    still_leading: Callable[[], bool] = lambda: True
    published_until_ms: int = 0        # every hour ending at or before this is published
    checked_ms: int = 0                # store time of the last look at the arrivals
    seen: Arrivals = field(default_factory=dict)  # arrivals at that look

    def resume(self) -> None:
        """Forget what this process knew: the next call re-reads it from the store (on
        taking over publication, when another worker may have published meanwhile)."""
        self.published_until_ms, self.checked_ms, self.seen = 0, 0, {}

    def _ensure_started(self) -> None:
        """Resume where publication stopped (survives restarts: read from kpi_published)."""
        if not self.published_until_ms:
            self.published_until_ms = self.source.published_until_ms()

    def publish(self, watermark_ms: int | None, now: datetime,
                max_hours: int | None = MAX_HOURS_PER_CALL) -> int:
        """Publish newly closed periods and restate touched ones; return restatements made.

        `watermark_ms` None: the latest event time stored by any worker (the store's). At
        most `max_hours` newly closed hours per call (None: all of them, as at shutdown).
        `now` stamps `published_at` and `restated_at`.
        """
        if watermark_ms is None:
            watermark_ms = self.source.watermark_ms()
        closed_until = (watermark_ms - self.grace_ms) // HOUR_MS * HOUR_MS
        self._ensure_started()
        if self.published_until_ms and max_hours is not None:
            closed_until = min(closed_until, self.published_until_ms + max_hours * HOUR_MS)
        late, looked = self._late_hours()
        if not self.published_until_ms:
            if watermark_ms == 0:
                return 0
            self.published_until_ms = self.source.archive_start_ms()
        hours = set(late)
        if closed_until > self.published_until_ms:
            hours |= set(range(self.published_until_ms, closed_until, HOUR_MS))
        if not hours:
            self.checked_ms, self.seen = looked
            return 0
        days = {day_of(h) for h in hours}
        closed = max(closed_until, self.published_until_ms)
        figures = self._figures(hours, "hour") + self._figures(
            {d for d in days | {day_of(h) for h in late} if d + DAY_MS <= closed}, "day")
        if not self.still_leading():
            log.warning("publication handed over while computing; not storing")
            self.resume()
            return 0
        restated = self._store(figures, now)
        # Only now: if storing failed, the next call finds the same late arrivals again.
        self.checked_ms, self.seen = looked
        self.published_until_ms = max(self.published_until_ms, closed_until)
        return restated

    def _late_hours(self) -> tuple[Counter[int], tuple[int, Arrivals]]:
        """Published hours that received events since the last look (hour -> events), and
        the look (store time, arrivals seen) to remember once they are handled."""
        if not self.published_until_ms:
            return Counter(), (self.checked_ms, self.seen)
        if not self.checked_ms:
            self.checked_ms = self.source.last_published_ms()
        now_ms = self.source.store_now_ms()
        current = self.source.arrivals_since(self.checked_ms - ARRIVAL_MARGIN_MS,
                                             self.published_until_ms)
        late: Counter[int] = Counter()
        for key, n in current.items():
            if n > self.seen.get(key, 0):
                late[key[1]] += n - self.seen.get(key, 0)
        return late, (now_ms, current)

    def _figures(self, starts: set[int], by: str) -> list[tuple[str, Figure]]:
        if not starts:
            return []
        span = HOUR_MS if by == "hour" else DAY_MS
        wanted = {period_start_text(s) for s in starts}
        figures = self.source.figures(min(starts), max(starts) + span, by)
        return [(by, f) for f in figures if f.period_start in wanted]

    def _store(self, figures: list[tuple[str, Figure]], now: datetime) -> int:
        if not figures:
            return 0
        old, published = self.source.latest_published({f.period_start for _, f in figures})
        now_ms = int(now.timestamp() * 1000)
        counted: dict[tuple[int, str, int], int] = {}

        def late_count(start_ms: int, period: str, after_ms: int) -> int:
            """Events of the period that reached the store after its figure was last
            published."""
            key = (start_ms, period, after_ms)
            if key not in counted:
                span = DAY_MS if period == "day" else HOUR_MS
                counted[key] = self.source.arrived_after(start_ms, start_ms + span, after_ms)
            return counted[key]

        pub_rows, restated = [], []
        for period, f in figures:
            prev = old.get((f.city, f.company, period, f.period_start, f.kpi))
            if prev is None and (period, f.period_start) in published:
                # a cell new to a published period: shown as empty since its publication
                prev = (0.0, 0.0, None, published[(period, f.period_start)])
            if prev is not None and (prev[0], prev[1]) == (f.numerator, f.denominator):
                continue
            start = period_start_epoch_s(f.period_start)
            pub_rows.append([f.city, f.company, period, start, f.kpi, f.numerator,
                             f.denominator, f.value, now_ms])
            if prev is not None:
                n_late = late_count(start * 1000, period, prev[3])
                restated.append([f.city, f.company, period, start, f.kpi, prev[0], prev[1],
                                 prev[2], f.numerator, f.denominator, f.value,
                                 f"{n_late} events arrived after the period was published "
                                 "(late data)", now_ms])
        if pub_rows:
            self.sink.write(PUBLISHED_TABLE, _columns(pub_rows), PUBLISHED_COLUMNS)
        if restated:
            self.sink.write(RESTATEMENTS_TABLE, _columns(restated), RESTATEMENT_COLUMNS)
            log.info("restated %d published figures", len(restated))
        return len(restated)


def _columns(rows: list[list[object]]) -> list[list[object]]:
    return [list(c) for c in zip(*rows, strict=True)]
