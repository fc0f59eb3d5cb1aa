"""Crashes of the whole command, as a user meets them (issue 9, "Crashes of any process").

`courierwatch process --input F` runs in a process group of its own, as a shell would start
it; the test SIGKILLs that whole group part-way (an OOM kill, a closed terminal), then checks
that the worker and the broker the command had started are gone too, and that running the
same command again, with no manual step, gives the figures of the independent reference.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient

from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from courierwatch.scope import Scope
from load_tests.generator import GeneratorConfig, generate
from runtime.lifetime import Identity
from runtime.settings import load_settings
from services.pipeline import LINES_PER_MESSAGE, committed_offsets
from tests.conftest import REPO, Cli, write_jsonl
from tests.integration.compare import assert_matches_reference
from warehouse.queries import CellFilter
from warehouse.report import kpi_report

pytestmark = pytest.mark.integration


def _record(path: Path) -> dict[str, object] | None:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def _wait_for(cond, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_process_group_sigkilled_part_way_leaves_no_orphan_and_rerun_recovers(
        tmp_path: Path) -> None:
    """SIGKILL of the whole `process` command group after part of the input is committed:
    within seconds neither its worker nor its broker runs (they die with the command), and
    the same command run again finishes by itself with every figure equal to the
    independent reference computation, cell by cell."""
    events = list(generate(GeneratorConfig(count=30_000, seed=21, duplicate_rate=0.05)))
    path = write_jsonl(tmp_path / "in.jsonl", events)
    cli = Cli(tmp_path / "cw", COURIERWATCH_BATCH_MESSAGES="1")
    cmd = subprocess.Popen([sys.executable, "-m", "cli", "process", "--input",
                            str(path)], env=cli.env, cwd=REPO, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        broker_rec = cli.data_dir / "broker.json"
        api_rec = cli.data_dir / "api.json"
        _wait_for(lambda: _record(broker_rec) and _record(api_rec), 120, "broker and worker")
        broker = Identity.from_record(_record(broker_rec) or {})
        worker = Identity.from_record(_record(api_rec) or {})
        assert broker is not None and worker is not None
        assert broker.alive() and worker.alive()
        admin = KafkaAdminClient(bootstrap_servers=str((_record(broker_rec) or {})["bootstrap"]))
        st = load_settings({"COURIERWATCH_DATA_DIR": str(cli.data_dir)})
        try:
            def committed() -> int:
                return sum(committed_offsets(admin, st.consumer_group, st.scan_topic,
                                             st.partitions).values())
            _wait_for(lambda: committed() > 0, 180, "a first commit")
            part = committed()
        finally:
            admin.close()
        os.killpg(cmd.pid, signal.SIGKILL)
        cmd.wait(timeout=10)
        assert cmd.returncode == -signal.SIGKILL
        _wait_for(lambda: not worker.alive() and not broker.alive(), 15,
                  "the worker and broker to die with their command")
    finally:
        if cmd.poll() is None:
            os.killpg(cmd.pid, signal.SIGKILL)
    assert 0 < part < -(-len(events) // LINES_PER_MESSAGE), "the kill must come part-way"
    summary = json.loads(cli.run("process", "--input", str(path), "--format", "json").stdout)
    assert summary["distinct_events"] == len({e["event_id"] for e in events})
    assert summary["dead_letters"] == 0
    assert assert_matches_reference(cli.kpi_rows("--by", "hour"), events, "hour") > 1000


def test_orphans_of_a_killed_command_are_stopped_by_the_next_one(tmp_path: Path) -> None:
    """Where the kernel did not stop them (no PR_SET_PDEATHSIG, an older version), a worker
    and a broker whose command is gone are orphans: the next command stops both and
    clears their records instead of refusing ("a worker owns this data directory")."""
    from runtime.broker import tansu_binary
    from runtime.lifetime import identity
    from runtime.ports import free_port

    data_dir = tmp_path / "cw"
    data_dir.mkdir()
    port = free_port()
    # A dead "command": a process that has exited (its identity can never be alive again).
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead_owner = {"owner_pid": gone.pid, "owner_start": 1}
    broker = subprocess.Popen([tansu_binary(), "broker", "--listener-url",
                               f"tcp://127.0.0.1:{port}", "--advertised-listener-url",
                               f"tcp://127.0.0.1:{port}", "--storage-engine",
                               "memory://tansu/"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                                start_new_session=True)  # an orphaned "worker"
    try:
        (data_dir / "broker.json").write_text(json.dumps(
            {"bootstrap": f"127.0.0.1:{port}", **identity(broker.pid).as_record(),
             **dead_owner}))
        (data_dir / "api.json").write_text(json.dumps(
            {"port": free_port(), **identity(stand_in.pid).as_record(), **dead_owner}))
        events = list(generate(GeneratorConfig(count=3_000, seed=4)))
        cli = Cli(data_dir)
        cli.run("process", "--input", str(write_jsonl(tmp_path / "in.jsonl", events)))
        assert broker.wait(timeout=20) is not None and stand_in.wait(timeout=20) is not None
        assert assert_matches_reference(cli.kpi_rows("--by", "hour"), events, "hour") > 100
    finally:
        for p in (broker, stand_in):
            if p.poll() is None:
                p.kill()


def test_a_partition_left_weeks_behind_by_a_crash_is_judged_on_its_own_time(
        tmp_path: Path) -> None:
    """The crash the command-level test meets by chance, made certain: three partitions
    stored to their end, the fourth only its first messages, weeks of event time behind
    them. The rerun re-reads every partition from offset 0 and takes each up from the
    archive: every re-read event gets the flag it had (none is late: in its own partition
    the log is in time order), so the archive, the late count and every figure equal the
    reference on all the events."""
    from warehouse.client import Warehouse
    from warehouse.queries import stored_resume_point

    events, messages = _four_weeks_in_four_partitions(seed=8)
    settings = load_settings({})
    wh = Warehouse(f"chdb://{tmp_path / 'clickhouse'}", "crash")
    first = _resuming_ingestor(wh)
    stored = [m for m in messages if m.partition != 3 or m.offset < 2]
    for i in range(0, len(stored), 8):
        first.handle(stored[i:i + 8])
    # the precondition: one watermark over all partitions would have made these late
    latest = max(stored_resume_point(wh, "scan.v1", p, 0).latest_ms or 0 for p in range(4))
    behind = next(m for m in messages if m.partition == 3 and m.offset == 2)
    assert latest - _ts_ms(behind.value.split(b"\n")[0]) > settings.allowed_lateness_s * 1000
    rerun = _resuming_ingestor(wh)
    for i in range(0, len(messages), 8):
        rerun.handle(messages[i:i + 8])
    assert (first.late, rerun.late) == (0, 0)
    archived = wh.query(f"SELECT uniqExactIf(event_id, late = 0), countIf(late = 1) "
                        f"FROM {wh.db}.events")[0]
    assert archived == (len({e["event_id"] for e in events}), 0)
    assert wh.query(f"SELECT count() FROM {wh.db}.late_events")[0][0] == 0
    rows = [r.to_json() for r in kpi_report(wh, CellFilter(by="hour", scope=Scope.national()),
                                            load_route_table(), load_catalog())]
    assert assert_matches_reference(rows, events, "hour") > 500


def test_a_rebalance_that_re_delivers_stored_messages_gives_them_the_flags_they_had(
        tmp_path: Path) -> None:
    """One worker stores the first half of four partitions (two weeks of event time each),
    loses and regains them (a rebalance), and is re-delivered every partition from offset
    1 to its end (the committed offset, and on): taken up at the time stored before offset
    1, no re-read event is late, so the archive holds no late row and late_events none."""
    from warehouse.client import Warehouse

    events, messages = _four_weeks_in_four_partitions(seed=9)
    wh = Warehouse(f"chdb://{tmp_path / 'clickhouse'}", "rebalance")
    worker = _resuming_ingestor(wh)
    worker.handle([m for m in messages if m.offset < 10])
    worker.forget_resumed()  # revoked and assigned again
    worker.handle([m for m in messages if m.offset >= 1])
    assert worker.late == 0
    assert wh.query(f"SELECT countIf(late = 1), uniqExact(event_id) FROM {wh.db}.events")[0] == (
        0, len({e["event_id"] for e in events}))
    assert wh.query(f"SELECT count() FROM {wh.db}.late_events")[0][0] == 0


def _four_weeks_in_four_partitions(seed: int) -> tuple[list[dict[str, Any]], list[Any]]:
    """4,000 generated events over 28 days in time order, as messages of 50 sent
    round-robin to four partitions (as `process` sends a file): each partition's log is in
    time order."""
    from streams.decode import Arrival

    events = sorted(generate(GeneratorConfig(count=4_000, seed=seed, span_hours=24 * 28)),
                    key=lambda e: _ts_ms(orjson.dumps(e)))
    per = 50
    return events, [Arrival("scan.v1", (i // per) % 4, i // per // 4,
                            b"\n".join(orjson.dumps(e) for e in events[i:i + per]))
                    for i in range(0, len(events), per)]


def _resuming_ingestor(wh: Any) -> Any:
    """A worker's ingest step on `wh`, taking partitions up from it as streams.app does."""
    from streams.ingest import Ingestor
    from streams.stream_time import StreamTime
    from warehouse.queries import stored_resume_point
    from warehouse.sink import ClickHouseSink

    return Ingestor(load_settings({}), ClickHouseSink(wh), StreamTime(),
                    clock=lambda: datetime(2027, 1, 1, tzinfo=UTC),  # after every event
                    resume_from=lambda t, p, o: stored_resume_point(wh, t, p, o))


def _ts_ms(line: bytes) -> int:
    ts = datetime.fromisoformat(str(orjson.loads(line)["ts"]).replace("Z", "+00:00"))
    return int(ts.timestamp() * 1000)
