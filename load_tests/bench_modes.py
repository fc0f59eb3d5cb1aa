"""The benchmark's other modes: parcels in flight (memory) and replay from the archive.

- `memory`: 5 million distinct parcels accepted and none delivered, streamed through the
  whole pipeline as fast as it takes them (the producer stays at most ~3 batches ahead);
  the worker's resident memory is sampled every second. At the end, 10,000 of those parcels
  are delivered and the day's KPIs (with the DELIVERED x ACCEPTED join over all 5 million
  acceptances) are queried through the worker's API, so the peak includes a query.
  The join state lives in ClickHouse (`accepts`), not in the worker's heap.
- `replay`: an archive of 10 million events (a 500k-event generated pool ingested through
  the same decode and insert code as the worker, then copied 19 times with fresh event and
  parcel ids by INSERT ... SELECT) in the bench's own chDB directory; then
  `services.audit.replay.run_replay` recomputes every KPI of the whole period in an isolated
  database. Reported: events replayed / seconds of copy + recompute (the replay's own
  figure), and the wall time of the whole command (with the live comparison and the trace).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from rich.console import Console
from rich.progress import Progress

from courierwatch.periods import CST
from load_tests.bench_setup import (
    TARGET_KPI_QUERY_S,
    TARGET_REPLAY,
    TARGET_WORKER_RSS_MB,
    bench_settings,
    bench_worker,
    fresh_dir,
    progress,
    target,
    wait_for,
)
from load_tests.bench_traffic import BenchProducer, TrafficPool
from load_tests.bench_watch import Sampler, machine_info, tree_hwm_mb
from runtime.broker import kafka_bootstrap
from runtime.settings import Settings
from services.owner import get_json
from services.pipeline import Worker, make_producer

PARCELS = 5_000_000
REPLAY_EVENTS = 10_000_000
DELIVERIES = 10_000


def _deliveries(pool: TrafficPool, n: int) -> list[bytes]:
    """DELIVERED events, now, for the first `n` parcels of round 0 (500 per message)."""
    ts = datetime.now(CST).isoformat(timespec="milliseconds")
    out, chunk = [], []
    for m in pool.messages:
        for ev in orjson.loads(m):
            chunk.append({"schema": "scan.v1", "event_id": f"D-{ev['event_id']}",
                          "parcel_id": ev["parcel_id"], "company": ev["company"],
                          "type": "DELIVERED", "ts": ts, "city": ev["dest_city"],
                          "mode": "LOCKER"})
            if len(chunk) == 500:
                out.append(orjson.dumps(chunk))
                chunk = []
            if len(out) * 500 >= n:
                return out
    return out


def memory(settings: Settings, duration_s: float, console: Console,
           parcels: int = PARCELS) -> dict[str, Any]:
    bench_dir = fresh_dir(settings)
    bs = bench_settings(settings, bench_dir)
    pool_size = min(parcels, 100_000)
    out: dict[str, Any] = {"mode": "memory", "parcels_target": parcels,
                           "partitions": bs.partitions, "machine": machine_info()}
    with progress(console) as bar:
        task = bar.add_task("generating acceptances", total=pool_size)
        pool = TrafficPool(pool_size, accepted_only=True, progress=lambda k: bar.advance(task, k))
        bar.remove_task(task)
        with kafka_bootstrap(bs) as bootstrap, bench_worker(bs, bootstrap) as worker:
            producer = BenchProducer(bootstrap, bs.scan_topic, bs.partitions, pool,
                                     make_producer)
            sampler = Sampler(bootstrap, bs.consumer_group, bs.scan_topic, bs.partitions,
                              producer, [worker.proc.pid])
            producer.start()
            sampler.start()
            ingest_s = _accept_parcels(bs, worker, producer, sampler, bar, parcels)
            in_flight = producer.sent_events
            extra, rows, kpi_s = _deliver_and_query(bs, bootstrap, worker, pool, in_flight)
            time.sleep(1.5)
            for th in (sampler, producer):
                th.stop_event.set()
                th.join(10)
            peak = max(sampler.peak_rss_mb, tree_hwm_mb(worker.proc.pid))
    joined = sum(r["denominator"] for r in rows["rows"]
                 if r["kpi"] == "locker_share" and r["company"] == "*" and len(r["city"]) == 6)
    out |= {"parcels_in_flight": in_flight, "ingest_s": round(ingest_s, 1),
            "ingest_events_per_s": round(in_flight / ingest_s, 1),
            "deliveries": extra, "delivered_in_kpis": joined,
            "kpi_query_s": round(kpi_s, 2), "peak_rss_mb": round(peak, 1),
            "rss_mb_over_time": [s.rss_mb for s in sampler.samples]}
    out["targets"] = [
        target("worker_peak_rss_mb_5m_parcels", f"< {TARGET_WORKER_RSS_MB:,.0f} MB "
               f"with {parcels:,} parcels in flight", out["peak_rss_mb"],
               out["peak_rss_mb"] < TARGET_WORKER_RSS_MB and in_flight >= parcels),
        target("kpi_query_s_5m_parcels", f"<= {TARGET_KPI_QUERY_S:g} s, the day's KPIs",
               out["kpi_query_s"], out["kpi_query_s"] <= TARGET_KPI_QUERY_S)]
    return out


def _accept_parcels(bs: Settings, worker: Worker, producer: BenchProducer, sampler: Sampler,
                    bar: Progress, parcels: int) -> float:
    """Stream `parcels` acceptances as fast as the pipeline commits them; seconds taken."""
    messages = -(-parcels // 500)
    t0 = time.monotonic()
    producer.set_rate(0, limit_messages=messages, max_backlog=3 * bs.batch_messages * 500)
    task = bar.add_task("parcels accepted and committed", total=parcels)

    def done() -> bool:
        s = sampler.samples[-1] if sampler.samples else None
        if s:
            bar.update(task, completed=s.committed,
                       description=f"parcels committed, worker RSS {s.rss_mb:,.0f} MB")
        return bool(s and producer.messages_sent >= messages and s.lag == 0
                    and s.produced == producer.sent_events)

    wait_for(done, 3600, "5 million acceptances to be committed", worker)
    bar.remove_task(task)
    return time.monotonic() - t0


def _deliver_and_query(bs: Settings, bootstrap: str, worker: Worker, pool: TrafficPool,
                       in_flight: int) -> tuple[int, dict[str, Any], float]:
    """Deliver a few parcels and query the day's KPIs (the join reads all acceptances):
    (deliveries, the API's answer, seconds the query took)."""
    extra = _deliveries(pool, DELIVERIES)
    prod = make_producer(bootstrap)
    for i, m in enumerate(extra):
        prod.send(bs.scan_topic, m, partition=i % bs.partitions)
    prod.flush()
    prod.close()
    base = f"http://127.0.0.1:{worker.web_port}"
    wait_for(lambda: get_json(base, "/api/status")["archived"] >= in_flight
             + len(extra) * 500, 120, "the deliveries", worker)
    day = datetime.now(CST).replace(hour=0, minute=0, second=0, microsecond=0)
    q0 = time.monotonic()
    rows = get_json(base, "/api/kpi", {"from": day.isoformat(), "by": "day",
                                       "to": (day + timedelta(days=1)).isoformat()})
    return len(extra) * 500, rows, time.monotonic() - q0


def _fill_archive(settings: Settings, events: int, console: Console) -> tuple[int, int, int]:
    """Ingest a generated pool with the worker's own code, then copy it with fresh ids."""
    from streams.decode import Arrival, process_batch
    from warehouse.client import Warehouse
    from warehouse.schema import EVENT_COLUMN_NAMES, STAGING_COLUMN_NAMES
    from warehouse.sink import EVENTS_TABLE, ClickHouseSink

    pool_size = min(events, 500_000)
    rounds = -(-events // pool_size)
    with progress(console) as bar:
        task = bar.add_task("generating the archive's first 500k events", total=pool_size)
        pool = TrafficPool(pool_size, progress=lambda k: bar.advance(task, k))
        bar.remove_task(task)
        wh = Warehouse(settings.clickhouse, settings.database, reset=True,
                       cluster=settings.clickhouse_cluster)
        sink = ClickHouseSink(wh)
        try:
            task = bar.add_task(f"archiving {events:,} events", total=rounds)
            now = datetime.now(UTC)
            for i in range(0, len(pool), 100):
                arrivals = [Arrival(settings.scan_topic, k % 4, k // 4, pool.messages[k])
                            for k in range(i, min(i + 100, len(pool)))]
                sink.write(EVENTS_TABLE, process_batch(arrivals, now, 0, 10**12).rows.columns,
                           STAGING_COLUMN_NAMES)
            bar.advance(task)
            cols = ", ".join(EVENT_COLUMN_NAMES)
            exprs = cols.replace("event_id, parcel_id", "concat('r{r}', event_id), "
                                 "concat('r{r}', parcel_id)", 1)
            for r in range(1, rounds):
                wh.command(f"INSERT INTO {wh.db}.events ({cols}) SELECT "
                           f"{exprs.format(r=r)} FROM {wh.db}.events "
                           f"WHERE startsWith(event_id, 'E')")
                bar.advance(task)
            n, lo, hi = wh.query(f"SELECT count(), toUnixTimestamp64Milli(min(ts)), "
                                 f"toUnixTimestamp64Milli(max(ts)) FROM {wh.db}.events")[0]
        finally:
            wh.close()
    return int(n), int(lo), int(hi)


def replay(settings: Settings, duration_s: float, console: Console,
           events: int = REPLAY_EVENTS) -> dict[str, Any]:
    from courierwatch.scope import Scope
    from services.audit.replay import run_replay
    from warehouse.queries import CellFilter

    bench_dir = fresh_dir(settings)
    bs = bench_settings(settings, bench_dir)
    out: dict[str, Any] = {"mode": "replay", "machine": machine_info()}
    t0 = time.monotonic()
    archived, lo, hi = _fill_archive(bs, events, console)
    out["archive_fill_s"] = round(time.monotonic() - t0, 1)
    start = datetime.fromtimestamp(lo / 1000, UTC).replace(minute=0, second=0, microsecond=0)
    end = datetime.fromtimestamp(hi / 1000, UTC) + timedelta(hours=1)
    flt = CellFilter(start=start, end=end, by="day", scope=Scope.national())
    with progress(console) as bar:
        bar.add_task(f"replaying {archived:,} events ({start:%Y-%m-%d} to {end:%Y-%m-%d})",
                     total=None)
        t1 = time.monotonic()
        summary = run_replay(bs, flt, bench_dir / "replay")
        wall = time.monotonic() - t1
    out |= {"archived_events": archived, "period": [start.isoformat(), end.isoformat()],
            "replay_events": summary["events_replayed"], "replay_s": summary["seconds"],
            "replay_events_per_s": summary["events_per_s"],
            "replay_wall_s": round(wall, 1), "figures": summary["figures"],
            "differences_from_live": summary["differences_from_live"]}
    out["targets"] = [target("replay_events_per_s", f">= {TARGET_REPLAY:,}/s",
                             out["replay_events_per_s"],
                             (out["replay_events_per_s"] or 0) >= TARGET_REPLAY)]
    return out
