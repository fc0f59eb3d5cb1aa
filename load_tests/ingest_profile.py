"""Where a worker's CPU goes per event, without broker or timing noise (issue 25).

`python -m load_tests.ingest_profile [--events N] [--top K] [--no-store]`: generates N
events (500 per message, as the bench sends them), then runs the worker's own ingest step
(`streams.ingest.Ingestor`: decode, validate, rows, insert into `events_in` and every view)
into a fresh chDB in a temporary directory, under cProfile, once to warm up and once
measured. Prints CPU microseconds per event of the whole step and of the store call alone
(process CPU: chDB's threads included), and the top entries of the profile by own time.
On a loaded machine CPU time moves far less than wall time; compare runs made close
together (load_tests/README.md, "Judging a change").
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from load_tests.generator import GeneratorConfig, generate_batches
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from warehouse.client import Warehouse
from warehouse.sink import ClickHouseSink, MemorySink


class _TimedSink:
    """The production sink, with the process CPU spent inside its writes added up and the
    writes profiled (they run on the ingest step's insert thread, which the caller's
    profiler does not see)."""

    def __init__(self, inner: ClickHouseSink) -> None:
        self.inner, self.cpu_s, self.prof = inner, 0.0, cProfile.Profile()

    def write(self, table: str, columns: Any, names: Any) -> None:
        t0 = time.process_time()
        self.prof.enable()
        self.inner.write(table, columns, names)
        self.prof.disable()
        self.cpu_s += time.process_time() - t0

    def flush(self) -> None:
        self.inner.flush()


def run(events: int, top: int, store: bool) -> str:
    messages = list(generate_batches(GeneratorConfig(count=events, seed=11), 500))
    arrivals = [Arrival("scan.v1", i % 4, i // 4, m) for i, m in enumerate(messages)]
    now = datetime(2026, 11, 20, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        sink: Any = MemorySink()
        if store:
            sink = _TimedSink(ClickHouseSink(Warehouse(f"chdb://{Path(tmp) / 'ch'}", "prof")))
        ingest = Ingestor(load_settings({}), sink, 0, clock=lambda: now)
        ingest.handle(arrivals[:20])  # warm-up: imports, first insert context
        if store:
            sink.cpu_s, sink.prof = 0.0, cProfile.Profile()
        prof = cProfile.Profile()
        t0 = time.process_time()
        prof.enable()
        for i in range(20, len(arrivals), 40):  # batches of 40 messages (20,000 events)
            ingest.handle(arrivals[i:i + 40])
        prof.disable()
        cpu = time.process_time() - t0
    n = sum(m.count(b'"event_id"') for m in messages[20:])
    out = io.StringIO()
    out.write(f"{n:,} events: {cpu / n * 1e6:.2f} us CPU per event, process")
    if store:
        out.write(f" (store call {sink.cpu_s / n * 1e6:.2f} us, of which most in chDB)")
    out.write("\n")
    stats = pstats.Stats(prof, stream=out)
    if store:
        stats.add(sink.prof)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--no-store", action="store_true", help="a sink in memory (Python only)")
    a = ap.parse_args()
    print(run(a.events, a.top, not a.no_store))


if __name__ == "__main__":
    main()
