"""The ingest pipeline of the worker: decode, store through the sink, account, then (by the
caller) commit. Each step is its own module; this one composes them.

    arrivals ─ decode (streams.decode) ─▶ rows + dead letters      [caller's thread]
             ─ store rows (warehouse.sink, streams.retry)          [insert thread]
             ─ store dead letters, flush                           [insert thread]
             ─ watermark, metrics (streams.metrics),
               flood guard (streams.flood), after-stored hooks      [insert thread]
             ─▶ future: the dead letters, for the DLQ topic and the commit (streams.app)

Blocking. The faust agent calls `submit` on its ingest thread, so the event loop keeps
heartbeating and fetching while a batch is decoded; stores, bookkeeping and publication
all run on the single insert thread, in submission order, so a batch is complete in the
store before anything reads it as stored. chDB parses and aggregates without the GIL, so
decoding batch k+1 and inserting batch k use both cores. No per-event Python work beyond
the decoder's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from runtime.settings import Settings
from streams import metrics
from streams.decode import Arrival, DeadLetter, DecodeFault, chunks, process_batch
from streams.flood import FloodGuard
from streams.publisher import MAX_HOURS_PER_CALL, Publisher
from streams.retry import BatchRefused, RetryPolicy
from streams.stream_time import PartitionKey, StreamTime
from warehouse.queries import ResumePoint
from warehouse.schema import STAGING_COLUMN_NAMES
from warehouse.sink import DEAD_LETTER_COLUMNS, DEAD_LETTERS_TABLE, EVENTS_TABLE, Sink

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class Decoded:
    """One batch after decoding: row chunks to insert, dead letters, and what they hold."""

    messages: int
    inserts: list[Future[None]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    events: int = 0
    late: int = 0
    watermark_ms: int = 0
    started_s: float = 0.0
    partition_max: dict[int, int] = field(default_factory=dict)  # latest ts per partition


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(initial_s=settings.retry_initial_s, max_s=settings.retry_max_s)


class Ingestor:
    """Composes the ingest steps for one worker; see the module docstring.

    Lateness is judged against `stream_time`, per partition (streams.stream_time; a number
    is the stream time of every partition); `resume_from(topic, partition, offset)` tells
    what the archive holds of a partition, to take it up at the first offset read
    (warehouse.queries.stored_resume_point; None: nothing to take up). `after_stored`
    hooks run on the insert thread after each batch is stored and accounted (fault
    injection uses one); `decode_fault` is called on each message before decoding
    (streams.faults.poison). A message whose decoding raises is quarantined
    (streams.decode): one WARNING line and `courierwatch_quarantined_messages_total`.
    """

    def __init__(self, settings: Settings, sink: Sink, stream_time: StreamTime | int,
                 retry: RetryPolicy | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 publisher: Publisher | None = None,
                 after_stored: Sequence[Callable[[], None]] = (),
                 resume_from: Callable[[str, int, int], ResumePoint] | None = None,
                 decode_fault: DecodeFault | None = None) -> None:
        self.settings = settings
        self.sink = sink
        self.retry = retry or retry_policy(settings)
        self.clock = clock
        self.limits = settings.limits
        self.publisher = publisher
        self.after_stored = tuple(after_stored)
        self.decode_fault = decode_fault
        self.flood = FloodGuard(settings.dlq_max_share, settings.dlq_window_events,
                                settings.dlq_min_events)
        # per partition, of the batches decoded (the decoding thread's alone)
        self.stream_time = (stream_time if isinstance(stream_time, StreamTime)
                            else StreamTime(floor_ms=stream_time))
        self.watermark_ms = self.stream_time.high_ms  # the latest ts of the batches stored
        self.resume_from = resume_from
        self._resumed: set[PartitionKey] = set()
        self.stopping = False
        self.refused: BatchRefused | None = None
        self.archived = self.dead = self.late = self.batches = 0
        # latest stored event time per partition, and when it last moved (monotonic s)
        self.partition_watermarks: dict[int, tuple[int, float]] = {}
        self._started_at = time.monotonic()
        self._inserter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="insert")

    def handle(self, arrivals: list[Arrival]) -> list[DeadLetter]:
        """Store one batch and return its dead letters: `submit(...).result()`."""
        return self.submit(arrivals).result()

    def submit(self, arrivals: list[Arrival]) -> Future[list[DeadLetter]]:
        """Decode one batch on the calling thread and queue its storage.

        The future gives the batch's dead letters once the store has all of it, and
        raises DeadLetterFlood (too large a share rejected), BatchRefused (the store
        refused a write deterministically; every later batch is refused too) or
        SinkUnavailable (the store stayed down until shutdown). The batch is inserted in
        one insert, in chunks of about `insert_chunk_bytes` when larger.
        """
        d = self._decode(arrivals)
        return self._inserter.submit(self._finish, d)

    def _decode(self, arrivals: list[Arrival]) -> Decoded:
        d = Decoded(len(arrivals), started_s=time.perf_counter())
        lateness_ms = int(self.settings.allowed_lateness_s * 1000)
        now = self.clock()
        for chunk in chunks(arrivals, self.settings.insert_chunk_bytes):
            self._resume(chunk)
            res = process_batch(chunk, now, self.stream_time, lateness_ms, self.limits,
                                self.decode_fault)
            for crash in res.crashes:
                log.warning("quarantined a poison pill: %s", crash)
                metrics.QUARANTINED.inc()
            d.dead += res.dead_letters
            for p, t in res.partition_max_ms.items():
                d.partition_max[p] = max(t, d.partition_max.get(p, 0))
            if len(res.rows):
                d.inserts.append(self._inserter.submit(
                    self._write, EVENTS_TABLE, res.rows.columns, STAGING_COLUMN_NAMES))
                d.events += len(res.rows)
                d.late += res.late
        d.watermark_ms = self.stream_time.high_ms
        return d

    def _write(self, table: str, columns: Sequence[Sequence[Any]],
               names: Sequence[str]) -> None:
        """One sink write under the retry policy (insert thread)."""
        if self.refused is not None:
            raise BatchRefused(f"not stored: an earlier batch was refused ({self.refused})")
        cpu0 = time.thread_time()
        try:
            self.retry.run(lambda: self.sink.write(table, columns, names),
                           lambda: self.stopping, metrics.INSERT_RETRIES.inc,
                           f"insert into {table}")
        except BatchRefused as exc:
            self.refused = exc
            raise
        finally:
            metrics.STORE_WRITE_CPU.inc(time.thread_time() - cpu0)

    def _finish(self, d: Decoded) -> list[DeadLetter]:
        """Once the rows are stored: dead letters, flush, bookkeeping (insert thread)."""
        for done in d.inserts:  # already run: this thread runs them in order
            done.result()
        if d.dead:
            self._write(DEAD_LETTERS_TABLE, dead_letter_columns(d.dead), DEAD_LETTER_COLUMNS)
        self.sink.flush()
        self.watermark_ms = d.watermark_ms
        moved_at = time.monotonic()
        for p, t in d.partition_max.items():
            if t > self.partition_watermarks.get(p, (0, 0.0))[0]:
                self.partition_watermarks[p] = (t, moved_at)
        stored = d.events - d.late
        self.archived += stored
        self.late += d.late
        self.dead += len(d.dead)
        self.batches += 1
        metrics.record_batch(d.messages, stored, d.late, [x.reason for x in d.dead],
                             time.perf_counter() - d.started_s, self.watermark_ms)
        self.flood.observe(d.events, len(d.dead))
        for hook in self.after_stored:
            hook()
        return d.dead

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

    def forget_resumed(self) -> None:
        """After a rebalance: take up each partition from the archive again at its next
        message (a partition may have moved on under another worker). Decoding thread."""
        self._resumed.clear()

    def _resume(self, chunk: list[Arrival]) -> None:
        """Take up from the archive the partitions of `chunk` not read since the start or
        the last rebalance, at their first offset here (streams.stream_time), once every
        batch this worker submitted before is stored: a rebalance re-delivers from the
        committed offset, and batches still being inserted must be seen as stored."""
        if self.resume_from is None:
            return
        stored = False
        for a in chunk:
            key = (a.topic, a.partition)
            if key in self._resumed:
                continue
            self._resumed.add(key)
            if not stored:  # what this worker decoded before is in the store first
                self._inserter.submit(lambda: None).result()
                stored = True
            try:
                point = self.resume_from(a.topic, a.partition, a.offset)
            except Exception as exc:  # noqa: BLE001 - lateness stays judged on what is known
                log.warning("could not take up partition %s from the archive: %s", key, exc)
                continue
            # the message at this offset is stored already: this is a re-read of the log
            rereading = bool(point.ids_at_offset) and all(
                i.encode() in a.value for i in point.ids_at_offset)
            self.stream_time.resume(key, point.before_ms, point.latest_ms, rereading)

    def run_serialised(self, action: Callable[[], T]) -> Future[T]:
        """Run `action` on the insert thread, after every batch submitted so far is stored."""
        return self._inserter.submit(action)

    def publish(self, catch_up: bool = False) -> int:
        """Publish closed periods and record restatements (see streams.publisher; the
        caller runs this only in the deployment's one publishing worker, streams.leader),
        up to the watermark of every worker's stored events (the store's);
        `catch_up` publishes everything closed, not a bounded slice (at shutdown)."""
        if self.publisher is None:
            return 0
        return self.publisher.publish(None, self.clock(),
                                      max_hours=None if catch_up else MAX_HOURS_PER_CALL)


def dead_letter_columns(dead: list[DeadLetter]) -> list[list[object]]:
    """The `dead_letters` rows of a batch, column by column (DEAD_LETTER_COLUMNS order)."""
    rows = [d.row() for d in dead]
    return [list(c) for c in zip(*rows, strict=True)]
