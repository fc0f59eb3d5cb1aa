"""Every metric the pipeline exports, in one place (names in base units, bounded labels)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("courierwatch_events_total",
                 "Scan events by outcome: archived (in figures), late (archived, not in "
                 "figures) or dead_lettered.", ["outcome"])
DEAD_LETTERS = Counter("courierwatch_dead_letters_total",
                       "Rejected events (or whole messages) by reason.", ["reason"])
MESSAGES = Counter("courierwatch_messages_total", "Kafka messages consumed.")
BATCHES = Counter("courierwatch_batches_total", "Batches inserted into ClickHouse.")
INSERT_RETRIES = Counter("courierwatch_insert_retries_total",
                         "Failed ClickHouse inserts that were retried.")
BATCH_SECONDS = Histogram("courierwatch_batch_seconds",
                          "Time to decode, validate and insert one batch.",
                          buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
BATCH_EVENTS = Histogram("courierwatch_batch_events", "Events per inserted batch.",
                         buckets=(10, 100, 1_000, 5_000, 20_000, 50_000, 100_000))
WATERMARK = Gauge("courierwatch_event_time_watermark_seconds",
                  "Latest event time seen (Unix seconds).")
CONFLICTING_EVENT_IDS = Gauge("courierwatch_conflicting_event_ids",
                              "Event ids stored with more than one content (re-sends that "
                              "disagree; each counts once, see `courierwatch conflicts`).")
