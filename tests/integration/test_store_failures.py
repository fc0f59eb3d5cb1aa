"""A store that fails, on the real worker, broker and chDB (issue 8's retry rules).

The store's failures come from the sink's fault hook (COURIERWATCH_FAULT_FILE, read by
streams.faults): the embedded engine cannot be made to fail on demand otherwise.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from load_tests.generator import GeneratorConfig, generate
from runtime.settings import Settings
from tests.conftest import write_jsonl

pytestmark = pytest.mark.integration


@dataclass
class Scenario:
    settings: Settings
    bootstrap: str
    targets: dict[int, int]
    fault: Path
    events: list[dict[str, object]]

    def committed(self) -> int:
        """Messages the ingest group has committed on the scan topic, all partitions."""
        from kafka import KafkaAdminClient

        from services.pipeline import committed_offsets

        s = self.settings
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            return sum(committed_offsets(admin, s.consumer_group, s.scan_topic,
                                         s.partitions).values())
        finally:
            admin.close()

    def archive(self) -> tuple[int, int]:
        """(rows, distinct event ids) in the archive; call once no worker owns the store."""
        from warehouse.client import Warehouse

        wh = Warehouse(self.settings.clickhouse, self.settings.database)
        try:
            n, distinct = wh.query(f"SELECT count(), uniqExact(event_id) FROM {wh.db}.events")[0]
            return int(n), int(distinct)
        finally:
            wh.close()


@contextlib.contextmanager
def published_with_fault(tmp_path: Path, fault_text: str, seed: int) -> Iterator[Scenario]:
    """2,000 generated events published to a broker that outlives the worker, and a fault
    file holding `fault_text` that the worker's sink consults before every write."""
    from runtime.broker import embedded_broker, ensure_topics
    from runtime.settings import load_settings
    from services.pipeline import end_offsets, publish_file

    events = list(generate(GeneratorConfig(count=2_000, seed=seed)))
    path = write_jsonl(tmp_path / "in.jsonl", events)
    fault = tmp_path / "fault"
    fault.write_text(fault_text)
    data_dir = tmp_path / "cw"
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(data_dir),
                              "COURIERWATCH_FAULT_FILE": str(fault)})
    with embedded_broker(data_dir) as bootstrap:
        ensure_topics(bootstrap, settings)
        publish_file(bootstrap, settings.scan_topic, path, settings.partitions)
        targets = end_offsets(bootstrap, settings.scan_topic, settings.partitions)
        yield Scenario(settings, bootstrap, targets, fault, events)


def test_deterministic_store_error_stops_the_worker_without_commit(tmp_path: Path) -> None:
    """A write the store refuses deterministically: the worker exits with status 5 and one
    CRITICAL line naming the refusal, after no retry; no offset is committed and the
    archive is empty, so the batch is re-read (and visible) after a fix."""
    from services.pipeline import WorkerDied, start_worker, wait_until_consumed

    with published_with_fault(tmp_path, "permanent\n", seed=5) as sc:
        worker = start_worker(sc.settings, sc.bootstrap)
        with pytest.raises(WorkerDied):
            wait_until_consumed(sc.bootstrap, sc.settings, sc.targets, worker, timeout_s=120)
        assert worker.proc.returncode == 5
        assert sc.committed() == 0
    log = worker.log_path.read_text()
    critical = [line for line in log.splitlines() if "CRITICAL" in line]
    assert len(critical) == 1 and "refused" in critical[0], log[-2000:]
    assert "retrying" not in log
    assert sc.archive() == (0, 0)


def test_store_down_for_a_while_is_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    """The store is unavailable for the first seconds of the run (transient fault): the
    worker retries with back-off, commits nothing it has not stored, and once the store is
    back stores every event exactly once."""
    from services.pipeline import start_worker, wait_until_consumed

    with published_with_fault(tmp_path, "transient\n", seed=6) as sc:
        worker = start_worker(sc.settings, sc.bootstrap)
        committed_while_down: list[int] = []

        def heal() -> None:
            deadline = time.monotonic() + 120
            while "retrying" not in worker.log_path.read_text(errors="replace"):
                if time.monotonic() > deadline or not worker.alive():
                    return
                time.sleep(0.2)
            committed_while_down.append(sc.committed())
            time.sleep(2)
            sc.fault.unlink()

        healer = threading.Thread(target=heal)
        healer.start()
        try:
            wait_until_consumed(sc.bootstrap, sc.settings, sc.targets, worker, timeout_s=300)
        finally:
            healer.join()
            worker.stop()
    assert committed_while_down == [0], worker.log_tail()
    assert sc.archive() == (len(sc.events), len({e["event_id"] for e in sc.events}))
