"""The peer the benchmark measures the pipeline against: Quix Streams, in the same run.

What a Python team would pick to count KPI cells off Kafka today: a Quix Streams
application (`bench` extra, pinned in pyproject.toml) with a `StreamingDataFrame` whose
stateful `update` counts, per message, each event once (exact dedup: the event id is
looked up in, then written to, the app's RocksDB state) into its cells: city x company x
CST hour x each count of courierwatch.kpi.COUNTS it satisfies (`count_names`, the same
conditions written in Python). State goes to changelog topics, as Quix state does.
It validates nothing, screens nothing and stores no archive: it does less than the
pipeline.

The bench runs it after the worker has stopped (each has the machine alone) on the same
broker, as its own consumer group reading the bench's scan topic from the start: the same
generated traffic, in the same 500-event messages, the worker consumed. Its rate is events
committed over a window (duration/3, 5-20 s) from its first commit, converted from offsets
exactly with the producer's per-offset counts, and its process's CPU seconds per 1,000 of
them (the figure a loaded machine moves least). State is per partition, like every Kafka
Streams-style store: an id re-sent to another partition would count in each (the bench's
traffic sends every id once per round).

Run as `python -m load_tests.peer --bootstrap HOST:PORT --topic T --group G --state-dir D`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

PEER = "Quix Streams"
_CST = timezone(timedelta(hours=8))


def count_names(ev: dict[str, Any]) -> list[str]:
    """The counts of courierwatch.kpi.COUNTS that `ev` is in (their conditions in Python)."""
    t = ev.get("type")
    if t == "ACCEPTED":
        pkg, sec = ev.get("packaging") or {}, ev.get("security") or {}
        out = ["accepted"]
        if ev.get("ecommerce"):
            out.append("accepted_ecommerce")
            if not pkg.get("secondary_packaging"):
                out.append("ecommerce_no_secondary")
        for field, name in (("standard", "pkg_standard"), ("e_waybill", "pkg_e_waybill"),
                            ("recycled_bag", "pkg_recycled_bag")):
            if pkg.get(field):
                out.append(name)
        for field, name in (("real_name", "sec_real_name"), ("inspected", "sec_inspected"),
                            ("xray", "sec_xray")):
            if sec.get(field):
                out.append(name)
        return out
    if t == "DELIVERED":
        return ["delivered", "delivered_locker"] if ev.get("mode") == "LOCKER" else ["delivered"]
    if t == "EXCEPTION":
        kind = {"DELAY": "exc_delay", "DAMAGE": "exc_damage", "LOSS": "exc_loss"}.get(
            ev.get("kind", ""))
        return [kind] if kind else []
    if t == "COMPLAINT":
        company = ev.get("channel") == "COMPANY"
        stage = ev.get("stage")
        if company:
            if stage != "RESOLVED":
                return []
            return (["company_complaint_resolved", "company_complaint_satisfied"]
                    if ev.get("satisfied") else ["company_complaint_resolved"])
        out = {"FILED": ["complaint_filed"], "ACCEPTED": ["complaint_accepted"],
               "RESOLVED": ["complaint_resolved"]}.get(stage or "", [])
        if stage == "RESOLVED":
            out = out + (["complaint_valid"] if ev.get("valid") else []) + (
                ["complaint_satisfied"] if ev.get("satisfied") else [])
        return out
    return []


def cst_hour(ts: str) -> str:
    """`2026-11-20T10`: the CST hour of an RFC 3339 time with an offset."""
    return datetime.fromisoformat(ts).astimezone(_CST).strftime("%Y-%m-%dT%H")


def count_message(events: list[dict[str, Any]], state: Any) -> None:
    """The peer's stateful step: each new event id once into its cells' counters."""
    for ev in events:
        eid = ev["event_id"]
        if state.exists(eid):
            continue
        state.set(eid, 1)
        cell = f"{ev['city']}|{ev['company']}|{cst_hour(ev['ts'])}|"
        for name in count_names(ev):
            state.set(cell + name, state.get(cell + name, 0) + 1)


def main() -> None:
    from quixstreams import Application

    ap = argparse.ArgumentParser(description="the benchmark's Quix Streams peer")
    for flag in ("--bootstrap", "--topic", "--group", "--state-dir"):
        ap.add_argument(flag, required=True)
    a = ap.parse_args()
    app = Application(broker_address=a.bootstrap, consumer_group=a.group,
                      auto_offset_reset="earliest", state_dir=a.state_dir,
                      commit_interval=0.5, loglevel="WARNING")
    topic = app.topic(a.topic, value_deserializer="json")
    # tansu describes no `retention.ms`, which Quix copies to the changelog topics it
    # creates: give it Kafka's "keep forever" (the bench's topics live for one run).
    topic.broker_config.extra_config.setdefault("retention.ms", "-1")
    sdf = app.dataframe(topic)
    sdf.update(count_message, stateful=True)
    app.run()


@dataclass
class PeerResult:
    name: str
    events_per_s: float
    events: int
    window_s: float
    startup_s: float
    cpu_s_per_1000_events: float | None  # the peer process's CPU over its window


def peer_version() -> str:
    from importlib.metadata import version

    return f"{PEER} {version('quixstreams')}"


def run_peer(bootstrap: str, topic: str, partitions: int, events_at: Callable[[int, int], int],
             total: int, work_dir: Path, window_s: float) -> PeerResult:
    """Start the peer on `topic` (already holding `total` events) and time it over
    `window_s` from its first commit; `events_at(partition, offset)` converts offsets."""
    from kafka import KafkaAdminClient

    from load_tests.bench_watch import cpu_seconds
    from runtime.processes import stop_process
    from services.pipeline import committed_offsets

    work_dir.mkdir(parents=True, exist_ok=True)
    group = f"{topic}-peer"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-peer")
    try:
        with open(work_dir / "peer.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "load_tests.peer", "--bootstrap", bootstrap,
                 "--topic", topic, "--group", group, "--state-dir", str(work_dir / "state")],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started = time.monotonic()
        try:
            def done() -> int:
                return sum(events_at(p, o) for p, o in
                           committed_offsets(admin, group, topic, partitions).items())

            first = 0
            while first == 0:
                if proc.poll() is not None or time.monotonic() > started + 120:
                    tail = (work_dir / "peer.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"the peer did not start consuming:\n{tail}")
                time.sleep(0.2)
                first = done()
            t0, startup = time.monotonic(), time.monotonic() - started
            cpu0 = cpu_seconds(proc.pid)
            n = first
            while time.monotonic() - t0 < window_s and n < total:
                time.sleep(0.5)
                n = done()
            elapsed = time.monotonic() - t0
            cpu = cpu_seconds(proc.pid) - cpu0
        finally:
            stop_process(proc, 15)
    finally:
        admin.close()
    return PeerResult(peer_version(), round((n - first) / elapsed, 1), n - first,
                      round(elapsed, 2), round(startup, 2),
                      round(cpu / (n - first) * 1000, 4) if n > first else None)


if __name__ == "__main__":
    main()
