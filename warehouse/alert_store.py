"""Reads and writes of alerting's tables (warehouse.alert_schema)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import orjson

from courierwatch.alert_model import ALERT_COUNTS, FIRING, Alert
from warehouse.client import Warehouse
from warehouse.filters import CellFilter, where_clause
from warehouse.scoping import system_read

ALERT_COLUMNS = ("fingerprint", "started_at", "evaluated_at", "state", "severity", "city",
                 "company", "kpi", "policy_id", "resolved_at", "payload")
BucketRow = tuple[str, str, int, dict[str, int]]  # city, company, bucket start ms, counts


def _dt(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@system_read("the evaluator's start (one timestamp), never served to a caller")
def first_bucket_ms(wh: Warehouse) -> int:
    """Start of the earliest bucket in the store (0 when empty)."""
    rows = wh.query(f"SELECT toUnixTimestamp(min(bucket)), count() FROM {wh.db}.alert_cells")
    return int(rows[0][0]) * 1000 if rows and rows[0][1] else 0


@system_read("the alert evaluator's input over every city, never served to a caller")
def bucket_counts(wh: Warehouse, lo_ms: int, hi_ms: int) -> list[BucketRow]:
    """Distinct-event counts per cell and 5-minute bucket with lo <= start < hi."""
    rows = wh.query(
        f"""SELECT city, company, toUnixTimestamp(bucket), flags, uniqExactMerge(events)
            FROM {wh.db}.alert_cells
            WHERE bucket >= toDateTime({{lo:Int64}}, 'UTC')
              AND bucket < toDateTime({{hi:Int64}}, 'UTC')
            GROUP BY city, company, bucket, flags ORDER BY bucket, city, company""",
        {"lo": lo_ms // 1000, "hi": hi_ms // 1000})
    out: dict[tuple[str, str, int], list[int]] = {}
    for city, company, bucket, flags, n in rows:
        counts = out.setdefault((city, company, int(bucket) * 1000), [0] * len(ALERT_COUNTS))
        for i in range(len(ALERT_COUNTS)):
            if flags >> i & 1:
                counts[i] += int(n)
    return [(c, co, b, dict(zip(ALERT_COUNTS, v, strict=True)))
            for (c, co, b), v in out.items()]


def save_alerts(wh: Warehouse, alerts: Iterable[Alert]) -> None:
    rows = [[a.fingerprint, _dt(a.started_at_ms), _dt(a.evaluated_at_ms), a.state, a.severity,
             a.city, a.company, a.kpi, a.policy_id, _dt(a.resolved_at_ms),
             orjson.dumps(a.to_json()).decode()] for a in alerts]
    if rows:
        wh.insert("alerts", [list(c) for c in zip(*rows, strict=True)], ALERT_COLUMNS)


def load_alerts(wh: Warehouse, flt: CellFilter, active: bool = False) -> list[Alert]:
    """The latest state of every alert episode in `flt` (its scope first; from/to select
    by start), newest first; `active`: firing ones only."""
    params: dict[str, object] = {}
    conds = [where_clause(flt, "started_at", params)]
    having = f"HAVING argMax(state, evaluated_at) = '{FIRING}'" if active else ""
    rows = wh.query(
        f"""SELECT argMax(payload, evaluated_at) FROM {wh.db}.alerts
            WHERE {' AND '.join(conds)} GROUP BY fingerprint, started_at {having}
            ORDER BY started_at DESC, fingerprint""", params)
    return [Alert.from_json(orjson.loads(r[0])) for r in rows]


@system_read("the evaluator's progress (one timestamp), never served to a caller")
def load_progress(wh: Warehouse, name: str = "evaluator") -> int:
    """Event time up to which evaluator `name` has evaluated (0: never ran)."""
    rows = wh.query(f"SELECT toUnixTimestamp64Milli(max(evaluated_until)), count() "
                    f"FROM {wh.db}.alert_progress WHERE name = {{n:String}}", {"n": name})
    return int(rows[0][0]) if rows and rows[0][1] else 0


def save_progress(wh: Warehouse, until_ms: int, name: str = "evaluator") -> None:
    if until_ms:
        wh.insert("alert_progress", [[name], [_dt(until_ms)]], ("name", "evaluated_until"))
