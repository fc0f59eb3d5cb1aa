"""Alert evaluation in the worker: settled 5-minute buckets -> evaluator -> history, outbox.

Runs on its own timer and thread, off the per-event path: each tick reads the buckets
that settled since the last one (event time `settle_s` behind the stored watermark) from
`alert_cells` in one query, evaluates them with courierwatch.alerting, and records every
change in the `alerts` table, the progress in `alert_progress`, and each transition
(firing, resolved) in the webhook outbox; the caller sends the transitions to Kafka.
A tick evaluates at most `max_buckets` buckets, so a backfill whose event time runs far
ahead catches up over several ticks; `catch_up()` runs ticks until nothing is left.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from courierwatch.alert_model import ALERT_KPIS, FIRING, RESOLVED, Alert
from courierwatch.alerting import AlertRules, Evaluator
from courierwatch.catalog import Catalog
from courierwatch.kpi import KPI_BY_NAME
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
    loaded_until_ms: int = 0
    evaluator: Evaluator = field(init=False)

    def __post_init__(self) -> None:
        self.evaluator = Evaluator(self.catalog, self.rules,
                                   evaluated_until_ms=load_progress(self.wh))
        recent = self.evaluator.evaluated_until_ms - self.rules.history_s * 1000
        every_city = CellFilter(scope=Scope.national())  # the evaluator sees every city
        self.evaluator.restore(a for a in load_alerts(self.wh, every_city)
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
            if b >= begin:
                self._count(city, company, counts)
        self.loaded_until_ms = until
        changes = self.evaluator.advance(until)
        save_alerts(self.wh, changes)
        save_progress(self.wh, self.evaluator.evaluated_until_ms)
        moved = transitions(changes)
        if self.outbox is not None and moved:
            self.outbox.enqueue(moved)
        self._gauges(until)
        for a in moved:
            metrics.ALERT_TRANSITIONS.labels(a.state).inc()
        metrics.ALERT_EVALUATION_SECONDS.observe(time.perf_counter() - started)
        return moved

    def catch_up(self, watermark_ms: int) -> list[Alert]:
        """Ticks until every settled bucket is evaluated (a backfill's end, shutdown)."""
        moved: list[Alert] = []
        while True:
            before = self.evaluator.evaluated_until_ms
            moved += self.tick(watermark_ms)
            if self.evaluator.evaluated_until_ms == before:
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
