"""End to end on the real embedded broker (tansu) and ClickHouse (chDB).

The expected figures come from tests/reference.py, computed from the generated events in
plain Python: the pipeline (faust, SQL, roll-ups) shares no code with it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import Cli, write_jsonl
from tests.integration.compare import assert_matches_reference
from tests.reference import period

pytestmark = pytest.mark.integration

BAD_LINES = (
    b'{"schema": "scan.v1", "event_id": "bad-1"',                      # truncated JSON
    b'{"schema": "scan.v1", "event_id": "bad-2", "parcel_id": "SF1", "company": "SF", '
    b'"type": "TELEPORTED", "ts": "2026-11-02T08:00:00+08:00", "city": "331000"}',
    b'{"schema": "scan.v1", "event_id": "bad-3", "parcel_id": "SF2", "company": "SF", '
    b'"type": "DELIVERED", "ts": "2026-11-02T08:00:00", "city": "331000", "mode": "DOOR"}',
    b'{"schema": "scan.v1", "event_id": "bad-4", "parcel_id": "SF3", "company": "SF", '
    b'"type": "DELIVERED", "ts": "2026-11-02T08:00:00+08:00", "city": "331000", '
    b'"mode": "DOOR", "receiver_phone": "13812345678"}',
)


@pytest.fixture(scope="module")
def messy_events() -> list[dict[str, object]]:
    """20k events, 10% duplicates, six hours of disorder (issue 3's 'done means')."""
    return list(generate(GeneratorConfig(count=20_000, seed=11, duplicate_rate=0.10,
                                         disorder_s=6 * 3600)))


def test_process_matches_hand_computation_cell_by_cell(
        cli: Cli, tmp_path: Path, messy_events: list[dict[str, object]]) -> None:
    """`process` then `kpi` gives docs/DESIGN.md's formulas on the deduplicated events, per cell
    (city x company x day and hour, and the all-companies rows); bad lines are dead-lettered
    with their reasons and cost no valid event."""
    path = write_jsonl(tmp_path / "in.jsonl", messy_events, BAD_LINES)
    summary = orjson.loads(cli.run("process", "--input", str(path), "--format", "json").stdout)
    distinct = len({e["event_id"] for e in messy_events})
    assert summary["distinct_events"] == distinct
    assert summary["dead_letters"] == len(BAD_LINES)
    assert assert_matches_reference(cli.kpi_rows("--by", "day"), messy_events, "day") > 500
    assert assert_matches_reference(cli.kpi_rows("--by", "hour"), messy_events, "hour") > 2000
    _replay_traces_the_day(cli, tmp_path, messy_events)


def _replay_traces_the_day(cli: Cli, tmp_path: Path, events: list[dict[str, object]]) -> None:
    """`replay` of one CST day recomputes the live figures exactly, and its events.csv lists
    exactly the day's events plus the acceptances of the parcels delivered that day, the
    later stages of the complaints filed that day and the exceptions and complaints of the
    parcels accepted that day (the cohorts, docs/semantics.md)."""
    out = tmp_path / "audit"
    summary = orjson.loads(cli.run("replay", "--from", "2026-11-02", "--to", "2026-11-03",
                                   "--out", str(out), "--format", "json").stdout)
    assert summary["differences_from_live"] == 0 and summary["figures"] > 100
    day = {e["event_id"] for e in events if period(str(e["ts"]), "day") == "2026-11-02 00:00:00"}
    delivered = {e["parcel_id"] for e in events if e["event_id"] in day
                 and e["type"] == "DELIVERED"}
    filed = {(e["company"], e["complaint_id"]) for e in events if e["event_id"] in day
             and e["type"] == "COMPLAINT" and e["stage"] == "FILED"}
    accepted = {e["parcel_id"] for e in events if e["event_id"] in day
                and e["type"] == "ACCEPTED"}
    day |= {e["event_id"] for e in events if e["type"] == "ACCEPTED"
            and e["parcel_id"] in delivered}
    day |= {e["event_id"] for e in events if e["type"] == "COMPLAINT"
            and (e["company"], e["complaint_id"]) in filed}
    day |= {e["event_id"] for e in events if e["type"] in ("EXCEPTION", "COMPLAINT")
            and e["parcel_id"] in accepted}
    with open(out / "events.csv", encoding="utf-8") as fh:
        traced = {row["event_id"] for row in csv.DictReader(fh)}
    assert traced == day


def test_processing_the_same_file_twice_changes_no_figure(
        cli: Cli, tmp_path: Path, messy_events: list[dict[str, object]]) -> None:
    """A second `process` run of the same file (every event a re-send) leaves every figure
    as the first run left it."""
    path = write_jsonl(tmp_path / "in.jsonl", messy_events[:8000])
    cli.run("process", "--input", str(path))
    first = cli.kpi_rows("--by", "hour")
    cli.run("process", "--input", str(path))
    assert cli.kpi_rows("--by", "hour") == first
    assert_matches_reference(first, messy_events[:8000], "hour")


def test_worker_killed_after_insert_before_commit_recovers_exactly(
        tmp_path: Path, messy_events: list[dict[str, object]]) -> None:
    """A worker that dies right after a ClickHouse insert and before its offsets are
    committed (the worst moment) re-reads that batch on restart; figures equal an
    uninterrupted run's."""
    from runtime.broker import embedded_broker, ensure_topics
    from runtime.settings import load_settings
    from services.pipeline import (
        WorkerDied,
        end_offsets,
        publish_file,
        start_worker,
        wait_until_consumed,
    )

    data_dir = tmp_path / "cw"
    path = write_jsonl(tmp_path / "in.jsonl", messy_events)
    crashing = load_settings({"COURIERWATCH_DATA_DIR": str(data_dir),
                              "COURIERWATCH_CRASH_AFTER_BATCHES": "3",
                              "COURIERWATCH_BATCH_MESSAGES": "8"})
    with embedded_broker(data_dir) as bootstrap:
        ensure_topics(bootstrap, crashing)
        publish_file(bootstrap, crashing.scan_topic, path, crashing.partitions)
        targets = end_offsets(bootstrap, crashing.scan_topic, crashing.partitions)
        worker = start_worker(crashing, bootstrap)
        with pytest.raises(WorkerDied):
            wait_until_consumed(bootstrap, crashing, targets, worker, timeout_s=120)
        assert worker.proc.returncode == 137
        from kafka import KafkaAdminClient

        from services.pipeline import committed_offsets
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        committed = sum(committed_offsets(admin, crashing.consumer_group, crashing.scan_topic,
                                          crashing.partitions).values())
        admin.close()
        assert committed < sum(targets.values()), "the crash must leave work uncommitted"
        healthy = crashing.with_(crash_after_batches=0)
        worker = start_worker(healthy, bootstrap)
        try:
            wait_until_consumed(bootstrap, healthy, targets, worker, timeout_s=300)
        finally:
            worker.stop()
    rows = Cli(data_dir).kpi_rows("--by", "hour")
    assert assert_matches_reference(rows, messy_events, "hour") > 2000


def test_worker_sigkilled_at_arbitrary_moments_recovers_exactly(
        tmp_path: Path, messy_events: list[dict[str, object]]) -> None:
    """SIGKILL from outside, twice, at moments the test does not choose beyond "part of the
    input committed" (batches may be mid-decode, mid-insert or inserted and not yet
    committed in the pipelined worker); a restarted worker finishes and every figure equals
    the hand computation, cell by cell."""
    import time

    from kafka import KafkaAdminClient

    from runtime.broker import embedded_broker, ensure_topics
    from runtime.settings import load_settings
    from services.pipeline import (
        committed_offsets,
        end_offsets,
        publish_file,
        start_worker,
        wait_until_consumed,
    )

    data_dir = tmp_path / "cw"
    path = write_jsonl(tmp_path / "in.jsonl", messy_events)
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(data_dir),
                              "COURIERWATCH_BATCH_MESSAGES": "4"})
    with embedded_broker(data_dir) as bootstrap:
        ensure_topics(bootstrap, settings)
        publish_file(bootstrap, settings.scan_topic, path, settings.partitions)
        targets = end_offsets(bootstrap, settings.scan_topic, settings.partitions)
        total = sum(targets.values())
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            for share in (0.2, 0.5):
                worker = start_worker(settings, bootstrap)
                deadline = time.monotonic() + 180
                while sum(committed_offsets(admin, settings.consumer_group, settings.scan_topic,
                                            settings.partitions).values()) < share * total:
                    assert worker.alive(), worker.log_tail()
                    assert time.monotonic() < deadline, "no progress before the kill"
                    time.sleep(0.05)
                worker.kill()
                assert worker.proc.returncode == -9
            done = sum(committed_offsets(admin, settings.consumer_group, settings.scan_topic,
                                         settings.partitions).values())
            assert done < total, "the kills must leave work uncommitted"
        finally:
            admin.close()
        worker = start_worker(settings, bootstrap)
        try:
            wait_until_consumed(bootstrap, settings, targets, worker, timeout_s=300)
        finally:
            worker.stop()
    rows = Cli(data_dir).kpi_rows("--by", "hour")
    assert assert_matches_reference(rows, messy_events, "hour") > 2000
