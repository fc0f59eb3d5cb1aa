"""`courierwatch replay`: recompute a period from the event archive, in isolation, for audit.

The archive (`events`) is the event log of record: every arrival with its topic, partition
and offset, and the late flag it was given at ingest. A replay copies the period's events,
plus the acceptances of the parcels delivered in it (the on-time join needs them), into a
fresh database with the same schema, lets the same materialized views and queries compute
every figure there, and compares the result with the live figures and with what was
published. It writes to DIR:

- `report.json`: the filter, counts, the replayed figures with their targets, and every
  difference from the live and the published figures;
- `events.csv`: the events that produced the figures (event id, type, city, company, ts,
  topic, partition, offset, late), so each figure can be traced to its messages.
"""

from __future__ import annotations

import csv
import hashlib
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from courierwatch import __version__
from courierwatch.catalog import load_catalog
from courierwatch.judgement import ReportRow
from courierwatch.routes import load_route_table
from runtime.settings import Settings
from warehouse.client import Warehouse
from warehouse.queries import CellFilter, where_clause
from warehouse.report import kpi_report
from warehouse.scoping import system_read

Cell = tuple[str, str, str, str]


def _copy_period(wh: Warehouse, scratch: str, flt: CellFilter) -> int:
    """Copy the period's events and their parcels' acceptances into `scratch`.events."""
    params: dict[str, object] = {}
    where = where_clause(flt, "ts", params)
    src, dst = wh.db, scratch
    wh.command(f"""INSERT INTO {dst}.events SELECT * FROM {src}.events WHERE {where}""", params)
    wh.command(f"""INSERT INTO {dst}.events SELECT * FROM {src}.events
        WHERE type = 'ACCEPTED' AND NOT ({where}) AND parcel_id IN (
            SELECT parcel_id FROM {src}.events WHERE type = 'DELIVERED' AND {where})""", params)
    return int(wh.query(f"SELECT count() FROM {dst}.events")[0][0])


def _cells(rows: list[ReportRow]) -> dict[Cell, tuple[float, float]]:
    return {(r.figure.city, r.figure.company, r.figure.period_start, r.figure.kpi):
            (r.figure.numerator, r.figure.denominator) for r in rows}


def _published(wh: Warehouse, flt: CellFilter) -> dict[Cell, tuple[float, float]]:
    params: dict[str, object] = {}
    where = where_clause(flt, "period_start", params)
    rows = wh.query(f"""SELECT city, company, toString(period_start), kpi,
            argMax(numerator, published_at), argMax(denominator, published_at)
        FROM {wh.db}.kpi_published WHERE period = {{by:String}} AND {where}
        GROUP BY city, company, period_start, kpi""", params | {"by": flt.by})
    return {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in rows}


def _diff(replayed: dict[Cell, tuple[float, float]], other: dict[Cell, tuple[float, float]],
          name: str) -> list[dict[str, Any]]:
    out = []
    for cell in sorted(set(other) & set(replayed)):
        if other[cell] != replayed[cell]:
            out.append({"city": cell[0], "company": cell[1], "period_start": cell[2],
                        "kpi": cell[3], f"{name}": list(other[cell]),
                        "replayed": list(replayed[cell])})
    return out


def run_replay(settings: Settings, flt: CellFilter, out_dir: Path) -> dict[str, Any]:
    """Replay the period; write report.json and events.csv to `out_dir`; return a summary."""
    started = time.perf_counter()
    wh = Warehouse(settings.clickhouse, settings.database)
    scratch = f"{settings.database}_replay_{int(time.time() * 1000)}"
    routes, catalog = load_route_table(), load_catalog()
    try:
        iso = wh.for_database(scratch)
        copied = _copy_period(wh, scratch, flt)
        replayed = kpi_report(iso, flt, routes, catalog, settings.min_sample)
        seconds = time.perf_counter() - started
        live = _cells(kpi_report(wh, flt, routes, catalog, settings.min_sample))
        mine = _cells(replayed)
        published = _published(wh, flt)
        out_dir.mkdir(parents=True, exist_ok=True)
        trace = _write_events(iso, out_dir / "events.csv")
    finally:
        wh.command(f"DROP DATABASE IF EXISTS {scratch} SYNC")
        wh.close()
    catalog_text = resources.files("courierwatch").joinpath("data/policies.yaml").read_bytes()
    report: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(), "courierwatch_version": __version__,
        "policy_catalog_sha256": hashlib.sha256(catalog_text).hexdigest(),
        "filter": {"city": flt.city, "company": flt.company, "by": flt.by,
                   "from": flt.start.isoformat() if flt.start else None,
                   "to": flt.end.isoformat() if flt.end else None},
        "events_replayed": copied, "events_traced": trace, "seconds": round(seconds, 3),
        "events_per_s": round(copied / seconds) if seconds else None,
        "differences_from_live": _diff(mine, live, "live"),
        "differences_from_published": _diff(mine, published, "published"),
        "figures": [r.to_json() for r in replayed],
    }
    (out_dir / "report.json").write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    return {k: report[k] for k in ("events_replayed", "seconds", "events_per_s")} | {
        "figures": len(report["figures"]),
        "differences_from_live": len(report["differences_from_live"]),
        "differences_from_published": len(report["differences_from_published"]),
        "report": str(out_dir / "report.json")}


TRACE_COLUMNS = ("event_id", "type", "city", "company", "ts_utc", "topic", "partition", "offset",
                 "msg_index", "late")


@system_read("reads the replay's scratch database, which _copy_period filled through the "
             "scoped filter (plus the acceptances of the parcels delivered in scope)")
def _write_events(iso: Warehouse, path: Path) -> int:
    rows = iso.query(f"""SELECT event_id, type, city, company, toString(ts), topic, partition,
            offset, msg_index, late FROM {iso.db}.events
        ORDER BY ts, event_id, topic, partition, offset""")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(TRACE_COLUMNS)
        w.writerows(rows)
    return len(rows)
