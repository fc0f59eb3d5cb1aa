"""What the publisher (streams.publisher) reads from ClickHouse, behind a small contract.

`PublishedFigures` is the contract: the figures of a span of periods, the latest
published figure of each cell, and where publication and the archive start. The
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
from warehouse.client import Warehouse
from warehouse.queries import CellFilter
from warehouse.report import kpi_report
from warehouse.scoping import system_read

Cell = tuple[str, str, str, str, str]  # city, company, period kind, period_start, kpi
Published = tuple[float, float, float | None]  # numerator, denominator, value

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
                         ) -> tuple[dict[Cell, Published], set[tuple[str, str]]]:
        """Latest published figure per cell of these period starts, and which (period
        kind, period start) pairs were published at all."""
        ...

    def published_until_ms(self) -> int:
        """End of the last published hour (0: nothing published yet)."""
        ...

    def archive_start_ms(self) -> int:
        """Start of the hour of the earliest in-figure event (0: the archive is empty)."""
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
                         ) -> tuple[dict[Cell, Published], set[tuple[str, str]]]:
        if not periods:
            return {}, set()
        rows = self.wh.query(
            f"""SELECT city, company, period, toString(period_start), kpi,
                   argMax(numerator, published_at), argMax(denominator, published_at),
                   argMax(value, published_at)
                FROM {self.wh.db}.{PUBLISHED_TABLE}
                WHERE has({{periods:Array(String)}}, toString(period_start))
                GROUP BY city, company, period, period_start, kpi""",
            {"periods": sorted(periods)})
        return ({(r[0], r[1], r[2], r[3], r[4]): (r[5], r[6], r[7]) for r in rows},
                {(r[2], r[3]) for r in rows})

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
