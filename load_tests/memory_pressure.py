"""Worker memory under pressure (issue 9, item 6): `python -m load_tests.memory_pressure`.

Three scenarios, each on a fresh data directory, embedded broker and real worker; the
worker's resident memory (VmRSS of its process tree) is sampled every 0.2 s and its peak
(VmHWM) read before it stops. Printed as JSON; docs/reliability.md keeps the figures.

- `size_limit`: messages just under `Limits.max_message_bytes` (8 MiB of JSON lines each,
  about 19k events), back to back;
- `burst`: the worker idles on a trickle (one 500-event message a second, the normal
  rate here), then ten times that rate arrives for a while, then more (as fast as the
  producer goes);
- `backlog`: a backlog already in the topic when the worker starts (`--backlog` events,
  default 1,000,000: a busy city's hours; the pipeline's bound does not depend on the
  backlog's length, which the `--backlog` knob lets you check).

The bound is the benchmark's (load_tests/bench_setup.py TARGET_RSS_MB, 2 GiB for the worker).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from courierwatch.contract import DEFAULT_LIMITS
from load_tests.bench_setup import TARGET_RSS_MB
from load_tests.bench_watch import tree_hwm_mb, tree_rss_mb
from load_tests.generator import GeneratorConfig, generate
from runtime.broker import embedded_broker, ensure_topics
from runtime.settings import Settings, load_settings
from services.pipeline import end_offsets, make_producer, start_worker, wait_until_consumed


def _messages(count: int, seed: int, max_bytes: int) -> Iterator[bytes]:
    """JSON-lines messages of generated events, each as large as fits in `max_bytes`."""
    chunk: list[bytes] = []
    size = 0
    for e in generate(GeneratorConfig(count=count, seed=seed, span_hours=24.0)):
        line = orjson.dumps(e)
        if size + len(line) + 1 > max_bytes and chunk:
            yield b"\n".join(chunk)
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        yield b"\n".join(chunk)


def _run(name: str, settings: Settings, load: Callable[[str, Callable[[], None]], None],
         ) -> dict[str, Any]:
    """Start broker and worker; `load(bootstrap, start)` publishes (calling `start()` to
    start the worker when it wants); wait until consumed; return the memory figures."""
    peak = [0.0]
    stop = threading.Event()
    with embedded_broker(settings.data_dir) as bootstrap:
        ensure_topics(bootstrap, settings)
        holder: dict[str, Any] = {}

        def start() -> None:
            holder["w"] = start_worker(settings, bootstrap, reset_database=True)

            def sample() -> None:
                while not stop.is_set():
                    peak[0] = max(peak[0], tree_rss_mb(holder["w"].proc.pid))
                    time.sleep(0.2)
            threading.Thread(target=sample, daemon=True).start()

        began = time.monotonic()
        load(bootstrap, start)
        if "w" not in holder:
            start()
        worker = holder["w"]
        targets = end_offsets(bootstrap, settings.scan_topic, settings.partitions)
        try:
            wait_until_consumed(bootstrap, settings, targets, worker, timeout_s=1800)
            hwm = tree_hwm_mb(worker.proc.pid)
        finally:
            stop.set()
            worker.stop()
    return {"scenario": name, "messages": sum(targets.values()),
            "seconds": round(time.monotonic() - began, 1),
            "peak_rss_mb": round(max(peak[0], hwm), 1), "bound_mb": TARGET_RSS_MB,
            "within_bound": max(peak[0], hwm) < TARGET_RSS_MB}


def size_limit(settings: Settings, messages: int = 6) -> dict[str, Any]:
    limit = DEFAULT_LIMITS.max_message_bytes - 1024

    def load(bootstrap: str, start: Callable[[], None]) -> None:
        start()
        producer = make_producer(bootstrap)
        for i, m in enumerate(_messages(messages * 40_000, 41, limit)):
            if i >= messages:
                break
            producer.send(settings.scan_topic, m, partition=i % settings.partitions)
        producer.flush()
        producer.close()

    return _run("size_limit", settings, load)


def burst(settings: Settings, normal_per_s: int = 500, burst_s: float = 20.0) -> dict[str, Any]:
    def load(bootstrap: str, start: Callable[[], None]) -> None:
        start()
        producer = make_producer(bootstrap)
        msgs = _messages(int(normal_per_s * (10 + 10 * burst_s + 30)) + 400_000, 43, 200_000)
        sent = 0

        def send(n: int, per_s: float) -> None:
            nonlocal sent
            for _ in range(n):
                m = next(msgs, None)
                if m is None:
                    return
                producer.send(settings.scan_topic, m, partition=sent % settings.partitions)
                sent += 1
                if per_s:
                    time.sleep(1 / per_s)

        per_msg = 200_000 // 420  # events per 200 kB message
        send(int(10 * normal_per_s / per_msg) or 1, normal_per_s / per_msg)        # 10 s normal
        send(int(10 * normal_per_s * burst_s / per_msg), 10 * normal_per_s / per_msg)  # 10x
        send(10**9, 0)                                                          # flat out
        producer.flush()
        producer.close()

    return _run("burst", settings, load)


def backlog(settings: Settings, events: int) -> dict[str, Any]:
    def load(bootstrap: str, start: Callable[[], None]) -> None:
        producer = make_producer(bootstrap)
        for i, m in enumerate(_messages(events, 47, 250_000)):
            producer.send(settings.scan_topic, m, partition=i % settings.partitions)
        producer.flush()
        producer.close()

    out = _run("backlog", settings, load)
    return out | {"events": events}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m load_tests.memory_pressure",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--backlog", type=int, default=1_000_000, help="events in the backlog")
    ap.add_argument("--only", choices=("size_limit", "burst", "backlog"), action="append")
    args = ap.parse_args(argv)
    out = []
    for name in args.only or ("size_limit", "burst", "backlog"):
        with tempfile.TemporaryDirectory(prefix="cw-mem-") as tmp:
            settings = load_settings({"COURIERWATCH_DATA_DIR": str(Path(tmp) / "cw")})
            r = (size_limit(settings) if name == "size_limit" else burst(settings)
                 if name == "burst" else backlog(settings, args.backlog))
            out.append(r)
            print(orjson.dumps(r).decode(), file=sys.stderr)
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
