"""One publisher per deployment, however many workers (issue 15, streams.leader).

Two layers:
- in one process, two workers' ingest steps (streams.ingest.Ingestor, each with its own
  partitions) write into one real ClickHouse engine (chDB), as N workers write into one
  server; publishers take turns as the leadership moves. This is where "exactly once per
  period" lives: the publisher reads the global watermark and late arrivals from the
  store, so it sees the other worker's batches and resumes after a hand-over;
- on the real embedded broker, two real worker processes in one consumer group: exactly
  one of them holds scan partition 0 and publishes; when it stops, the other takes over.
  chDB lets one process open a data directory, so each worker has a store of its own
  there (the stand-in load_tests.bench uses); the shared-store behaviour is the first
  layer's.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from load_tests.bench_setup import bench_workers
from load_tests.generator import GeneratorConfig, generate
from runtime.broker import embedded_broker
from runtime.settings import load_settings
from services.owner import get_json
from services.pipeline import end_offsets, publish_file, wait_until_consumed
from streams.decode import Arrival
from streams.ingest import Ingestor
from streams.publisher import Publisher
from tests.conftest import REPO, write_jsonl
from tests.reference import period
from warehouse.client import Warehouse
from warehouse.publication import StorePublishedFigures
from warehouse.sink import ClickHouseSink

pytestmark = pytest.mark.integration

KEY = "city, company, period, period_start, kpi"
HOUR_MS = 3_600_000  # also the default publication grace (COURIERWATCH_PUBLISH_GRACE_S)
CST = timezone(timedelta(hours=8))


def _arrivals(events: list[dict[str, Any]], partition: int, first_offset: int) -> list[Arrival]:
    return [Arrival("scan.v1", partition, first_offset + i, orjson.dumps(e))
            for i, e in enumerate(events)]


def _count(wh: Warehouse, sql: str) -> int:
    return int(wh.query(sql)[0][0])


def _late(n: int, ts: str) -> dict[str, Any]:
    return {"schema": "scan.v1", "event_id": f"LATE-{n}", "parcel_id": f"SF8{n:011d}",
            "company": "SF", "type": "ACCEPTED", "ts": ts, "city": "331000",
            "dest_city": "310000", "ecommerce": False,
            "packaging": {"standard": True, "e_waybill": True, "secondary_packaging": False,
                          "recycled_bag": False, "tape_mm": 40, "degradable": False},
            "security": {"real_name": True, "inspected": True, "xray": True}}


def test_the_publisher_sees_every_workers_batches_and_hands_over_without_duplicates(
        tmp_path: Path) -> None:
    """Worker A stores the early half of the events (its partitions), worker B the later
    half; A's publisher publishes the hours that B's events closed (global watermark),
    once each; a late event stored by B is restated by A's publisher once, even when the
    first attempt to store the restatement fails; a new publisher
    taking over (another worker after a rebalance) publishes nothing twice and restates
    the next late event once; the deposed one stores nothing."""
    events = sorted(generate(GeneratorConfig(count=3000, seed=11)), key=lambda e: e["ts"])
    half = len(events) // 2
    wh = Warehouse(f"chdb://{tmp_path / 'clickhouse'}", "one_publisher")
    try:
        _publish_across_workers(wh, events, half, tmp_path)
    finally:
        wh.close()  # chDB serves one data directory per process: free it for other tests


def _publish_across_workers(wh: Warehouse, events: list[dict[str, Any]], half: int,
                            tmp_path: Path) -> None:
    s = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path)})
    clock = lambda: datetime(2026, 11, 20, tzinfo=UTC)  # noqa: E731
    sink = ClickHouseSink(wh)
    worker_a = Ingestor(s, sink, 0, clock=clock)
    worker_b = Ingestor(s, sink, 0, clock=clock)
    worker_a.handle(_arrivals(events[:half], 0, 0))
    worker_b.handle(_arrivals(events[half:], 2, 0))

    leading = {"a": True, "b": False}
    routes, catalog = load_route_table(), load_catalog()
    source = StorePublishedFigures(wh, routes, catalog, s.min_sample)
    pub_a = Publisher(source, sink, 3600_000, still_leading=lambda: leading["a"])
    pub_a.publish(None, _now(), max_hours=None)

    # Independently: an hour is closed once the latest event is 1 h (grace) past its end.
    closed = _closed_hours(events)
    closed_by_a_alone = _closed_hours(events[:half])
    published = {r[0] for r in wh.query(f"SELECT DISTINCT toString(period_start) FROM "
                                        f"{wh.db}.kpi_published WHERE period = 'hour'")}
    assert closed - closed_by_a_alone, "worker B's events must close some hours on their own"
    assert published == closed
    rows = _count(wh, f"SELECT count() FROM {wh.db}.kpi_published")
    assert rows > 0 and rows == _count(wh, f"SELECT uniqExact({KEY}) FROM {wh.db}.kpi_published")

    # A late event for a published hour, stored by worker B, restated by A's publisher.
    hour = min(closed)
    late_ts = hour.replace(" ", "T").replace(":00:00", ":20:00.000+08:00")
    worker_b.handle(_arrivals([_late(1, late_ts)], 3, 0))
    # ClickHouse refuses the publication once: the late arrival is not forgotten.
    pub_a._store = _refuse  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        pub_a.publish(None, _now())
    del pub_a._store
    assert pub_a.publish(None, _now()) >= 1
    restated = wh.query(f"SELECT period, toString(period_start), old_numerator, new_numerator, "
                        f"cause FROM {wh.db}.restatements WHERE kpi = 'volume' "
                        "AND city = '331000' AND company = 'SF'")
    assert {(r[0], r[3] - r[2]) for r in restated} == {("hour", 1), ("day", 1)}
    assert all(r[4].startswith("1 events arrived") for r in restated)
    restatements = _count(wh, f"SELECT count() FROM {wh.db}.restatements")
    publications = _count(wh, f"SELECT count() FROM {wh.db}.kpi_published")

    # Hand-over: B's publisher starts from what the store holds; nothing is published twice.
    leading.update(a=False, b=True)
    pub_b = Publisher(source, sink, 3600_000, still_leading=lambda: leading["b"])
    assert pub_b.publish(None, _now(), max_hours=None) == 0
    assert _count(wh, f"SELECT count() FROM {wh.db}.restatements") == restatements
    assert _count(wh, f"SELECT count() FROM {wh.db}.kpi_published") == publications
    worker_a.handle(_arrivals([_late(2, late_ts)], 1, 10_000))
    assert pub_a.publish(None, _now()) == 0  # deposed: computes, stores nothing
    assert _count(wh, f"SELECT count() FROM {wh.db}.restatements") == restatements
    assert pub_b.publish(None, _now()) >= 1
    chain = wh.query(f"SELECT old_numerator, new_numerator FROM {wh.db}.restatements "
                     "WHERE kpi = 'volume' AND city = '331000' AND company = 'SF' "
                     "AND period = 'hour' ORDER BY restated_at")
    assert [n - o for o, n in chain] == [1, 1] and chain[0][1] == chain[1][0]
    # the second late event touches the same figures as the first: as many restatements
    assert _count(wh, f"SELECT count() FROM {wh.db}.restatements") == 2 * restatements


def _now() -> datetime:
    """The publication clock: the worker's, close to the store's arrival stamps."""
    return datetime.now(UTC)


def _refuse(*args: object) -> int:
    raise ConnectionError("ClickHouse is down")


def _closed_hours(events: list[dict[str, Any]]) -> set[str]:
    """CST hours (as 'YYYY-MM-DD HH:MM:SS') ending at least 1 h before the latest event."""
    latest = max(datetime.fromisoformat(e["ts"]) for e in events)
    return {period(e["ts"], "hour") for e in events
            if datetime.fromisoformat(period(e["ts"], "hour")).replace(tzinfo=CST)
            + timedelta(hours=2) <= latest}


_COUNTS = f"""
import sys, orjson
from warehouse.client import Warehouse
wh = Warehouse("chdb://" + sys.argv[1], sys.argv[2])
q = lambda sql: int(wh.query(sql.format(db=wh.db))[0][0])
print(orjson.dumps([q("SELECT count() FROM {{db}}.kpi_published"),
                    q("SELECT uniqExact({KEY}) FROM {{db}}.kpi_published"),
                    q("SELECT toUnixTimestamp64Milli(min(published_at)) FROM {{db}}.kpi_published"),
                    q("SELECT count() FROM {{db}}.events")]).decode())
