"""Where a worker's CPU goes per event, without broker or timing noise (issue 25).

`python -m load_tests.ingest_profile [--events N] [--top K] [--no-store]`: generates N
events (500 per message, as the bench sends them), then runs the worker's own ingest step
(`streams.ingest.Ingestor`: decode, validate, rows, insert into `events_in` and every view)
into a fresh chDB in a temporary directory: one pass unprofiled, whose process CPU per
event (chDB's threads included) and CPU inside store writes it prints first, then a pass
under cProfile (both the calling and the insert thread), whose top K entries by own time
follow. `--no-store` writes to a sink in memory: Python alone.
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


def _pass(dsn: str | None, db: str, arrivals: list[Arrival],
          prof: cProfile.Profile | None) -> tuple[float, float, _TimedSink | None]:
    """One ingest of `arrivals` into a fresh database (or a sink in memory when `dsn` is
    None): process CPU seconds, of which in store writes, and the sink."""
    now = datetime(2026, 11, 20, tzinfo=UTC)
    sink: Any = MemorySink() if dsn is None else _TimedSink(ClickHouseSink(Warehouse(dsn, db)))
    ingest = Ingestor(load_settings({}), sink, 0, clock=lambda: now)
    ingest.handle(arrivals[:20])  # warm-up: imports, the first insert's column types
    if isinstance(sink, _TimedSink):
        sink.cpu_s, sink.prof = 0.0, cProfile.Profile()
    t0 = time.process_time()
    if prof is not None:
        prof.enable()
    for i in range(20, len(arrivals), 40):  # batches of 40 messages (20,000 events)
        ingest.handle(arrivals[i:i + 40])
    if prof is not None:
        prof.disable()
    cpu = time.process_time() - t0
    return cpu, sink.cpu_s if isinstance(sink, _TimedSink) else 0.0, (
        sink if isinstance(sink, _TimedSink) else None)


def run(events: int, top: int, store: bool) -> str:
    """CPU per event of an unprofiled pass, then the profile of a second pass."""
    messages = list(generate_batches(GeneratorConfig(count=events, seed=11), 500))
    arrivals = [Arrival("scan.v1", i % 4, i // 4, m) for i, m in enumerate(messages)]
    n = sum(m.count(b'"event_id"') for m in messages[20:])
    out = io.StringIO()
    with tempfile.TemporaryDirectory() as tmp:
        dsn = f"chdb://{Path(tmp) / 'ch'}" if store else None
        cpu, in_store, _ = _pass(dsn, "plain", arrivals, None)
        out.write(f"cpu_us_per_event {cpu / n * 1e6:.2f} store_us_per_event "
                  f"{in_store / n * 1e6:.2f} events {n}\n")
        if top:
            prof = cProfile.Profile()
            _, _, sink = _pass(dsn, "profiled", arrivals, prof)
            stats = pstats.Stats(prof, stream=out)
            if sink is not None:
                stats.add(sink.prof)
            stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--top", type=int, default=15, help="profile entries (0: no profile)")
    ap.add_argument("--no-store", action="store_true", help="a sink in memory (Python only)")
    a = ap.parse_args()
    print(run(a.events, a.top, not a.no_store))


if __name__ == "__main__":
    main()
