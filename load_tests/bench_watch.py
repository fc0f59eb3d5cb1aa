"""What the benchmark watches while traffic flows: lag, worker memory, marker latency.

- `Sampler`: once a second, the consumer group's committed offsets (converted into events
  with the producer's per-offset counts), the events produced so far, and the resident
  memory of the worker process tree (read from /proc: no extra dependency).
- `ProbePoller`: asks the worker's `/api/probe` every `interval_s` which PROBE<i> cells
  are counted in the KPI store; a marker's latency is the time it was first seen there
  minus the time it was handed to the producer.
- `machine_info`: CPU count and model, memory.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from load_tests.bench_traffic import PROBE_CITY, PROBE_PREFIX, BenchProducer
from services.owner import get_json
from services.pipeline import committed_offsets


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (from /proc/<pid>/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{p}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):
                    todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def tree_rss_mb(pid: int) -> float:
    """Current resident memory of the process tree, MiB."""
    return sum(_status_kb(p, "VmRSS") for p in process_tree(pid)) / 1024


def tree_hwm_mb(pid: int) -> float:
    """Sum of each process's own peak resident memory (VmHWM), MiB."""
    return sum(_status_kb(p, "VmHWM") for p in process_tree(pid)) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far (clock ticks from /proc/<pid>/stat)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def process_name(pid: int) -> str:
    """The name of `pid` (/proc/<pid>/comm), '' when it is gone."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/comm").read_text().strip()
    return ""


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds so far per thread name of `pid` (threads of one name summed)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def machine_info() -> dict[str, object]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"cpus": os.cpu_count(), "affinity_cpus": len(os.sched_getaffinity(0)),
            "cpu_model": model, "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


@dataclass
class Sample:
    t: float            # seconds since the sampler started
    produced: int       # events handed to the producer
    committed: int      # events whose offsets the worker's group committed
    rss_mb: float
    on_broker: int = 0  # events the broker holds (its end offsets): produced - on_broker
                        # is still in the producer's buffers, on_broker - committed is the
                        # consumer's lag

    @property
    def lag(self) -> int:
        return max(self.produced - self.committed, 0)


class Sampler(threading.Thread):
    def __init__(self, bootstrap: str, group: str, topic: str, partitions: int,
                 producer: BenchProducer, worker_pids: list[int],
                 interval_s: float = 1.0) -> None:
        super().__init__(daemon=True, name="bench-sampler")
        self.bootstrap, self.group, self.topic, self.partitions = (bootstrap, group, topic,
                                                                   partitions)
        self.producer, self.worker_pids, self.interval_s = producer, worker_pids, interval_s
        self.samples: list[Sample] = []
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()
        self.peak_rss_mb = 0.0

    def committed_events(self, admin: KafkaAdminClient) -> int:
        done = committed_offsets(admin, self.group, self.topic, self.partitions)
        return sum(self.producer.events_at(p, o) for p, o in done.items())

    def on_broker_events(self, consumer: KafkaConsumer) -> int:
        tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]
        try:
            ends = consumer.end_offsets(tps)
        except KafkaError:
            return 0
        return sum(self.producer.events_at(tp.partition, o) for tp, o in ends.items())

    def sample(self, admin: KafkaAdminClient, consumer: KafkaConsumer | None = None) -> Sample:
        produced = self.producer.sent_events
        rss = sum(tree_rss_mb(pid) for pid in self.worker_pids)
        self.peak_rss_mb = max(self.peak_rss_mb, rss)
        s = Sample(round(time.monotonic() - self.t0, 2), produced, self.committed_events(admin),
                   round(rss, 1), self.on_broker_events(consumer) if consumer else 0)
        self.producer.committed_hint = s.committed
        self.samples.append(s)
        return s

    def run(self) -> None:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="bench-lag")
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, client_id="bench-ends")
        try:
            while not self.stop_event.is_set():
                started = time.monotonic()
                self.sample(admin, consumer)
                self.stop_event.wait(max(self.interval_s - (time.monotonic() - started), 0))
        finally:
            consumer.close()
            admin.close()


class ProbePoller(threading.Thread):
    """Polls the worker for the PROBE<i> cells; records when each marker became queryable."""

    def __init__(self, base_urls: list[str], producer: BenchProducer,
                 interval_s: float = 0.25) -> None:
        super().__init__(daemon=True, name="bench-probe")
        self.base_urls, self.producer, self.interval_s = base_urls, producer, interval_s
        self.seen: dict[int, float] = {}
        self.stop_event = threading.Event()
        self.errors = 0

    def latencies(self) -> list[float]:
        sent = dict(self.producer.markers)
        return sorted(self.seen[i] - sent[i] for i in self.seen if i in sent)

    def unseen(self) -> int:
        return len(self.producer.markers) - len(self.seen)

    def run(self) -> None:
        while not self.stop_event.is_set():
            if self.unseen():
                for base in self.base_urls:  # a marker lands in the store of one worker
                    try:
                        cells = get_json(base, "/api/probe",
                                         {"city": PROBE_CITY, "prefix": PROBE_PREFIX},
                                         timeout_s=30)
                    except (OSError, ValueError):
                        self.errors += 1
                        continue
                    now = time.time()
                    for company, n in cells.get("cells", {}).items():
                        i = int(company[len(PROBE_PREFIX):])
                        if n and i not in self.seen:
                            self.seen[i] = now
            self.stop_event.wait(self.interval_s)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted `values` (None when empty)."""
    if not values:
        return None
    k = max(0, min(len(values) - 1, int(-(-q * len(values) // 1)) - 1))
    return values[k]
