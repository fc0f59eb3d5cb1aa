"""Publication of closed periods, and restatements when late data changes them.

A period (a CST hour or day) is *published* once the event-time watermark has passed its
end by `publish_grace_s`: its figures go to `kpi_published`. Events that arrive later for
a published period (within the allowed lateness) still update the figures; the publisher
then re-computes that period and records every figure that changed in `restatements`:
old and new numerator, denominator and value, the cause, and the time. Open periods are
live figures, not publications, so their constant movement is not a restatement.

Work is bounded by what changed: each run computes only the periods that closed since the
last run (at most six hours of them, so that a backfill whose event time runs ahead of the
clock catches up over several ticks instead of stalling ingest in one long one) and the
closed periods that late events touched.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from courierwatch.catalog import Catalog
from courierwatch.figures import Figure
from courierwatch.routes import RouteTable
from courierwatch.scope import Scope
from services.report import kpi_report
from warehouse.client import Warehouse
from warehouse.queries import CellFilter

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
CST_OFFSET_MS = 8 * HOUR_MS
CST = timezone(timedelta(hours=8))

MAX_HOURS_PER_CALL = 6  # newly closed hours published per call (keeps a tick short)
Cell = tuple[str, str, str, str, str]  # city, company, period kind, period_start, kpi


def day_of(hour_ms: int) -> int:
    """Start (epoch ms) of the CST day containing the hour starting at `hour_ms`."""
    return (hour_ms + CST_OFFSET_MS) // DAY_MS * DAY_MS - CST_OFFSET_MS


@dataclass
class Publisher:
    wh: Warehouse
    routes: RouteTable
    catalog: Catalog
    grace_ms: int
    published_until_ms: int = 0        # every hour ending at or before this is published
    late_hours: Counter[int] = field(default_factory=Counter)  # touched after publication

    def _ensure_started(self) -> None:
        """Resume where publication stopped (survives restarts: read from kpi_published)."""
        if not self.published_until_ms:
            self.published_until_ms = self._stored_until()

    def note_events(self, hours: Counter[int]) -> None:
        """Record the event hours of a stored batch (hour start, epoch ms -> events)."""
        self._ensure_started()
        for h, n in hours.items():
            if h + HOUR_MS <= self.published_until_ms:
                self.late_hours[h] += n

    def publish(self, watermark_ms: int, now: datetime | None = None,
                max_hours: int | None = MAX_HOURS_PER_CALL) -> int:
        """Publish newly closed periods and restate touched ones; return restatements made.

        At most `max_hours` newly closed hours per call (None: all of them, as at shutdown).
        """
        now = now or datetime.now(UTC)
        closed_until = (watermark_ms - self.grace_ms) // HOUR_MS * HOUR_MS
        if self.published_until_ms and max_hours is not None:
            closed_until = min(closed_until, self.published_until_ms + max_hours * HOUR_MS)
        self._ensure_started()
        if not self.published_until_ms:
            if watermark_ms == 0:
                return 0
            self.published_until_ms = self._archive_start()
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

    def _stored_until(self) -> int:
        rows = self.wh.query(f"SELECT toUnixTimestamp(max(period_start)) FROM "
                             f"{self.wh.db}.kpi_published WHERE period = 'hour'")
        return int(rows[0][0]) * 1000 + HOUR_MS if rows and rows[0][0] else 0

    def _archive_start(self) -> int:
        rows = self.wh.query(f"SELECT toUnixTimestamp64Milli(min(ts)), count() "
                             f"FROM {self.wh.db}.events WHERE late = 0")
        return int(rows[0][0]) // HOUR_MS * HOUR_MS if rows and rows[0][1] else 0

    def _figures(self, starts: set[int], by: str) -> list[tuple[str, Figure]]:
        if not starts:
            return []
        span = HOUR_MS if by == "hour" else DAY_MS
        wanted = {datetime.fromtimestamp(s / 1000, CST).strftime("%Y-%m-%d %H:%M:%S")
                  for s in starts}
        lo, hi = min(starts), max(starts) + span
        flt = CellFilter(start=datetime.fromtimestamp(lo / 1000, UTC),
                         end=datetime.fromtimestamp(hi / 1000, UTC), by=by,
                         scope=Scope.national())  # publication covers every city
        return [(by, r.figure) for r in kpi_report(self.wh, flt, self.routes, self.catalog)
                if r.figure.period_start in wanted]

    def _store(self, figures: list[tuple[str, Figure]], late: dict[int, int],
               now: datetime) -> int:
        if not figures:
            return 0
        old, published = self._previous({f.period_start for _, f in figures})
        now_ms = int(now.timestamp() * 1000)
        pub_rows, restated = [], []
        for period, f in figures:
            prev = old.get((f.city, f.company, period, f.period_start, f.kpi))
            if prev is None and (period, f.period_start) in published:
                prev = (0.0, 0.0, None)  # a cell new to a published period: shown as empty
            if prev is not None and (prev[0], prev[1]) == (f.numerator, f.denominator):
                continue
            start = _cst_epoch(f.period_start)
            pub_rows.append([f.city, f.company, period, start, f.kpi, f.numerator,
                             f.denominator, f.value, now_ms])
            if prev is not None:
                n_late = _late_in(late, f.period_start, period)
                restated.append([f.city, f.company, period, start, f.kpi, prev[0], prev[1],
                                 prev[2], f.numerator, f.denominator, f.value,
                                 f"{n_late} events arrived after the period was published "
                                 "(late data)", now_ms])
        if pub_rows:
            self.wh.insert("kpi_published", _columns(pub_rows), PUBLISHED_COLUMNS)
        if restated:
            self.wh.insert("restatements", _columns(restated), RESTATEMENT_COLUMNS)
            log.info("restated %d published figures", len(restated))
        return len(restated)

    def _previous(self, periods: set[str]) -> tuple[dict[Cell, tuple[float, float, float | None]],
                                                   set[tuple[str, str]]]:
        """Latest published figure per cell of these periods, and which periods were."""
        if not periods:
            return {}, set()
        rows = self.wh.query(
            f"""SELECT city, company, period, toString(period_start), kpi,
                   argMax(numerator, published_at), argMax(denominator, published_at),
                   argMax(value, published_at)
                FROM {self.wh.db}.kpi_published
                WHERE toString(period_start) IN %(periods)s
                GROUP BY city, company, period, period_start, kpi""",
            {"periods": tuple(sorted(periods))})
        return ({(r[0], r[1], r[2], r[3], r[4]): (r[5], r[6], r[7]) for r in rows},
                {(r[2], r[3]) for r in rows})


PUBLISHED_COLUMNS = ("city", "company", "period", "period_start", "kpi", "numerator",
                     "denominator", "value", "published_at")
RESTATEMENT_COLUMNS = ("city", "company", "period", "period_start", "kpi", "old_numerator",
                       "old_denominator", "old_value", "new_numerator", "new_denominator",
                       "new_value", "cause", "restated_at")


def _columns(rows: list[list[object]]) -> list[list[object]]:
    return [list(c) for c in zip(*rows, strict=True)]


def _cst_epoch(period_start: str) -> int:
    return int(datetime.fromisoformat(period_start).replace(tzinfo=CST).timestamp())


def _late_in(late: dict[int, int], period_start: str, period: str) -> int:
    start = _cst_epoch(period_start) * 1000
    span = DAY_MS if period == "day" else HOUR_MS
    return sum(n for h, n in late.items() if start <= h < start + span)
