"""A short run of `courierwatch bench`: the shape and sanity of its report, never its speed.

Benchmarks are not tests: no figure here is compared with a target or a threshold of time.
The run uses a temporary data directory, its own broker and its own chDB directory.
"""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.integration

REQUIRED = ("events_per_s", "baseline_events_per_s", "p50_latency_s", "p99_latency_s",
            "peak_rss_mb", "offered_events_per_s", "lag_events", "lag_growing", "speedup",
            "targets", "machine", "duration_s", "ramp_s", "consumer_lag_events",
            "archived_by_worker", "peer_name", "peer_events_per_s", "peer_ratio",
            "cpu_s_per_1000_events")
TARGETS = {"sustained_events_per_s", "speedup_vs_naive", "p99_scan_to_queryable_s",
           "worker_peak_rss_mb", "peer_ratio"}


def test_short_bench_reports_every_figure_with_sane_values(cli: Cli) -> None:
    """A ~10 s throughput run at a rate any machine sustains prints JSON with every required
    key; rates, latencies and memory are positive, the baseline counted events, the lag
    series has one sample a second, every target is judged, the Quix Streams peer ran and
    its ratio is the pipeline's capacity over its rate, CPU per 1,000 events is reported
    by part and the parts add up, and the bench cleaned up after itself (no worker or
    broker left behind)."""
    proc = cli.run("bench", "--duration", "10", "--rate", "5000", "--format", "json",
                   timeout=240)
    r = orjson.loads(proc.stdout)
    missing = [k for k in REQUIRED if k not in r]
    assert not missing, f"missing keys {missing}"
    assert r["mode"] == "throughput" and r["duration_s"] == 10
    assert r["events_per_s"] > 0 and r["offered_events_per_s"] > 0
    assert r["baseline_events_per_s"] > 0 and r["baseline"]["events"] > 0
    assert r["capacity_events_per_s"] > 0
    speedup = next(t for t in r["targets"] if t["name"] == "speedup_vs_naive")
    assert r["speedup"] > 0 and speedup["value"] == r["speedup"]  # the formula: test_bench_speedup
    # The peer ran on the same broker in the same invocation and counted events.
    assert r["peer_name"].startswith("Quix Streams ") and r["peer"]["events"] > 0
    assert r["peer"]["cpu_s_per_1000_events"] > 0
    assert r["peer_ratio"] > 0
    # CPU per 1,000 events, by who spent it: the parts add up, each was measured.
    cpu = r["cpu_s_per_1000_events"]
    assert cpu["worker_python"] > 0 and cpu["clickhouse"] > 0 and cpu["broker"] > 0
    assert cpu["worker"] == pytest.approx(cpu["worker_python"] + cpu["clickhouse"], abs=2e-4)
    assert cpu["total"] == pytest.approx(cpu["worker"] + cpu["broker"] + cpu["producer"],
                                         abs=3e-4)
    assert r["markers"] > 0 and r["markers_unseen"] == 0
    assert 0 < r["p50_latency_s"] <= r["p99_latency_s"] <= r["max_latency_s"]
    assert r["peak_rss_mb"] > 0
    assert 8 <= len(r["lag_events"]) <= 14 and all(v >= 0 for v in r["lag_events"])
    assert isinstance(r["lag_growing"], bool) and r["drained"] is True
    assert {t["name"] for t in r["targets"]} == TARGETS
    assert all(isinstance(t["met"], bool) for t in r["targets"])
    assert r["machine"]["cpus"] >= 1 and r["machine"]["memory_gib"] > 0
    assert not (cli.data_dir / "bench" / "broker.json").exists()
    assert not (cli.data_dir / "bench" / "api.json").exists()


def test_two_workers_split_the_partitions_and_store_every_event(cli: Cli) -> None:
    """Scale-out: two workers in one consumer group on a 4-partition topic each get
    partitions and store events, and between them they store every event produced (at
    least once: a rebalance may re-deliver uncommitted messages, which the figures absorb);
    the group drained the topic."""
    proc = cli.run("bench", "--duration", "8", "--rate", "3000", "--workers", "2",
                   "--partitions", "4", "--no-peer", "--format", "json", timeout=300)
    r = orjson.loads(proc.stdout)
    assert "peer_ratio" not in r  # --no-peer
    assert r["workers"] == 2 and r["partitions"] == 4 and r["drained"] is True
    by_worker = r["archived_by_worker"]
    assert len(by_worker) == 2 and all(n > 0 for n in by_worker)
    assert sum(by_worker) >= r["events_total"]
