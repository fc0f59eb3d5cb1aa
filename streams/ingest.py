"""The ingest step of the worker: batch -> ClickHouse, then (by the caller) ack and commit.

Blocking; the faust agent runs it in a single worker thread so the event loop keeps
heartbeating and fetching while a batch is decoded and inserted.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TypeVar

from courierwatch.contract import DEFAULT_LIMITS, Limits
from runtime.settings import Settings
from streams import metrics
from streams.batch import Arrival, DeadLetter, process_batch
from streams.publisher import HOUR_MS, MAX_HOURS_PER_CALL, Publisher
from warehouse.client import Warehouse
from warehouse.writer import with_retry, write_dead_letters, write_events

log = logging.getLogger(__name__)

T = TypeVar("T")

FLOOD_WINDOW_EVENTS = 10_000
FLOOD_MIN_EVENTS = 1_000


class DeadLetterFlood(RuntimeError):
    """Too large a share of recent input was rejected: halt instead of dead-lettering it all."""


def stored_watermark_ms(wh: Warehouse) -> int:
    """The latest in-figure event time in the archive (0 when empty): survives restarts."""
    rows = wh.query(f"SELECT toUnixTimestamp64Milli(max(ts)), count() FROM {wh.db}.events "
                    "WHERE late = 0")
    return int(rows[0][0]) if rows and rows[0][1] else 0


def _chunks(arrivals: list[Arrival], max_bytes: int) -> Iterator[list[Arrival]]:
    """Consecutive runs of messages of about `max_bytes` each (at least one message)."""
    chunk: list[Arrival] = []
    size = 0
    for a in arrivals:
        chunk.append(a)
        size += len(a.value)
        if size >= max_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class Ingestor:
    def __init__(self, settings: Settings, wh: Warehouse,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 limits: Limits = DEFAULT_LIMITS, publisher: Publisher | None = None) -> None:
        self.settings = settings
        self.wh = wh
        self.clock = clock
        self.limits = limits
        self.watermark_ms = stored_watermark_ms(wh)  # of the batches stored
        # latest stored event time per partition, and when it last moved (monotonic s)
        self.partition_watermarks: dict[int, tuple[int, float]] = {}
        self._started_at = time.monotonic()
        self.decoded_watermark_ms = self.watermark_ms  # of the batches decoded
        self.stopping = False
        self.publisher = publisher
        self.archived = 0
        self.dead = 0
        self.late = 0
        self.batches = 0
        self._recent: deque[tuple[int, int]] = deque()
        self._recent_total = 0
        self._recent_dead = 0
        self._inserter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="insert")

    def handle(self, arrivals: list[Arrival]) -> list[DeadLetter]:
        """Store one batch and return its dead letters: `submit(...).result()`."""
        return self.submit(arrivals).result()

    def submit(self, arrivals: list[Arrival]) -> Future[list[DeadLetter]]:
        """Decode one batch on the calling thread and queue its storage; the future gives the
        dead letters (for the DLQ topic) once ClickHouse has the whole batch.

        The batch is inserted in one insert (in chunks of about `insert_chunk_bytes` when it
        is larger), on the insert thread, while the caller goes on with the next batch:
        chDB parses and aggregates without the GIL, so both cores work. Inserts, the
        batch's bookkeeping and publication all run on that one thread, in submission
        order, so a batch is complete in ClickHouse before anything reads it as stored.
        The future raises DeadLetterFlood when the share of rejected input over the last
        ~10k events exceeds `dlq_max_share`, SinkUnavailable when ClickHouse stayed down
        until shutdown.
        """
        started = time.perf_counter()
        stop = lambda: self.stopping  # noqa: E731
        retry = metrics.INSERT_RETRIES.inc
        lateness_ms = int(self.settings.allowed_lateness_s * 1000)
        now = self.clock()
        inserts: list[Future[None]] = []
        dead: list[DeadLetter] = []
        n = late = 0
        hours: Counter[int] = Counter()
        partition_max: dict[int, int] = {}
        for chunk in _chunks(arrivals, self.settings.insert_chunk_bytes):
            res = process_batch(chunk, now, self.decoded_watermark_ms, lateness_ms, self.limits)
            self.decoded_watermark_ms = res.watermark_ms
            dead += res.dead_letters
            for p, t in res.partition_max_ms.items():
                partition_max[p] = max(t, partition_max.get(p, 0))
            if len(res.rows):
                columns = res.rows.columns
                inserts.append(self._inserter.submit(
                    with_retry, lambda c=columns: write_events(self.wh, c), stop, retry))
                hours.update(t // HOUR_MS * HOUR_MS for t in res.rows.ts)
                n += len(res.rows)
                late += res.late
        watermark_ms = self.decoded_watermark_ms

        def stored() -> list[DeadLetter]:
            for done in inserts:  # already run: this thread runs them in order
                done.result()
            if dead:
                rows = [(d.received_ms, d.stage, d.reason, d.detail,
                         d.raw.decode("utf-8", "backslashreplace"), d.topic, d.partition,
                         d.offset, d.msg_index) for d in dead]
                with_retry(lambda: write_dead_letters(self.wh, rows), stop, retry)
            self.watermark_ms = watermark_ms
            moved_at = time.monotonic()
            for p, t in partition_max.items():
                if t > self.partition_watermarks.get(p, (0, 0.0))[0]:
                    self.partition_watermarks[p] = (t, moved_at)
            if self.publisher is not None and hours:
                self.publisher.note_events(hours)
            self._count(len(arrivals), n, late, dead, time.perf_counter() - started)
            return dead

        return self._inserter.submit(stored)

    def _count(self, messages: int, n: int, late: int, dead: list[DeadLetter],
               batch_s: float) -> None:
        n_dead = len(dead)
        self.archived += n - late
        self.late += late
        self.dead += n_dead
        metrics.MESSAGES.inc(messages)
        metrics.EVENTS.labels("archived").inc(n - late)
        metrics.EVENTS.labels("late").inc(late)
        metrics.EVENTS.labels("dead_lettered").inc(n_dead)
        for d in dead:
            metrics.DEAD_LETTERS.labels(d.reason).inc()
        metrics.BATCHES.inc()
        metrics.BATCH_EVENTS.observe(n)
        metrics.BATCH_SECONDS.observe(batch_s)
        metrics.WATERMARK.set(self.watermark_ms / 1000)
        self._check_flood(n, n_dead)
        self.batches += 1
        if self.settings.crash_after_batches and self.batches >= self.settings.crash_after_batches:
            log.critical("fault injection: dying after insert of batch %d, before commit",
                         self.batches)
            os._exit(137)

    def low_watermark_ms(self, idle_s: float = 60.0) -> int:
        """The event time every partition has reached: the least of the scan topic's
        partitions' latest stored event times, leaving out a partition that has not moved
        for `idle_s` (one that ran dry, or is consumed by another worker, must not hold
        the others back; until then an unseen partition holds it at 0). A backfill
        consumes partitions at different speeds: data below this is complete up to the
        producers' disorder, data below the plain watermark (the greatest) may not be."""
        now = time.monotonic()
        marks = [self.partition_watermarks.get(p, (0, self._started_at))
                 for p in range(self.settings.partitions)]
        marks += [m for p, m in self.partition_watermarks.items()
                  if p >= self.settings.partitions]
        active = [t for t, at in marks if now - at < idle_s]
        return min(active) if active else max((t for t, _ in marks), default=0)

    def run_serialised(self, action: Callable[[], T]) -> Future[T]:
        """Run `action` on the insert thread, after every batch submitted so far is stored."""
        return self._inserter.submit(action)

    def publish(self, catch_up: bool = False) -> int:
        """Publish closed periods and record restatements (see streams.publisher);
        `catch_up` publishes everything closed, not a bounded slice (at shutdown)."""
        if self.publisher is None:
            return 0
        return self.publisher.publish(self.watermark_ms, self.clock(),
                                      max_hours=None if catch_up else MAX_HOURS_PER_CALL)

    def _check_flood(self, n: int, n_dead: int) -> None:
        self._recent.append((n, n_dead))
        self._recent_total += n + n_dead
        self._recent_dead += n_dead
        while self._recent and self._recent_total - sum(self._recent[0]) >= FLOOD_WINDOW_EVENTS:
            a, b = self._recent.popleft()
            self._recent_total -= a + b
            self._recent_dead -= b
        share = self._recent_dead / self._recent_total if self._recent_total else 0.0
        if self._recent_total >= FLOOD_MIN_EVENTS and share > self.settings.dlq_max_share:
            raise DeadLetterFlood(
                f"{self._recent_dead} of the last {self._recent_total} events were rejected "
                f"({share:.0%} > {self.settings.dlq_max_share:.0%}); halting so that a bad "
                "producer deploy is fixed instead of dead-lettering everything")
