"""The publisher against the in-memory sink and an in-memory figure source, fake clock:
when a period is published, and what a late change to a published figure records."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from courierwatch.figures import Figure
from courierwatch.periods import DAY_MS, HOUR_MS, day_of, period_start_text
from streams.publisher import Publisher
from warehouse.publication import (
    PUBLISHED_COLUMNS,
    PUBLISHED_TABLE,
    RESTATEMENT_COLUMNS,
    RESTATEMENTS_TABLE,
    Cell,
    Published,
)
from warehouse.sink import MemorySink

DAY = 1_793_548_800_000  # 2026-11-02 00:00 CST in epoch ms (2026-11-01T16:00Z)
GRACE = HOUR_MS
CLOCK = datetime(2026, 11, 2, 12, tzinfo=UTC)


class MemoryFigures:
    """Figures from per-hour delivered/locker counts of one cell; published figures read
    back from the sink's `kpi_published` rows (latest `published_at` wins)."""

    def __init__(self, sink: MemorySink) -> None:
        self.sink = sink
        self.hours: dict[int, tuple[int, int]] = {}  # hour start -> (locker, delivered)

    def figures(self, start_ms: int, end_ms: int, by: str) -> list[Figure]:
        span = HOUR_MS if by == "hour" else DAY_MS
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for h, (num, den) in self.hours.items():
            if start_ms <= h < end_ms:
                p = h if by == "hour" else day_of(h)
                sums[p][0] += num
                sums[p][1] += den
        return [Figure("331000", "ZTO", period_start_text(p), "locker_share", n, d)
                for p, (n, d) in sums.items() if p + span <= end_ms or by == "hour"]

    def latest_published(self, periods: set[str]
                         ) -> tuple[dict[Cell, Published], set[tuple[str, str]]]:
        latest: dict[Cell, tuple[int, Published]] = {}
        for row in self.sink.rows(PUBLISHED_TABLE):
            r = dict(zip(PUBLISHED_COLUMNS, row, strict=True))
            start = period_start_text(int(r["period_start"]) * 1000)
            if start not in periods:
                continue
            cell = (r["city"], r["company"], r["period"], start, r["kpi"])
            if cell not in latest or latest[cell][0] <= r["published_at"]:
                latest[cell] = (r["published_at"], (r["numerator"], r["denominator"],
                                                    r["value"]))
        return {c: v for c, (_, v) in latest.items()}, {(c[2], c[3]) for c in latest}

    def published_until_ms(self) -> int:
        hours = [int(dict(zip(PUBLISHED_COLUMNS, r, strict=True))["period_start"]) * 1000
                 for r in self.sink.rows(PUBLISHED_TABLE) if r[2] == "hour"]
        return max(hours) + HOUR_MS if hours else 0

    def archive_start_ms(self) -> int:
        return min(self.hours) if self.hours else 0


def published(sink: MemorySink) -> list[tuple[str, str, float, float]]:
    return [(r[2], period_start_text(r[3] * 1000), r[5], r[6]) for r in sink.rows(PUBLISHED_TABLE)]


def test_a_period_is_published_once_the_watermark_passes_its_end_plus_grace() -> None:
    """Hours 08 and 09 hold data; a watermark at 09:59 publishes nothing (08 ends at 09:00,
    plus an hour's grace is 10:00); at 10:00 hour 08 is published with its counts; the
    day only once the watermark passes the day's end plus grace."""
    sink = MemorySink()
    src = MemoryFigures(sink)
    src.hours = {DAY + 8 * HOUR_MS: (3, 10), DAY + 9 * HOUR_MS: (1, 4)}
    pub = Publisher(src, sink, GRACE)
    assert pub.publish(DAY + 10 * HOUR_MS - 1, CLOCK) == 0
    assert published(sink) == []
    pub.publish(DAY + 10 * HOUR_MS, CLOCK)
    assert published(sink) == [("hour", "2026-11-02 08:00:00", 3, 10)]
    pub.publish(DAY + DAY_MS + GRACE, CLOCK, max_hours=None)
    assert ("hour", "2026-11-02 09:00:00", 1, 4) in published(sink)
    assert ("day", "2026-11-02 00:00:00", 4, 14) in published(sink)
    assert sink.rows(RESTATEMENTS_TABLE) == []


def test_late_data_restates_a_published_figure_with_old_new_and_cause() -> None:
    """After hour 08 is published at 3/10, two late events change it to 5/12: the next run
    republishes 5/12 and records one restatement 3/10 -> 5/12 naming 2 late events,
    stamped with the fake clock; an unchanged hour is not republished."""
    sink = MemorySink()
    src = MemoryFigures(sink)
    h8, h9 = DAY + 8 * HOUR_MS, DAY + 9 * HOUR_MS
    src.hours = {h8: (3, 10), h9: (1, 4)}
    pub = Publisher(src, sink, GRACE)
    pub.publish(DAY + 11 * HOUR_MS, CLOCK)
    before = len(sink.rows(PUBLISHED_TABLE))
    src.hours[h8] = (5, 12)
    pub.note_events(Counter({h8: 2}))
    later = datetime(2026, 11, 2, 13, tzinfo=UTC)
    assert pub.publish(DAY + 11 * HOUR_MS, later) == 1
    new_rows = sink.rows(PUBLISHED_TABLE)[before:]
    assert [(r[2], r[5], r[6]) for r in new_rows] == [("hour", 5, 12)]
    (row,) = sink.rows(RESTATEMENTS_TABLE)
    r = dict(zip(RESTATEMENT_COLUMNS, row, strict=True))
    assert (r["old_numerator"], r["old_denominator"], r["new_numerator"],
            r["new_denominator"]) == (3, 10, 5, 12)
    assert r["cause"].startswith("2 events arrived after the period was published")
    assert r["restated_at"] == int(later.timestamp() * 1000)


def test_catch_up_is_bounded_per_call() -> None:
    """A watermark 20 hours ahead publishes at most six newly closed hours per call (a
    backfill catches up over several ticks), all of them with `max_hours=None`."""
    sink = MemorySink()
    src = MemoryFigures(sink)
    src.hours = {DAY + h * HOUR_MS: (1, 2) for h in range(20)}
    pub = Publisher(src, sink, GRACE)
    pub.publish(DAY + 10 * HOUR_MS, CLOCK)  # publishes from the archive start: hours 0-8
    first = {p for k, p, _, _ in published(sink) if k == "hour"}
    pub.publish(DAY + 30 * HOUR_MS, CLOCK)
    second = {p for k, p, _, _ in published(sink) if k == "hour"} - first
    assert len(second) == 6
    pub.publish(DAY + 30 * HOUR_MS, CLOCK, max_hours=None)
    assert len({p for k, p, _, _ in published(sink) if k == "hour"}) == 20
