"""The timed part of a throughput run: warm-up, sustained and capacity phases, drain.

Besides the rates, lag and latency it records where the CPU went during the sustained
phase: the workers' ingest counters (from their /metrics), CPU per worker thread name (from
/proc), and the CPU of the broker and of the bench process (producer, sampler, probe).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from rich.progress import Progress

from load_tests.bench_setup import timed, wait_for
from load_tests.bench_traffic import BenchProducer
from load_tests.bench_watch import (
    ProbePoller,
    Sample,
    Sampler,
    cpu_seconds,
    percentile,
    process_name,
    thread_cpu,
)
from runtime.settings import Settings
from services.pipeline import Worker

_METRICS = ("courierwatch_batch_seconds_sum", "courierwatch_batches_total",
            "courierwatch_batch_events_sum", "courierwatch_store_write_cpu_seconds_total")
# The worker's Python threads carry the process's own name (/proc/<pid>/comm: Python never
# renames the threads it starts); they are reported as PYTHON. chDB renames a Python thread
# that runs an insert through it: seen as `RuntimeData` (chDB 4.4; `Unknown` before), and
# py-spy's thread ids confirm it is the ingest step's `insert_0` thread. Every other name
# is one of ClickHouse's own pools (ThreadPool, MergeMutate, BgSchPool, ...).
PYTHON = "python"
RENAMED_CALLERS = ("RuntimeData", "Unknown")
Snapshot = tuple[float, dict[str, float], dict[str, float], dict[str, float]]


def _metrics(bases: list[str]) -> dict[str, float]:
    """The workers' ingest counters from /metrics, summed."""
    out: dict[str, float] = {}
    for base in bases:
        with (contextlib.suppress(OSError, ValueError),
              urllib.request.urlopen(base + "/metrics", timeout=10) as resp):  # noqa: S310
            for line in resp.read().decode().splitlines():
                name, _, value = line.rpartition(" ")
                if name in _METRICS:
                    out[name] = out.get(name, 0.0) + float(value)
    return out


def _snapshot(bases: list[str], pids: list[int], broker_pid: int | None) -> Snapshot:
    procs = {"bench (producer, sampler, probe)": float(sum(os.times()[:2]))}
    if broker_pid:
        procs["broker (tansu)"] = cpu_seconds(broker_pid)
    threads: dict[str, float] = {}
    for pid in pids:
        own = process_name(pid)
        for k, v in thread_cpu(pid).items():
            k = PYTHON if k == own else k
            threads[k] = threads.get(k, 0.0) + v
    return time.monotonic(), _metrics(bases), threads, procs


def cpu_per_1000_events(a: Snapshot, b: Snapshot, events: float) -> dict[str, float | None]:
    """CPU seconds per 1,000 events stored between two snapshots, by who spent them.

    - `worker_python`: the worker's Python threads (RENAMED_CALLERS included), less their
      time inside store writes;
    - `clickhouse`: chDB's own threads (query pipeline, merges, background pools) plus the
      Python threads' time inside store writes (`courierwatch_store_write_cpu_seconds_total`:
      chDB's insert, parse, archive and views run partly on the calling thread; the
      figure also holds clickhouse-connect's serialisation, ~1 us per event);
    - `worker` = the two; `broker` (tansu's process); `producer` (the bench process: the
      producer, sampler and probe; with the peer running, its consumer too).

    CPU time is what a busy neighbour moves least: a change is judged by these figures
    from interleaved runs (load_tests/README.md, "Judging a change")."""
    if events <= 0:
        return {k: None for k in ("worker_python", "clickhouse", "worker", "broker",
                                  "producer", "total")}
    threads = {k: v - a[2].get(k, 0.0) for k, v in b[2].items()}
    procs = {k: v - a[3].get(k, 0.0) for k, v in b[3].items()}
    in_store = (b[1].get("courierwatch_store_write_cpu_seconds_total", 0.0)
                - a[1].get("courierwatch_store_write_cpu_seconds_total", 0.0))
    callers = (PYTHON, *RENAMED_CALLERS)
    py = sum(v for k, v in threads.items() if k in callers)
    ch = sum(v for k, v in threads.items() if k not in callers)
    py, ch = max(py - in_store, 0.0), ch + min(in_store, py)
    per = 1000 / events
    out = {"worker_python": py * per, "clickhouse": ch * per, "worker": (py + ch) * per,
           "broker": procs.get("broker (tansu)", 0.0) * per,
           "producer": procs.get("bench (producer, sampler, probe)", 0.0) * per}
    out["total"] = out["worker"] + out["broker"] + out["producer"]
    return {k: round(v, 4) for k, v in out.items()}


