"""What the publisher (streams.publisher) reads from ClickHouse, behind a small contract.

`PublishedFigures` is the contract: the figures of a span of periods, the latest
published figure of each cell, where publication and the archive start, and what reached
the store when (the watermark and the late arrivals, from every worker: warehouse.arrivals). The
publisher writes `kpi_published` and `restatements` through the sink contract
(warehouse.sink); with an in-memory implementation of both it runs in unit tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from courierwatch.catalog import Catalog
from courierwatch.figures import Figure
from courierwatch.periods import HOUR_MS
from courierwatch.routes import RouteTable
from courierwatch.scope import Scope
from warehouse import arrivals
from warehouse.arrivals import Arrivals
from warehouse.client import Warehouse
from warehouse.queries import CellFilter
from warehouse.report import kpi_report
from warehouse.scoping import system_read

Cell = tuple[str, str, str, str, str]  # city, company, period kind, period_start, kpi
# numerator, denominator, value, when it was last published (epoch ms)
Published = tuple[float, float, float | None, int]

PUBLISHED_TABLE = "kpi_published"
RESTATEMENTS_TABLE = "restatements"
PUBLISHED_COLUMNS = ("city", "company", "period", "period_start", "kpi", "numerator",
                     "denominator", "value", "published_at")
RESTATEMENT_COLUMNS = ("city", "company", "period", "period_start", "kpi", "old_numerator",
                       "old_denominator", "old_value", "new_numerator", "new_denominator",
                       "new_value", "cause", "restated_at")


class PublishedFigures(Protocol):
    def figures(self, start_ms: int, end_ms: int, by: str) -> list[Figure]:
        """Every figure (cells and roll-ups) of the `by` periods in [start_ms, end_ms)."""
        ...

    def latest_published(self, periods: set[str]
                         ) -> tuple[dict[Cell, Published], dict[tuple[str, str], int]]:
        """Latest published figure per cell of these period starts, and when each
        published (period kind, period start) pair was last published (epoch ms)."""
        ...

    def published_until_ms(self) -> int:
        """End of the last published hour (0: nothing published yet)."""
        ...

    def archive_start_ms(self) -> int:
        """Start of the hour of the earliest in-figure event (0: the archive is empty)."""
        ...

    def last_published_ms(self) -> int:
        """When anything was last published (epoch ms; 0: never)."""
        ...

    def watermark_ms(self) -> int:
        """The latest in-figure event time stored by any worker (0: none)."""
        ...

    def store_now_ms(self) -> int:
        """The store's clock, the one arrivals are stamped with."""
        ...

    def arrivals_since(self, since_ms: int, hours_before_ms: int) -> Arrivals:
        """Events that reached the store at or after `since_ms` for event hours before
        `hours_before_ms`, by (arrival time, event hour)."""
        ...

    def arrived_after(self, start_ms: int, end_ms: int, after_ms: int) -> int:
        """Events of event hours in [start_ms, end_ms) that reached the store after
        `after_ms`."""
        ...


class StorePublishedFigures:
    """PublishedFigures read from ClickHouse."""

    def __init__(self, wh: Warehouse, routes: RouteTable, catalog: Catalog,
                 min_sample: int) -> None:
        self.wh, self.routes, self.catalog, self.min_sample = wh, routes, catalog, min_sample

    def figures(self, start_ms: int, end_ms: int, by: str) -> list[Figure]:
        flt = CellFilter(start=datetime.fromtimestamp(start_ms / 1000, UTC),
                         end=datetime.fromtimestamp(end_ms / 1000, UTC), by=by,
                         scope=Scope.national())  # publication covers every city
        return [r.figure for r in kpi_report(self.wh, flt, self.routes, self.catalog,
                                             self.min_sample)]

    @system_read("the publisher's own bookkeeping over every city, never served to a caller")
    def latest_published(self, periods: set[str]
                         ) -> tuple[dict[Cell, Published], dict[tuple[str, str], int]]:
        if not periods:
            return {}, {}
        rows = self.wh.query(
            f"""SELECT city, company, period, toString(period_start), kpi,
                   argMax(numerator, published_at), argMax(denominator, published_at),
                   argMax(value, published_at), toUnixTimestamp64Milli(max(published_at))
                FROM {self.wh.db}.{PUBLISHED_TABLE}
                WHERE has({{periods:Array(String)}}, toString(period_start))
                GROUP BY city, company, period, period_start, kpi""",
            {"periods": sorted(periods)})
        published: dict[tuple[str, str], int] = {}
        for r in rows:
            published[(r[2], r[3])] = max(published.get((r[2], r[3]), 0), int(r[8]))
        return ({(r[0], r[1], r[2], r[3], r[4]): (r[5], r[6], r[7], int(r[8])) for r in rows},
                published)

    @system_read("the publisher's progress (one timestamp), never served to a caller")
    def published_until_ms(self) -> int:
        rows = self.wh.query(f"SELECT toUnixTimestamp(max(period_start)) FROM "
                             f"{self.wh.db}.{PUBLISHED_TABLE} WHERE period = 'hour'")
        return int(rows[0][0]) * 1000 + HOUR_MS if rows and rows[0][0] else 0

    @system_read("the publisher's start (one timestamp), never served to a caller")
    def archive_start_ms(self) -> int:
        rows = self.wh.query(f"SELECT toUnixTimestamp64Milli(min(ts)), count() "
                             f"FROM {self.wh.db}.events WHERE late = 0")
        return int(rows[0][0]) // HOUR_MS * HOUR_MS if rows and rows[0][1] else 0

    @system_read("the publisher's progress (one timestamp), never served to a caller")
    def last_published_ms(self) -> int:
        rows = self.wh.query(f"SELECT toUnixTimestamp64Milli(max(published_at)), count() "
                             f"FROM {self.wh.db}.{PUBLISHED_TABLE}")
        return int(rows[0][0]) if rows and rows[0][1] else 0

    def watermark_ms(self) -> int:
        return arrivals.watermark_ms(self.wh)

    def store_now_ms(self) -> int:
        return arrivals.server_now_ms(self.wh)

    def arrivals_since(self, since_ms: int, hours_before_ms: int) -> Arrivals:
        return arrivals.arrivals_since(self.wh, since_ms, hours_before_ms)

    def arrived_after(self, start_ms: int, end_ms: int, after_ms: int) -> int:
        return arrivals.arrived_after(self.wh, start_ms, end_ms, after_ms)
