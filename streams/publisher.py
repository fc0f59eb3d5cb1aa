"""Publication of closed periods, and restatements when late data changes them.

A period (a CST hour or day) is *published* once the event-time watermark has passed its
end by `grace_ms` (COURIERWATCH_PUBLISH_GRACE_S): its figures go to `kpi_published`.
Events that arrive later for a published period (within the allowed lateness) still
update the figures; the publisher then re-computes that period and records every figure
that changed in `restatements`: old and new numerator, denominator and value, the cause,
and the time. Open periods are live figures, not publications, so their constant
movement is not a restatement.

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


@dataclass
class Publisher:
    source: PublishedFigures
    sink: Sink
    grace_ms: int
    published_until_ms: int = 0        # every hour ending at or before this is published
    late_hours: Counter[int] = field(default_factory=Counter)  # touched after publication

    def _ensure_started(self) -> None:
        """Resume where publication stopped (survives restarts: read from kpi_published)."""
        if not self.published_until_ms:
            self.published_until_ms = self.source.published_until_ms()

    def note_events(self, hours: Counter[int]) -> None:
        """Record the event hours of a stored batch (hour start, epoch ms -> events)."""
        self._ensure_started()
        for h, n in hours.items():
            if h + HOUR_MS <= self.published_until_ms:
                self.late_hours[h] += n

    def publish(self, watermark_ms: int, now: datetime,
                max_hours: int | None = MAX_HOURS_PER_CALL) -> int:
        """Publish newly closed periods and restate touched ones; return restatements made.

        At most `max_hours` newly closed hours per call (None: all of them, as at shutdown).
        `now` stamps `published_at` and `restated_at`.
        """
        closed_until = (watermark_ms - self.grace_ms) // HOUR_MS * HOUR_MS
        if self.published_until_ms and max_hours is not None:
            closed_until = min(closed_until, self.published_until_ms + max_hours * HOUR_MS)
        self._ensure_started()
        if not self.published_until_ms:
            if watermark_ms == 0:
                return 0
            self.published_until_ms = self.source.archive_start_ms()
        hours = set(self.late_hours)
        if closed_until > self.published_until_ms:
            hours |= set(range(self.published_until_ms, closed_until, HOUR_MS))
        if not hours:
            return 0
        late = dict(self.late_hours)
        days = {day_of(h) for h in hours}
        closed = max(closed_until, self.published_until_ms)
        figures = self._figures(hours, "hour") + self._figures(
            {d for d in days | {day_of(h) for h in late} if d + DAY_MS <= closed}, "day")
        restated = self._store(figures, late, now)
        self.late_hours.clear()
        self.published_until_ms = max(self.published_until_ms, closed_until)
        return restated

    def _figures(self, starts: set[int], by: str) -> list[tuple[str, Figure]]:
        if not starts:
            return []
        span = HOUR_MS if by == "hour" else DAY_MS
        wanted = {period_start_text(s) for s in starts}
        figures = self.source.figures(min(starts), max(starts) + span, by)
        return [(by, f) for f in figures if f.period_start in wanted]

    def _store(self, figures: list[tuple[str, Figure]], late: dict[int, int],
               now: datetime) -> int:
        if not figures:
            return 0
        old, published = self.source.latest_published({f.period_start for _, f in figures})
        now_ms = int(now.timestamp() * 1000)
        pub_rows, restated = [], []
        for period, f in figures:
            prev = old.get((f.city, f.company, period, f.period_start, f.kpi))
            if prev is None and (period, f.period_start) in published:
                prev = (0.0, 0.0, None)  # a cell new to a published period: shown as empty
            if prev is not None and (prev[0], prev[1]) == (f.numerator, f.denominator):
                continue
            start = period_start_epoch_s(f.period_start)
            pub_rows.append([f.city, f.company, period, start, f.kpi, f.numerator,
                             f.denominator, f.value, now_ms])
            if prev is not None:
                n_late = _late_in(late, f.period_start, period)
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


def _late_in(late: dict[int, int], period_start: str, period: str) -> int:
    start = period_start_epoch_s(period_start) * 1000
    span = DAY_MS if period == "day" else HOUR_MS
    return sum(n for h, n in late.items() if start <= h < start + span)
