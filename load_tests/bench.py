"""`courierwatch bench`: the whole pipeline under generated load, and the naive baseline.

Throughput mode (the default), in one run, on the embedded defaults (its own tansu broker,
its own chDB directory `<data dir>/bench`, wiped at start):

1. generate a pool of traffic (load_tests.bench_traffic), untimed;
2. start the real worker (`python -m services.worker`: faust + chDB + HTTP API), warm up
   with a few messages until the group has joined and committed;
3. *ramp* (a tenth of `duration_s`, 3-15 s, unmeasured) and *sustained phase*
   (`duration_s`): offer `rate` events/s (default 105,000: the 100,000 target plus 5 %, so
   that a pipeline that keeps up shows the target whatever the sampling noise of the
   in-flight batches; 0 = as fast as the producer can) in 500-event messages with a
   latency marker every 0.5 s; sample lag (produced - committed events) and worker memory
   every second;
4. *capacity phase* (duration/4, 5 to 20 s; skipped when the sustained phase already
   fell behind): the producer sends as fast as the pipeline commits, staying at most
   ~3 batches ahead; the ingest rate then is what the pipeline can do at most;
5. drain, stop the worker (its peak RSS is read before it exits);
6. peer: Quix Streams (load_tests.peer) counting the same cells with exact dedup in its
   state, on the same broker, reading the scan topic the worker read, over duration/3
   (at most 20 s); `--no-peer` skips it;
7. baseline: the naive one-event-at-a-time faust agent with a table (load_tests.baseline)
   on the same broker and the same events, over duration/3 (at most 20 s).

Other modes are in load_tests.bench_modes: `memory` (5 M parcels in flight) and `replay`.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

from rich.console import Console

from load_tests import bench_modes
from load_tests.baseline import run_baseline
from load_tests.bench_phases import drive
from load_tests.bench_setup import (
    DEFAULT_OFFERED_RATE,
    TARGET_P99_S,
    TARGET_PEER_RATIO,
    TARGET_RATE,
    TARGET_SPEEDUP,
    TARGET_WORKER_RSS_MB,
    bench_settings,
    bench_workers,
    fresh_dir,
    progress,
    target,
)
from load_tests.bench_traffic import BenchProducer, TrafficPool
from load_tests.bench_watch import cpu_seconds, machine_info, tree_hwm_mb
from load_tests.peer import PEER, run_peer
from runtime.broker import kafka_bootstrap
from runtime.settings import Settings
from services.owner import get_json
from services.pipeline import make_producer


def throughput(settings: Settings, duration_s: float, rate: float | None,
               console: Console, workers: int = 1,
               partitions: int | None = None, hostile: bool = False,
               peer: bool = True) -> dict[str, Any]:
    rate = DEFAULT_OFFERED_RATE if rate is None else rate
    bench_dir = fresh_dir(settings)
    bs = bench_settings(settings, bench_dir)
    if partitions is not None:
        bs = bs.with_(partitions=partitions)
    capacity_s = min(20.0, max(duration_s / 4, 5.0)) if rate > 0 else 0.0
    baseline_s = min(20.0, max(duration_s / 3, 5.0))
    pool_size = 200_000 if duration_s < 30 else 500_000
    out: dict[str, Any] = {"mode": "throughput", "duration_s": duration_s,
                           "target_rate": rate or None, "partitions": bs.partitions,
                           "workers": workers, "batch_messages": bs.batch_messages,
                           "batch_within_s": bs.batch_within_s, "machine": machine_info(),
                           "hostile_mix": hostile}
    with progress(console) as bar:
        task = bar.add_task("generating traffic pool", total=pool_size)
        pool = TrafficPool(pool_size, progress=lambda n: bar.advance(task, n),
                           hostile=hostile)
        bar.remove_task(task)
        with kafka_bootstrap(bs) as bootstrap:
            task = bar.add_task("starting broker and worker", total=None)
            with bench_workers(bs, bootstrap, workers) as procs:
                bar.remove_task(task)
                producer = BenchProducer(bootstrap, bs.scan_topic, bs.partitions, pool,
                                         make_producer)
                producer.start()
                out |= drive(bs, bootstrap, procs, producer, bar, duration_s, rate,
                             capacity_s)
                out["archived_by_worker"] = [
                    int(get_json(f"http://127.0.0.1:{w.web_port}", "/api/status",
                                 timeout_s=30)["archived"]) for w in procs]
                hwm = sum(tree_hwm_mb(w.proc.pid) for w in procs)
                out["peak_rss_mb"] = round(max(out.pop("_sampled_peak"), hwm), 1)
                out["worker_cpu_s"] = round(sum(cpu_seconds(w.proc.pid) for w in procs), 1)
                producer.stop_event.set()
                producer.join(10)
            if peer:
                task = bar.add_task(f"peer: {PEER} ({baseline_s:.0f} s)", total=None)
                quix = run_peer(bootstrap, bs.scan_topic, bs.partitions, producer.events_at,
                                producer.sent_events, bench_dir / "peer", baseline_s)
                bar.remove_task(task)
            task = bar.add_task(f"naive baseline ({baseline_s:.0f} s)", total=None)
            events = pool.single_events(int(max(30_000, 8_000 * baseline_s)))
            base = run_baseline(bootstrap, f"{bs.topic_prefix}baseline", bs.partitions, events,
                                bench_dir / "baseline", baseline_s, make_producer)
            bar.remove_task(task)
    out["baseline_events_per_s"] = base.events_per_s
    out["baseline"] = {"events": base.events, "window_s": base.window_s,
                       "startup_s": base.startup_s,
                       "method": "one event per message; json.loads; faust Table += 1 per "
                                 "event (city x company x hour x type)"}
    out["speedup"] = speedup(out["capacity_events_per_s"], out["events_per_s"],
                             base.events_per_s)
    if peer:
        # The same comparison against the peer (load_tests.peer), same broker, same traffic.
        out["peer_name"] = quix.name
        out["peer_events_per_s"] = quix.events_per_s
        best = out["capacity_events_per_s"] or out["events_per_s"]
        out["peer_ratio"] = round(best / quix.events_per_s, 2) if quix.events_per_s else None
        out["peer"] = {"events": quix.events, "window_s": quix.window_s,
                       "startup_s": quix.startup_s,
                       "cpu_s_per_1000_events": quix.cpu_s_per_1000_events,
                       "method": "the bench's scan topic from the start; stateful update: "
                                 "each new event id (RocksDB state) into city x company x "
                                 "CST hour x count cells"}
    out["targets"] = throughput_targets(out)
    return out


def speedup(capacity_per_s: float | None, sustained_per_s: float,
            baseline_per_s: float) -> float | None:
    """Pipeline over baseline, both as fast as they go, to one decimal: the pipeline's
    capacity (its sustained rate when it measured none, having fallen behind) over the
    baseline working through its backlog. None when the baseline counted nothing."""
    best = capacity_per_s or sustained_per_s
    return round(best / baseline_per_s, 1) if baseline_per_s else None


def throughput_targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    p99 = r["p99_latency_s"]
    out = [
        target("sustained_events_per_s", f">= {TARGET_RATE:,}/s, lag not growing",
               r["events_per_s"], r["events_per_s"] >= TARGET_RATE and not r["lag_growing"]),
        target("speedup_vs_naive", f">= {TARGET_SPEEDUP:g}x", r["speedup"],
               (r["speedup"] or 0) >= TARGET_SPEEDUP),
        target("p99_scan_to_queryable_s", f"<= {TARGET_P99_S:g} s", p99,
               p99 is not None and p99 <= TARGET_P99_S),
        target("worker_peak_rss_mb", f"< {TARGET_WORKER_RSS_MB:,.0f} MB", r["peak_rss_mb"],
               r["peak_rss_mb"] < TARGET_WORKER_RSS_MB),
    ]
    if "peer_ratio" in r:
        out.append(target("peer_ratio", f">= {TARGET_PEER_RATIO:g}x {r['peer_name']}",
                          r["peer_ratio"], (r["peer_ratio"] or 0) >= TARGET_PEER_RATIO))
    return out


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_bench(settings: Settings, duration_s: float, fmt: str = "table",
              mode: str = "throughput", rate: float | None = None,
              console: Console | None = None, workers: int = 1,
              partitions: int | None = None, hostile: bool = False,
              peer: bool = True) -> dict[str, Any]:
    """Run one benchmark mode and return its figures (see load_tests/README.md)."""
    console = console or Console(stderr=True)
    started = time.monotonic()
    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (timeout, CI) unwinds like Ctrl-C so that the broker and worker stop too.
        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if mode == "throughput":
            result = throughput(settings, duration_s, rate, console, workers, partitions,
                                hostile, peer)
        else:
            runner = {"memory": bench_modes.memory, "replay": bench_modes.replay}[mode]
            result = runner(settings, duration_s, console)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result
