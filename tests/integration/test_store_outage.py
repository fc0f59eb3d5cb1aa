"""The store goes away (issue 9, item 5): ClickHouse failing for a while, then back.

The outage is made by the sink's fault hook (issue 8, streams.faults): while the file named
by COURIERWATCH_FAULT_FILE exists, every store write of the worker fails as an unreachable
store would (a transient error). Unlike tests/integration/test_store_failures.py (a short
outage: retried, stored exactly once), this one holds the outage over many batches and
checks what the issue's "five minutes without ClickHouse" asks: no commit, no dead letter,
the worker alive and under its memory bound meanwhile, and the reference figures after.
The five minutes are compressed into the time the test holds the file (10 s past the
first failed inserts; COURIERWATCH_TEST_OUTAGE_S=300 holds it for the issue's five
minutes): what matters is what happens meanwhile and after. The test writes what it saw
(retries, memory high-water mark, catch-up time) to tests/artifacts/store_outage.json,
the figures docs/reliability.md quotes.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import REPO, Cli, write_jsonl
from tests.integration.compare import assert_matches_reference

pytestmark = pytest.mark.integration

OUTAGE_S = float(os.environ.get("COURIERWATCH_TEST_OUTAGE_S", "10"))
ARTIFACTS = Path(os.environ.get("COURIERWATCH_ARTIFACTS", REPO / "tests" / "artifacts"))


def _metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
        text = resp.read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def test_store_down_then_back_loses_nothing_commits_nothing_early(tmp_path: Path) -> None:
    """While every insert fails: the worker retries (the retry counter grows), commits no
    offset, stays alive with its memory under the bound, and dead-letters nothing; once the
    store is back it catches up by itself and every figure equals the reference."""
    from kafka import KafkaAdminClient

    from load_tests.bench_setup import TARGET_RSS_MB
    from load_tests.bench_watch import tree_hwm_mb
    from runtime.broker import embedded_broker, ensure_topics
    from runtime.settings import load_settings
    from services.pipeline import (
        committed_offsets,
        end_offsets,
        publish_file,
        start_worker,
        wait_until_consumed,
    )

    events = list(generate(GeneratorConfig(count=20_000, seed=51, duplicate_rate=0.05)))
    path = write_jsonl(tmp_path / "in.jsonl", events)
    data_dir = tmp_path / "cw"
    down = tmp_path / "store-down"
    down.touch()
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(data_dir),
                              "COURIERWATCH_BATCH_MESSAGES": "4",
                              "COURIERWATCH_FAULT_FILE": str(down)})
    with embedded_broker(data_dir) as bootstrap:
        ensure_topics(bootstrap, settings)
        publish_file(bootstrap, settings.scan_topic, path, settings.partitions)
        targets = end_offsets(bootstrap, settings.scan_topic, settings.partitions)
        worker = start_worker(settings, bootstrap)
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            deadline = time.monotonic() + 240
            while _retries(worker.web_port) < 5:  # several failed inserts, backing off
                assert worker.alive(), worker.log_tail()
                assert time.monotonic() < deadline, "no insert was attempted"
                time.sleep(0.5)
            outage_started = time.monotonic()
            while time.monotonic() - outage_started < OUTAGE_S:  # the outage goes on
                assert worker.alive(), worker.log_tail()
                time.sleep(1)
            assert worker.alive(), worker.log_tail()
            assert sum(committed_offsets(admin, settings.consumer_group,
                                         settings.scan_topic,
                                         settings.partitions).values()) == 0
            assert _metric(worker.web_port, "courierwatch_dead_letters_total") == 0
            seen = {"outage_s": round(time.monotonic() - outage_started, 1),
                    "insert_retries": _retries(worker.web_port),
                    "worker_hwm_mb": round(tree_hwm_mb(worker.proc.pid))}
            assert seen["worker_hwm_mb"] < TARGET_RSS_MB
            down.unlink()  # the store is back
            back = time.monotonic()
            wait_until_consumed(bootstrap, settings, targets, worker, timeout_s=300)
            seen["caught_up_s"] = round(time.monotonic() - back, 1)
            seen["events"] = len(events)
        finally:
            admin.close()
            worker.stop()
    cli = Cli(data_dir)
    from warehouse.client import Warehouse

    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        assert wh.query(f"SELECT count() FROM {wh.db}.dead_letters")[0][0] == 0
    finally:
        wh.close()
    assert assert_matches_reference(cli.kpi_rows("--by", "hour"), events, "hour") > 2000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "store_outage.json").write_text(json.dumps(seen, indent=1) + "\n")


def _retries(port: int) -> float:
    try:
        return _metric(port, "courierwatch_insert_retries_total")
    except OSError:
        return 0.0
