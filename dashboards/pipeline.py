"""Pipeline health: throughput, event-time lag, dead letters, insert health, restatements.

Prometheus series are the worker's own (streams/metrics.py); restatements and dead-letter
reasons come from ClickHouse (warehouse/schema.py). Kafka consumer-group lag is not exported
by the worker; the event-time lag (now minus the watermark) stands in for it.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus, table, timeseries

from courierwatch.catalog import Catalog
from dashboards.common import base
from dashboards.sources import CLICKHOUSE, DATABASE, PROMETHEUS, ClickHouseQuery

PIPELINE_UID = "courierwatch-pipeline"


def prom_panel(title: str, unit: str, expr: str, legend: str) -> timeseries.Panel:
    return (timeseries.Panel().title(title).datasource(PROMETHEUS).unit(unit)
            .with_target(prometheus.Dataquery().expr(expr).legend_format(legend))
            .height(8).span(12))


def pipeline(catalog: Catalog) -> dashboard.Dashboard:
    restated = f"""SELECT toStartOfHour(restated_at) AS time, kpi, count() AS restatements
FROM {DATABASE}.restatements WHERE $__timeFilter(restated_at)
GROUP BY time, kpi ORDER BY time, kpi"""
    dead = f"""SELECT stage, reason, count() AS dead_letters, max(received_at) AS last_seen
FROM {DATABASE}.dead_letters WHERE $__timeFilter(received_at)
GROUP BY stage, reason ORDER BY dead_letters DESC"""
    late = f"""SELECT hour AS time, uniqExactMerge(arrivals) AS late_arrivals
FROM {DATABASE}.late_events WHERE $__timeFilter(hour) GROUP BY time ORDER BY time"""
    return (base(PIPELINE_UID, "courierwatch · Pipeline health 管道健康",
                 "Throughput, event-time lag, dead letters, insert health and restatements.")
            .with_panel(prom_panel("Events per second by outcome", "ops",
                                   "sum by (outcome) (rate(courierwatch_events_total[5m]))",
                                   "{{outcome}}"))
            .with_panel(prom_panel("Event-time lag (now - watermark)", "s",
                                   "time() - courierwatch_event_time_watermark_seconds",
                                   "{{instance}}"))
            .with_panel(prom_panel("Dead letters per second by reason", "ops",
                                   "sum by (reason) (rate(courierwatch_dead_letters_total[5m]))",
                                   "{{reason}}"))
            .with_panel(prom_panel("Batch time p99 and insert retries", "s",
                                   "histogram_quantile(0.99, sum by (le) "
                                   "(rate(courierwatch_batch_seconds_bucket[5m])))",
                                   "batch p99"))
            .with_panel(timeseries.Panel().title("Restatements per hour 重述")
                        .datasource(CLICKHOUSE)
                        .with_target(ClickHouseQuery(restated).time_series()).height(8).span(12))
            .with_panel(timeseries.Panel().title("Late arrivals per hour (not in figures)")
                        .datasource(CLICKHOUSE)
                        .with_target(ClickHouseQuery(late).time_series()).height(8).span(12))
            .with_panel(table.Panel().title("Dead letters by reason 死信").datasource(CLICKHOUSE)
                        .with_target(ClickHouseQuery(dead).table()).height(8).span(24)))
