"""Alerting's tables: 5-minute counts for the evaluator, the alert history, its progress.

- `alert_cells`: per city x company x 5-minute bucket of event time x `flags` (the bit mask
  of the counts of courierwatch.alert_model.ALERT_COUNTS the event belongs to), one
  `uniqExact` state of the event-id hash (distinct events: duplicates and re-deliveries do
  not move an alert). Fed by a materialized view on `events`; scans that count in no KPI
  (hub scans, out for delivery: about half the input) are skipped. One state per event
  instead of one per count: on 400k generated events in 100-message batches (CPU of the
  inserting process, median of 5) a view with one uniqExactIf state per count took the
  inserts from 3.0 s to 5.7 s, this one from 3.1 s to 3.3 s. For share KPIs the counts
  are of the events that *miss* (ACCEPTED without x-ray, ...).
- `alerts`: one row per alert episode (fingerprint, started_at) and evaluation that changed
  it; the latest row (by evaluated_at) is the alert's state. The JSON payload is the full
  courierwatch.alert_model.Alert.
- `alert_progress`: the event time up to which alerts are evaluated (survives restarts).
"""

from __future__ import annotations

from courierwatch.alert_model import ALERT_COUNTS
from courierwatch.kpi import COUNTS

_ACCEPTED = "type = 'ACCEPTED'"
ALERT_CONDITIONS: dict[str, str] = {c.name: c.condition for c in COUNTS} | {
    "not_standard": f"{_ACCEPTED} AND pkg_standard = 0",
    "not_e_waybill": f"{_ACCEPTED} AND pkg_e_waybill = 0",
    "ecommerce_secondary": f"{_ACCEPTED} AND ecommerce = 1 AND pkg_secondary = 1",
    "not_recycled_bag": f"{_ACCEPTED} AND pkg_recycled_bag = 0",
    "not_real_name": f"{_ACCEPTED} AND sec_real_name = 0",
    "not_inspected": f"{_ACCEPTED} AND sec_inspected = 0",
    "not_xray": f"{_ACCEPTED} AND sec_xray = 0",
}


def flags_sql() -> str:
    """The event's bit mask over ALERT_COUNTS (bit i set: the event counts in count i)."""
    return " + ".join(f"bitShiftLeft(toUInt32({ALERT_CONDITIONS[n]}), {i})"
                      for i, n in enumerate(ALERT_COUNTS))

