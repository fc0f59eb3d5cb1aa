"""Alert evaluation in the worker: settled 5-minute buckets -> evaluator -> history, outbox.

Runs on its own timer and thread, off the per-event path: each tick reads the buckets
that settled since the last one (event time `settle_s` behind the stored watermark) from
`alert_cells` in one query, evaluates them with courierwatch.alerting, and records every
change in the `alerts` table, the progress in `alert_progress`, and each transition
(firing, resolved) in the webhook outbox; the caller sends the transitions to Kafka.
A tick evaluates at most `max_buckets` buckets, so a backfill whose event time runs far
ahead catches up over several ticks; `catch_up()` runs ticks until nothing is left.

The on-time and promise-kept targets are evaluated the same way by a second evaluator
(`courierwatch.alert_model.joined_model`), fed with the figures' own join
(warehouse.queries.on_time_counts by 5-minute slices of delivery time: one join query per
tick over the newly settled slices, never per event). Deliveries are judged only up to the
latest acceptances seen: after a file's last acceptance its deliveries are only the
slow parcels still in flight (all late), which would page on every cell at the end of a
backfill; a live network always accepts, so this costs it nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from courierwatch.alert_model import (
    ALERT_KPIS,
    FIRING,
    JOINED,
    KEPT,
    ON_TIME,
    PROMISED,
    RESOLVED,
    Alert,
    joined_model,
)
from courierwatch.alerting import AlertRules, Evaluator
from courierwatch.catalog import Catalog
from courierwatch.cities import YRD_REGION
from courierwatch.kpi import KPI_BY_NAME
from courierwatch.periods import CST
from courierwatch.routes import RouteTable, load_route_table
from courierwatch.scope import Scope
from services.alerts.outbox import Outbox
from streams import metrics
from warehouse.alert_store import (
    bucket_counts,
    first_bucket_ms,
    load_alerts,
    load_progress,
    save_alerts,
    save_progress,
)
from warehouse.client import Warehouse
from warehouse.filters import CellFilter
from warehouse.queries import on_time_counts

JOINED_PROGRESS = "joined"
HOUR_MS = 3_600_000


def joined_bucket_counts(wh: Warehouse, routes: RouteTable, lo_ms: int, hi_ms: int
                         ) -> list[tuple[str, str, int, dict[str, int]]]:
    """The on-time join's counts per cell and 5-minute slice of delivery time in [lo, hi):
    the figures' own query (so the alerts follow its classes and ends), one query for
    the range, read over every city. (city, company, slice start ms, counts)."""
    flt = CellFilter(start=datetime.fromtimestamp(lo_ms / 1000, UTC),
                     end=datetime.fromtimestamp(hi_ms / 1000, UTC), by="5min",
                     scope=Scope.national())
    out: list[tuple[str, str, int, dict[str, int]]] = []
    for (city, company, period), cell in on_time_counts(wh, flt, routes).items():
        if city == YRD_REGION:  # the YRD plan's targets are judged in each of its cities
            continue
        start = datetime.fromisoformat(period).replace(tzinfo=CST)
        c: dict[str, int] = {PROMISED: cell.promised, KEPT: cell.kept,
                             JOINED: cell.judged, ON_TIME: cell.judged_on_time}
        for j in cell.classes:
            c[f"{JOINED}.{j.route_class}"] = j.joined
            c[f"{ON_TIME}.{j.route_class}"] = j.on_time
        out.append((city, company, int(start.timestamp() * 1000), c))
    return out


def transitions(changes: list[Alert]) -> list[Alert]:
    """The changes a receiver is told about: alerts newly firing, and resolutions."""
    return [a for a in changes if a.state == RESOLVED
            or (a.state == FIRING and a.started_at_ms == a.evaluated_at_ms)]


@dataclass
class AlertRunner:
    wh: Warehouse
    catalog: Catalog
    rules: AlertRules = field(default_factory=AlertRules)
    outbox: Outbox | None = None
    max_buckets: int = 72
    routes: RouteTable = field(default_factory=load_route_table)
    loaded_until_ms: int = 0
    joined_loaded_until_ms: int = 0
    accepting_until_ms: int = 0  # the end of the latest bucket with acceptances
    evaluator: Evaluator = field(init=False)
    joined: Evaluator = field(init=False)

    def __post_init__(self) -> None:
        self.evaluator = Evaluator(self.catalog, self.rules,
                                   evaluated_until_ms=load_progress(self.wh))
        self.joined = Evaluator(self.catalog, self.rules,
                                evaluated_until_ms=load_progress(self.wh, JOINED_PROGRESS),
                                model=joined_model({rc.name: rc.hours
                                                    for rc in self.routes.classes}))
        every_city = CellFilter(scope=Scope.national())  # the evaluator sees every city
        history = load_alerts(self.wh, every_city)
        for ev in (self.evaluator, self.joined):
            recent = ev.evaluated_until_ms - self.rules.history_s * 1000
            ev.restore(a for a in history
                       if a.resolved_at_ms is None or a.resolved_at_ms >= recent)

    def tick(self, watermark_ms: int) -> list[Alert]:
        """Evaluate newly settled buckets; returns the transitions (oldest first)."""
        started = time.perf_counter()
        step = self.rules.bucket_s * 1000
        settled = (watermark_ms - self.rules.settle_s * 1000) // step * step
        begin = self.evaluator.evaluated_until_ms or first_bucket_ms(self.wh)
        if not begin or settled <= begin:
            return []
        until = min(settled, begin + self.max_buckets * step)
        if not self.loaded_until_ms:
            self.loaded_until_ms = begin - self.rules.history_s * 1000
        for city, company, b, counts in bucket_counts(self.wh, self.loaded_until_ms, until):
            self.evaluator.add(city, company, b, counts)
            if counts.get("accepted"):
                self.accepting_until_ms = max(self.accepting_until_ms, b + step)
            if b >= begin:
                self._count(city, company, counts)
        self.loaded_until_ms = until
        changes = self.evaluator.advance(until)
        changes += self._tick_joined(min(settled, self.accepting_until_ms))
        save_alerts(self.wh, changes)
        save_progress(self.wh, self.evaluator.evaluated_until_ms)
        save_progress(self.wh, self.joined.evaluated_until_ms, JOINED_PROGRESS)
        moved = transitions(changes)
        if self.outbox is not None and moved:
            self.outbox.enqueue(moved)
        self._gauges(until)
        for a in moved:
            metrics.ALERT_TRANSITIONS.labels(a.state).inc()
        metrics.ALERT_EVALUATION_SECONDS.observe(time.perf_counter() - started)
        return moved

    def _tick_joined(self, settled_ms: int) -> list[Alert]:
        """Evaluate the on-time join up to the settled time (one query for the new slices;
        on a restart the windows and baseline before them too)."""
        step = self.rules.bucket_s * 1000
        begin = self.joined.evaluated_until_ms or first_bucket_ms(self.wh) // HOUR_MS * HOUR_MS
        if not begin:
            return []
        until = min(settled_ms, begin + self.max_buckets * step)
        if not self.joined_loaded_until_ms:  # (re)start: the windows and the baseline
            self.joined_loaded_until_ms = begin - self.rules.load_s * 1000
            if not self.joined.evaluated_until_ms:
                self.joined.evaluated_until_ms = begin
                self.joined_loaded_until_ms = begin
        if self.joined_loaded_until_ms < until:
            for city, company, b, counts in joined_bucket_counts(
                    self.wh, self.routes, self.joined_loaded_until_ms, until):
                self.joined.add(city, company, b, counts)
            self.joined_loaded_until_ms = until
        return self.joined.advance(until)

    def catch_up(self, watermark_ms: int) -> list[Alert]:
        """Ticks until every settled bucket is evaluated (a backfill's end, shutdown)."""
        moved: list[Alert] = []
        while True:
            before = (self.evaluator.evaluated_until_ms, self.joined.evaluated_until_ms)
            moved += self.tick(watermark_ms)
            if (self.evaluator.evaluated_until_ms, self.joined.evaluated_until_ms) == before:
                return moved

    def _count(self, city: str, company: str, counts: dict[str, int]) -> None:
        c = tuple(counts.values())
        for kpi, how in ALERT_KPIS.items():
            num, den = how.num_den(c)
            if den:
                metrics.KPI_NUMERATOR.labels(city, company, kpi).inc(num)
                metrics.KPI_DENOMINATOR.labels(city, company, kpi).inc(den)

    def _gauges(self, t_ms: int) -> None:
        for cell in self.evaluator.cells:
            c = self.evaluator.window(cell, t_ms, 3600)
            for kpi, how in ALERT_KPIS.items():
                num, den = how.num_den(c)
                value = KPI_BY_NAME[kpi].value(num, den)
                if value is not None:
                    metrics.KPI_VALUE.labels(cell[0], cell[1], kpi).set(value)
        firing = self.evaluator.open_alerts
        for severity in ("page", "warning"):
            metrics.ALERTS_FIRING.labels(severity).set(
                sum(a.severity == severity for a in firing))
        metrics.ALERT_EVALUATED_SECONDS.set(self.evaluator.evaluated_until_ms / 1000)