"""


def _store_counts(path: Path, database: str) -> list[int]:
    """Publications, distinct published cells, first publication (ms), archived events."""
    out = subprocess.run([sys.executable, "-c", _COUNTS, str(path), database], check=True,
                         capture_output=True, text=True, cwd=REPO, timeout=120).stdout
    return list(orjson.loads(out.strip().splitlines()[-1]))


def _status(port: int) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        return dict(get_json(f"http://127.0.0.1:{port}", "/api/status", timeout_s=2))
    return None


def _wait(cond: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.3)


def test_two_workers_in_one_group_have_exactly_one_publisher_and_hand_over(
        tmp_path: Path) -> None:
    """Two real workers in one consumer group on a 4-partition topic: exactly one reports
    itself the publisher, and only its store receives publications, each cell and period
    once; when it stops, the other worker becomes the publisher."""
    s = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path / "cw"),
                       "COURIERWATCH_TOPIC_PREFIX": f"pub{time.time_ns()}.",
                       "COURIERWATCH_PUBLISH_INTERVAL_S": "1",
                       "COURIERWATCH_DATABASE": "one_publisher"})
    events = list(generate(GeneratorConfig(count=4000, seed=12)))
    path = write_jsonl(tmp_path / "a.jsonl", events)
    with embedded_broker(s.data_dir) as bootstrap, bench_workers(s, bootstrap, 2) as workers:
        ports = [w.web_port for w in workers]
        _wait(lambda: sorted(bool((_status(p) or {}).get("publisher")) for p in ports)
              == [False, True], 120, "exactly one publisher among the two workers")
        publish_file(bootstrap, s.scan_topic, path, s.partitions)
        targets = end_offsets(bootstrap, s.scan_topic, s.partitions)
        wait_until_consumed(bootstrap, s, targets, workers[0], timeout_s=180)
        leader = next(i for i, p in enumerate(ports) if (_status(p) or {}).get("publisher"))
        other = 1 - leader
        # Observed, not slept for: while both workers run, the publisher publishes every
        # hour that closed (that ended an hour of grace before the newest event it stored:
        # each stand-in worker has a store of its own), and the other worker, which holds
        # the other partitions' events, has published nothing.
        newest_ms = int((_status(ports[leader]) or {})["watermark_ms"])
        closed_ms = (newest_ms - HOUR_MS) // HOUR_MS * HOUR_MS
        _wait(lambda: (_status(ports[leader]) or {}).get("published_until_ms", 0) >= closed_ms,
              120, f"the publisher publishing every hour closed by {closed_ms}")
        assert (_status(ports[other]) or {}).get("published_until_ms") == 0
        assert workers[leader].stop() == 0
        handed_over_ms = time.time() * 1000
        _wait(lambda: bool((_status(ports[other]) or {}).get("publisher")), 120,
              "the remaining worker taking over publication")
        assert workers[other].stop() == 0

    # chDB opens one data directory per process: read each store in a process of its own.
    stores = [_store_counts(s.data_dir / f"worker{i}" / "clickhouse", s.database)
              for i in range(2)]
    counts, distinct, first_ms, archived = (list(x) for x in zip(*stores, strict=True))
    assert all(n > 0 for n in archived) and sum(archived) >= len(events)
    # The publisher published each cell and period once; the other worker published
    # nothing while it was not the publisher, only after taking over (into its own store,
    # which holds only its partitions' events: the stand-in's limit).
    assert counts[leader] > 0 and counts[leader] == distinct[leader]
    assert counts[other] == distinct[other]
    assert counts[other] == 0 or first_ms[other] >= handed_over_ms
