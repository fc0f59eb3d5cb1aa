"""The naive baseline the benchmark compares against: one event at a time through faust.

What a straightforward faust program does: one scan.v1 event per Kafka message, an agent
that iterates the stream event by event, parses each with the standard library's `json`,
and counts it in a faust Table keyed by city x company x CST hour x type (every update
also goes to the table's changelog topic, as faust tables do). No validation, no
ClickHouse: it does less than the real pipeline, so the comparison flatters the baseline.

The bench produces the same generated events it uses for the pipeline, one per message,
into its own topic *before* starting this app (so the producer never limits it), then
counts how fast the app's committed offsets advance over a fixed window.

Run as `python -m load_tests.baseline worker BOOTSTRAP TOPIC PARTITIONS DATADIR` (arguments,
not environment variables: only runtime.settings reads the environment).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GROUP_SUFFIX = "baseline"


def build_app(bootstrap: str, topic_name: str, partitions: int, datadir: str) -> Any:
    import faust

    app = faust.App(
        f"{topic_name}-{GROUP_SUFFIX}", broker=f"kafka://{bootstrap}",
        store="memory://", value_serializer="raw", key_serializer="raw", autodiscover=False,
        datadir=datadir, topic_partitions=partitions,
        consumer_auto_offset_reset="earliest",
        # The same broker-facing settings as the real worker (tansu needs the short timeouts).
        broker_rebalance_timeout=4.0, broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0, broker_commit_interval=0.5, web_enabled=False)
    topic = app.topic(topic_name, value_serializer="raw", key_serializer="raw")
    counts = app.Table("counts", default=int, partitions=partitions)

    @app.agent(topic)
    async def count(stream: Any) -> None:
        async for value in stream:
            ev = json.loads(value)
            counts[f"{ev['city']}|{ev['company']}|{ev['ts'][:13]}|{ev['type']}"] += 1

    return app


def main() -> None:
    import faust

    bootstrap, topic, partitions, datadir = sys.argv[2:6]
    app = build_app(bootstrap, topic, int(partitions), datadir)
    faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False
                 ).execute_from_commandline()


@dataclass
class BaselineResult:
    events_per_s: float
    events: int
    window_s: float
    startup_s: float


def group_id(topic: str) -> str:
    return f"{topic}-{GROUP_SUFFIX}"


def run_baseline(bootstrap: str, topic: str, partitions: int, events: list[bytes],
                 work_dir: Path, window_s: float, make_producer: Any) -> BaselineResult:
    """Produce `events` one per message, start the baseline app, time it over `window_s`."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    from runtime.processes import stop_process
    from services.pipeline import committed_offsets

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-baseline")
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
        producer = make_producer(bootstrap)
        try:
            for i, ev in enumerate(events):
                producer.send(topic, ev, partition=i % partitions)
            producer.flush()
        finally:
            producer.close()
        work_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "load_tests.baseline", "worker", bootstrap, topic,
                str(partitions), str(work_dir / "faust")]
        with open(work_dir / "baseline.log", "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        started = time.monotonic()
        try:
            return _measure(admin, committed_offsets, group_id(topic), topic, partitions,
                            len(events), window_s, proc, started, work_dir)
        finally:
            stop_process(proc, 15)
    finally:
        admin.close()


def _measure(admin: Any, committed_offsets: Any, group: str, topic: str, partitions: int,
             total: int, window_s: float, proc: subprocess.Popen[bytes], started: float,
             work_dir: Path) -> BaselineResult:
    """Wait for the first commit, then count committed events over `window_s`."""
    def done() -> int:
        return sum(committed_offsets(admin, group, topic, partitions).values())

    first = 0
    deadline = started + 90
    while first == 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            log = (work_dir / "baseline.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"baseline app did not start consuming:\n{log}")
        time.sleep(0.2)
        first = done()
    t0, startup = time.monotonic(), time.monotonic() - started
    n = first
    while time.monotonic() - t0 < window_s and n < total:
        time.sleep(0.5)
        n = done()
    elapsed = time.monotonic() - t0
    return BaselineResult(round((n - first) / elapsed, 1), n - first, round(elapsed, 2),
                          round(startup, 2))


if __name__ == "__main__":
    main()