def _load_between(a: Snapshot, b: Snapshot, workers: int) -> dict[str, Any]:
    """Where the time went between two snapshots: the ingest threads' busy share (decode +
    insert, from the batch-seconds histogram; 1.0 = one thread always busy), the mean batch,
    cores per worker thread name (Python threads are all `python`; the insert thread calls
    into chDB, which renames it, RENAMED_CALLERS), and the cores of the broker and of the
    bench."""
    dt = b[0] - a[0]
    m = {k: b[1].get(k, 0.0) - a[1].get(k, 0.0) for k in b[1]}
    batches = m.get("courierwatch_batches_total", 0.0)
    cpu = {k: round((v - a[2].get(k, 0.0)) / dt, 2) for k, v in b[2].items()}
    return {"ingest_busy_share": round(m.get("courierwatch_batch_seconds_sum", 0.0)
                                       / dt / workers, 3),
            "mean_batch_events": round(m.get("courierwatch_batch_events_sum", 0.0) / batches)
            if batches else None,
            "batches_per_s": round(batches / dt, 2),
            "worker_cores": round(sum(cpu.values()), 2),
            "worker_cores_by_thread": dict(sorted(((k, v) for k, v in cpu.items() if v >= 0.01),
                                                  key=lambda kv: -kv[1])),
            "other_cores": {k: round((v - a[3].get(k, 0.0)) / dt, 2) for k, v in b[3].items()}}


def broker_pid(bs: Settings) -> int | None:
    with contextlib.suppress(OSError, ValueError, KeyError):
        return int(json.loads(bs.broker_file.read_text())["pid"])
    return None


def rate_between(a: Sample, b: Sample, attr: str = "committed") -> float:
    dt = b.t - a.t
    return (getattr(b, attr) - getattr(a, attr)) / dt if dt > 0 else 0.0


def lag_growth(samples: list[Sample]) -> float:
    """Mean lag of the last third minus that of the first third, events."""
    k = max(len(samples) // 3, 1)
    first, last = samples[:k], samples[-k:]
    return sum(s.lag for s in last) / len(last) - sum(s.lag for s in first) / len(first)


def _r(v: float | None) -> float | None:
    return None if v is None or v == float("inf") else round(v, 3)


def ramp_seconds(duration_s: float) -> float:
    """The unmeasured ramp before the sustained window: a tenth of it, 3-15 s."""
    return round(min(max(duration_s / 10, 3.0), 15.0), 1)


@dataclass
class Run:
    """What the phases of one throughput run share."""

    bs: Settings
    bootstrap: str
    workers: list[Worker]
    producer: BenchProducer
    bar: Progress
    sampler: Sampler
    probe: ProbePoller

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{w.web_port}" for w in self.workers]

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers]

    def status(self) -> str:
        """Progress-bar text; raises if a worker died."""
        for w in self.workers:
            if not w.alive():
                raise RuntimeError(f"a worker exited:\n{w.log_tail()}")
        s = self.sampler.samples[-1] if self.sampler.samples else None
        return f"lag {s.lag:,} events, rss {s.rss_mb:,.0f} MB" if s else ""


def drive(bs: Settings, bootstrap: str, workers: list[Worker], producer: BenchProducer,
          bar: Progress, duration_s: float, rate: float, capacity_s: float) -> dict[str, Any]:
    """Warm-up, sustained and capacity phases, drain; the figures of the run."""
    run = Run(bs, bootstrap, workers, producer, bar,
              Sampler(bootstrap, bs.consumer_group, bs.scan_topic, bs.partitions, producer,
                      [w.proc.pid for w in workers]),
              ProbePoller([f"http://127.0.0.1:{w.web_port}" for w in workers], producer))
    _warm_up(run)
    sustained = _sustained(run, duration_s, rate)
    capacity, markers = sustained.pop("_capacity"), sustained.pop("_markers")
    cap_from = None
    if capacity_s and not sustained["lag_growing"]:
        cap_from = _capacity(run, capacity_s)
    drained = _drain(run, capacity or sustained["events_per_s"])
    if cap_from is not None and drained:
        # The workers are saturated from the start of the capacity phase until the backlog
        # it built is drained: events committed over that span / its length.
        capacity = rate_between(run.sampler.samples[cap_from], run.sampler.samples[-1])
    for th in (run.sampler, run.probe):
        th.stop_event.set()
        th.join(5)
    if producer.error:
        raise RuntimeError(f"producer failed: {producer.error!r}")
    return sustained | _latency(run, markers) | {
        "drained": drained, "events_total": producer.sent_events,
        "capacity_events_per_s": None if capacity is None else round(capacity, 1),
        "probe_errors": run.probe.errors,
        "timeline": [[s.t, s.produced, s.committed, s.lag, s.rss_mb]
                     for s in run.sampler.samples],
        "_sampled_peak": run.sampler.peak_rss_mb,
    }


