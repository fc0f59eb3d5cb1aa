"""Every metric the pipeline exports, in one place (names in base units, bounded labels)."""

from __future__ import annotations

from collections import Counter as Tally

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("courierwatch_events_total",
                 "Scan events by outcome: archived (in figures), late (archived, not in "
                 "figures) or dead_lettered.", ["outcome"])
DEAD_LETTERS = Counter("courierwatch_dead_letters_total",
                       "Rejected events (or whole messages) by reason.", ["reason"])
MESSAGES = Counter("courierwatch_messages_total", "Kafka messages consumed.")
QUARANTINED = Counter("courierwatch_quarantined_messages_total",
                      "Messages whose decoding raised: retried event by event, the events "
                      "that raised dead-lettered with reason `crash` (streams.decode).")
GRAFANA_NOTIFICATIONS = Counter("courierwatch_grafana_notifications_total",
                                "Alerts received from Grafana's webhook contact point.",
                                ["status"])
BATCHES = Counter("courierwatch_batches_total", "Batches inserted into ClickHouse.")
INSERT_RETRIES = Counter("courierwatch_insert_retries_total",
                         "Failed ClickHouse inserts that were retried.")
BATCH_SECONDS = Histogram("courierwatch_batch_seconds",
                          "Time to decode, validate and insert one batch.",
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
STORE_WRITE_CPU = Counter("courierwatch_store_write_cpu_seconds_total",
                          "CPU time of the inserting thread inside store writes: "
                          "clickhouse-connect's serialisation and, with the embedded chDB, "
                          "the part of ClickHouse's insert (parse, archive, views) that runs "
                          "on the calling thread (the benchmark's CPU split).")
BATCH_EVENTS = Histogram("courierwatch_batch_events", "Events per inserted batch.",
                         buckets=(10, 100, 1_000, 5_000, 20_000, 50_000, 100_000))
WATERMARK = Gauge("courierwatch_event_time_watermark_seconds",
                  "Latest event time seen (Unix seconds).")
PUBLISHER = Gauge("courierwatch_publisher",
                  "1 in the one worker that publishes periods and restatements (it holds "
                  "partition 0 of the scan topic, streams.leader), else 0.")
CONFLICTING_EVENT_IDS = Gauge("courierwatch_conflicting_event_ids",
                              "Event ids stored with more than one content (re-sends that "
                              "disagree; each counts once, see `courierwatch conflicts`).")

# Alerting (services.alerts.runner, services.alerts.outbox). KPI series: labels city, company,
# kpi only (bounded by the city registry, the brands and the KPI list; never a parcel).
KPI_VALUE = Gauge("courierwatch_kpi_value",
                  "KPI over the last settled hour of event time, in the KPI's unit "
                  "(ratio, per_1000, ...).", ["city", "company", "kpi"])
KPI_NUMERATOR = Counter("courierwatch_kpi_numerator_total",
                        "Distinct events in KPI numerators, by settled 5-minute bucket.",
                        ["city", "company", "kpi"])
KPI_DENOMINATOR = Counter("courierwatch_kpi_denominator_total",
                          "Distinct events in KPI denominators, by settled 5-minute bucket.",
                          ["city", "company", "kpi"])
ALERTS_FIRING = Gauge("courierwatch_alerts_firing", "Alerts firing now, by severity.",
                      ["severity"])
ALERT_TRANSITIONS = Counter("courierwatch_alert_transitions_total",
                            "Alerts raised (firing) and resolved.", ["state"])
ALERT_NOTIFICATIONS = Counter("courierwatch_alert_notifications_total",
                              "Webhook deliveries by outcome (delivered, failed).", ["outcome"])
ALERT_EVALUATION_SECONDS = Histogram("courierwatch_alert_evaluation_seconds",
                                     "Time of one alert evaluation tick (query and evaluate).",
                                     buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30))
ALERT_EVALUATED_SECONDS = Gauge("courierwatch_alert_evaluated_until_seconds",
                                "Event time up to which alerts are evaluated (Unix seconds).")

def record_batch(messages: int, stored: int, late: int, dead_reasons: list[str],
                 seconds: float, watermark_ms: int) -> None:
    """Account one stored batch: `stored` events in figures, `late` archived only,
    dead letters by reason, the batch's time (decode to stored) and the new watermark."""
    MESSAGES.inc(messages)
    EVENTS.labels("archived").inc(stored)
    EVENTS.labels("late").inc(late)
    EVENTS.labels("dead_lettered").inc(len(dead_reasons))
    for reason, n in Tally(dead_reasons).items():
        DEAD_LETTERS.labels(reason).inc(n)
    BATCHES.inc()
    BATCH_EVENTS.observe(stored + late)
    BATCH_SECONDS.observe(seconds)
    WATERMARK.set(watermark_ms / 1000)
