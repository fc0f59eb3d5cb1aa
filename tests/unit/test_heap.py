"""runtime.heap: freed C-heap memory goes back to the system (issue 9, memory under
pressure; the worker calls it every second, streams.app)."""

from __future__ import annotations

import threading
from pathlib import Path

from runtime.heap import release_free_memory


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_freed_batch_memory_is_returned_to_the_system() -> None:
    """64 MiB of 100 kB buffers (as a decoded batch's messages) allocated and freed on
    another thread, all but the last (which pins the top of its heap, so that glibc's own
    trimming from the top cannot give the rest back): resident memory, read from /proc,
    stays up until `release_free_memory`, then falls by at least 40 MiB."""
    kept: list[bytearray] = []

    def batch() -> None:
        bufs = [bytearray(100_000) for _ in range(672)]  # touched: zero-filled
        kept.append(bufs[-1])
        del bufs

    release_free_memory()
    before = _rss_kb()
    t = threading.Thread(target=batch)
    t.start()
    t.join()
    held = _rss_kb()
    assert release_free_memory()
    after = _rss_kb()
    assert held - before > 40 * 1024, (before, held)
    assert held - after > 40 * 1024, (before, held, after)