def _warm_up(run: Run) -> None:
    """A few messages through the whole pipeline: the group has joined and committed."""
    from kafka import KafkaAdminClient

    bs, producer = run.bs, run.producer
    admin = KafkaAdminClient(bootstrap_servers=run.bootstrap, client_id="bench-warmup")
    try:
        producer.set_rate(0, limit_messages=4 * bs.partitions)
        wait_for(lambda: producer.messages_sent >= 4 * bs.partitions and
                 run.sampler.committed_events(admin) >= producer.sent_events, 120,
                 "the warm-up batch to be committed", run.workers[0])
    finally:
        admin.close()


def _sustained(run: Run, duration_s: float, rate: float) -> dict[str, Any]:
    """Ramp, then the measured window at `rate` (0: as fast as the producer can)."""
    run.sampler.start()
    run.probe.start()
    run.producer.markers_on = True
    run.producer.set_rate(rate)
    # Ramp: at the same rate, until the pipeline holds its steady in-flight inventory
    # (the batch being gathered and up to three being decoded and inserted, ~1-2 s of
    # traffic). Counted in that window, the fill would read as lag and as a rate below the
    # offered one even when the pipeline keeps up.
    ramp_s = ramp_seconds(duration_s)
    timed(run.bar, f"ramp at {rate:,.0f}/s" if rate else "ramp", ramp_s, run.status)
    broker = broker_pid(run.bs)
    start, load0 = len(run.sampler.samples), _snapshot(run.bases, run.pids, broker)
    markers_from = len(run.producer.markers)
    label = f"sustained at {rate:,.0f}/s" if rate else "sustained, as fast as possible"
    timed(run.bar, label, duration_s, run.status)
    load1 = _snapshot(run.bases, run.pids, broker)
    load = _load_between(load0, load1, len(run.workers))
    window = run.sampler.samples[start:]
    growth = lag_growth(window)
    offered = rate_between(window[0], window[-1], "produced")
    ingested = rate_between(window[0], window[-1])
    growing = growth > max(offered, 1.0) * 1.0  # more than a second of traffic piled up
    return {
        "events_per_s": round(ingested, 1), "offered_events_per_s": round(offered, 1),
        "ramp_s": ramp_s, "lag_events": [s.lag for s in window],
        "lag_growth_events": round(growth),
        "consumer_lag_events": [max(s.on_broker - s.committed, 0) for s in window],
        "lag_growing": growing, "cpu": load,
        "cpu_s_per_1000_events": cpu_per_1000_events(
            load0, load1, window[-1].committed - window[0].committed),
        "_capacity": ingested if growing or not rate else None,
        "_markers": (markers_from, len(run.producer.markers)),
    }


def _capacity(run: Run, capacity_s: float) -> int:
    """As fast as the pipeline commits: the producer stays at most ~3 batches ahead.
    Returns the index of the sample the phase starts at."""
    run.producer.set_rate(0, max_backlog=3 * run.bs.batch_messages * 500 * len(run.workers))
    cap_from = len(run.sampler.samples) - 1
    timed(run.bar, "capacity (as fast as the pipeline takes)", capacity_s, run.status)
    return cap_from


def _drain(run: Run, rate: float) -> bool:
    """Stop producing and wait until everything produced is committed and every latency
    marker seen; False when that did not happen in time."""
    run.producer.pause()
    task = run.bar.add_task("draining", total=None)
    backlog = run.sampler.samples[-1].lag if run.sampler.samples else 0
    drain_s = 60 + 1.5 * backlog / max(rate, 1000.0)
    sampler, producer = run.sampler, run.producer
    try:
        wait_for(lambda: bool(sampler.samples) and sampler.samples[-1].lag == 0
                 and sampler.samples[-1].produced == producer.sent_events, drain_s,
                 "the drain", run.workers[0])
        wait_for(lambda: run.probe.unseen() == 0, 20, "the last markers", run.workers[0])
        return True
    except TimeoutError:
        return False
    finally:
        run.bar.remove_task(task)


def _latency(run: Run, markers: tuple[int, int]) -> dict[str, Any]:
    """Scan-to-queryable latency of the sustained window's markers."""
    sent = dict(run.producer.markers)
    lat = sorted(run.probe.seen[i] - sent[i] if i in run.probe.seen else float("inf")
                 for i in range(*markers))
    return {"p50_latency_s": _r(percentile(lat, 0.50)), "p99_latency_s": _r(percentile(lat, 0.99)),
            "max_latency_s": _r(lat[-1] if lat else None), "markers": len(lat),
            "markers_unseen": sum(1 for v in lat if v == float("inf"))}
