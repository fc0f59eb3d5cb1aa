"""`python -m load_tests.capacity`: the store-side inputs of docs/capacity.md, measured.

In one process, on the embedded ClickHouse engine (chDB) in a fresh temporary directory,
with the worker's own decode and insert code (streams.decode.process_batch,
warehouse.sink.ClickHouseSink), one generated day of traffic at a time (each day's parcels
accepted on the next calendar day, deliveries following as the generator makes them):

- CPU per event of the decode (Python) and of the insert (clickhouse-connect serialisation
  plus ClickHouse's JSON parse, archive write, the four views and whatever background
  merges ran meanwhile), as process CPU time (every thread) around each step;
- CPU per event of merging what is left into one part per partition (OPTIMIZE ... FINAL on
  every table), after the last day;
- bytes per event of every table (active parts, compressed and uncompressed) and of the
  archive's largest columns;
- wall time of the figures of one day (warehouse.report.kpi_report: the counts and the
  on-time join) and of the latest day, after each day is added: query time against
  archive size.

Measurements, not tests: nothing is asserted. CPU times are per event of this process;
the machine's load average is reported alongside since other work shares the cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress

from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from courierwatch.scope import Scope
from load_tests.generator import DEFAULT_START, GeneratorConfig, generate_batches
from streams.decode import Arrival, process_batch
from streams.stream_time import StreamTime
from warehouse.client import Warehouse
from warehouse.queries import CellFilter
from warehouse.report import kpi_report
from warehouse.schema import STAGING_COLUMN_NAMES
from warehouse.sink import EVENTS_TABLE, ClickHouseSink

BATCH_MESSAGES = 80  # of 500 events: ~40k events per insert, as the worker's batches
# Each generated day carries deliveries and complaints days later, so ingesting day after
# day moves the watermark ahead of the next day's first events: with the default 7-day
# lateness 38 % of them would be late (archived, not in the views) and the view costs
# under-counted. A live network's stream is in time order; the measurement lets all count.
LATENESS_MS = 365 * 86_400_000


def _cpu() -> float:
    return time.process_time()


def _day_query_s(wh: Warehouse, day: datetime) -> float:
    routes, catalog = load_route_table(), load_catalog()
    t0 = time.perf_counter()
    flt = CellFilter(start=day, end=day + timedelta(days=1), by="day", scope=Scope.national())
    kpi_report(wh, flt, routes, catalog)
    return round(time.perf_counter() - t0, 3)


def _table_bytes(wh: Warehouse) -> list[dict[str, Any]]:
    rows = wh.query(
        "SELECT table, sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes), "
        "count() FROM system.parts WHERE database = {db:String} AND active "
        "GROUP BY table ORDER BY sum(data_compressed_bytes) DESC", {"db": wh.db})
    return [{"table": t, "rows": int(r), "compressed_bytes": int(c),
             "uncompressed_bytes": int(u), "parts": int(p)} for t, r, c, u, p in rows]


def _column_bytes(wh: Warehouse, table: str, top: int = 8) -> list[tuple[str, int]]:
    rows = wh.query(
        "SELECT name, data_compressed_bytes FROM system.columns WHERE database = {db:String} "
        "AND table = {t:String} ORDER BY data_compressed_bytes DESC LIMIT {n:UInt32}",
        {"db": wh.db, "t": table, "n": top})
    return [(n, int(b)) for n, b in rows]


def measure(days: int, events_per_day: int, progress: Progress) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="courierwatch-capacity-")
    wh = Warehouse(f"chdb://{tmp}/clickhouse", "capacity")
    sink = ClickHouseSink(wh)
    now = datetime.now(UTC)
    stream_time = StreamTime()
    decode_cpu = insert_cpu = 0.0
    events = 0
    curve = []
    task = progress.add_task("ingesting", total=days * events_per_day)
    for d in range(days):
        cfg = GeneratorConfig(count=events_per_day, seed=100 + d,
                              start=DEFAULT_START + timedelta(days=d))
        messages = [Arrival("scan.v1", 0, d * 10**7 + i, body)
                    for i, body in enumerate(generate_batches(cfg))]
        for i in range(0, len(messages), BATCH_MESSAGES):
            c0 = _cpu()
            res = process_batch(messages[i:i + BATCH_MESSAGES], now, stream_time,
                                LATENESS_MS)
            c1 = _cpu()
            sink.write(EVENTS_TABLE, res.rows.columns, STAGING_COLUMN_NAMES)
            insert_cpu += _cpu() - c1
            decode_cpu += c1 - c0
            events += len(res.rows)
            progress.advance(task, len(res.rows))
        first_day, last_day = DEFAULT_START, DEFAULT_START + timedelta(days=d)
        curve.append({"days": d + 1, "archived_events": events,
                      "archive_compressed_bytes": sum(t["compressed_bytes"] for t in
                                                      _table_bytes(wh) if t["table"] == "events"),
                      "first_day_figures_s": _day_query_s(wh, first_day),
                      "latest_day_figures_s": _day_query_s(wh, last_day)})
    progress.remove_task(task)
    c0 = _cpu()
    for (table,) in wh.query("SELECT name FROM system.tables WHERE database = {db:String} AND "
                             "engine LIKE '%MergeTree'", {"db": wh.db}):
        wh.command(f"OPTIMIZE TABLE {wh.db}.{table} FINAL")
    merge_cpu = _cpu() - c0
    tables = _table_bytes(wh)
    for t in tables:
        t["compressed_bytes_per_event"] = round(t["compressed_bytes"] / events, 2)
        t["uncompressed_bytes_per_event"] = round(t["uncompressed_bytes"] / events, 2)
    report = {
        "events": events, "days": days, "load_avg_1m_at_end": os.getloadavg()[0],
        "decode_cpu_us_per_event": round(decode_cpu / events * 1e6, 2),
        "insert_cpu_us_per_event": round(insert_cpu / events * 1e6, 2),
        "final_merge_cpu_us_per_event": round(merge_cpu / events * 1e6, 2),
        "tables_after_final_merge": tables,
        "events_largest_columns_bytes": _column_bytes(wh, "events"),
        "query_vs_archive": curve,
    }
    wh.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m load_tests.capacity",
                                description="Measure decode/insert/merge CPU, bytes per event "
                                "and day-query time against archive size on chDB "
                                "(docs/capacity.md).")
    p.add_argument("--days", type=int, default=4, help="generated days to ingest (default 4)")
    p.add_argument("--events-per-day", type=int, default=250_000,
                   help="events generated per day (default 250,000)")
    args = p.parse_args(argv)
    console = Console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        report = measure(args.days, args.events_per_day, progress)
    sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
