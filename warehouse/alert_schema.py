"""Alerting's tables: 5-minute counts for the evaluator, the alert history, its progress.

- `alert_cells`: per city x company x 5-minute bucket of event time, one `uniqExact` state
  of the event-id hash per count of courierwatch.alert_model.ALERT_COUNTS (distinct events:
  duplicates and re-deliveries do not move an alert). Fed by a materialized view on
  `events` like `cell_counts`; for share KPIs it counts the events that *miss* (ACCEPTED
  without x-ray, ...), a few per cent of the input, so the view adds little to ingest.
- `alerts`: one row per alert episode (fingerprint, started_at) and evaluation that changed
  it; the latest row (by evaluated_at) is the alert's state. The JSON payload is the full
  courierwatch.alert_model.Alert.
- `alert_progress`: the event time up to which alerts are evaluated (survives restarts).
"""

from __future__ import annotations

from courierwatch.alert_model import ALERT_COUNTS
from warehouse.schema import COUNTS

_ACCEPTED = "type = 'ACCEPTED'"
ALERT_CONDITIONS: dict[str, str] = dict(COUNTS) | {
    "not_standard": f"{_ACCEPTED} AND pkg_standard = 0",
    "not_e_waybill": f"{_ACCEPTED} AND pkg_e_waybill = 0",
    "ecommerce_secondary": f"{_ACCEPTED} AND ecommerce = 1 AND pkg_secondary = 1",
    "not_recycled_bag": f"{_ACCEPTED} AND pkg_recycled_bag = 0",
    "not_real_name": f"{_ACCEPTED} AND sec_real_name = 0",
    "not_inspected": f"{_ACCEPTED} AND sec_inspected = 0",
    "not_xray": f"{_ACCEPTED} AND sec_xray = 0",
}


def alert_ddl(db: str) -> tuple[str, ...]:
    states = ",\n  ".join(f"`{n}` AggregateFunction(uniqExact, UInt64)" for n in ALERT_COUNTS)
    select = ",\n  ".join(f"uniqExactIfState(sipHash64(event_id), {ALERT_CONDITIONS[n]}) "
                          f"AS `{n}`" for n in ALERT_COUNTS)
    return (
        f"""CREATE TABLE IF NOT EXISTS {db}.alert_cells (
  city LowCardinality(String), company LowCardinality(String), bucket DateTime('UTC'),
  {states}
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMM(bucket) ORDER BY (bucket, city, company)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.alert_cells_mv TO {db}.alert_cells AS
SELECT city, company, toStartOfFiveMinutes(ts) AS bucket,
  {select}
FROM {db}.events WHERE late = 0 GROUP BY city, company, bucket""",
        f"""CREATE TABLE IF NOT EXISTS {db}.alerts (
  fingerprint String, started_at DateTime64(3, 'UTC'), evaluated_at DateTime64(3, 'UTC'),
  state LowCardinality(String), severity LowCardinality(String), city LowCardinality(String),
  company LowCardinality(String), kpi LowCardinality(String), policy_id String,
  resolved_at Nullable(DateTime64(3, 'UTC')), payload String
) ENGINE = ReplacingMergeTree(evaluated_at) ORDER BY (fingerprint, started_at)""",
        f"""CREATE TABLE IF NOT EXISTS {db}.alert_progress (
  name String, evaluated_until DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(evaluated_until) ORDER BY name""",
    )
