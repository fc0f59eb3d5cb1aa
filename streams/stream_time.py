"""Stream time per partition: what lateness is judged against. Pure.

Kafka orders events only within a partition, so that is the only order every reader, every
rerun and every worker that takes a partition over sees alike. Lateness is therefore judged
per partition, as Kafka Streams does with its per-task stream time: an event is late when
its `ts` is more than the allowed lateness behind the latest `ts` of the events before it
in its own partition (`topic`, `partition`), in log order.

Why not one watermark over all partitions: partitions are consumed at different speeds. A
worker that resumed after a crash with the archive's latest `ts` over every partition
judged a partition left far behind against the others' time, and archived its re-read
events as late, out of the figures (issue 9; tests/integration/test_crash_recovery.py).

What makes a rerun give the flags, and so the figures, of an uninterrupted run: the archive
holds, per partition, a prefix of its log (batches are stored in order, streams.ingest).
A worker that starts reading a partition at offset o, inside that prefix, takes as its time
the latest in-figure `ts` stored before o: the time the message at o had when it was first
judged. From there on it judges the log in the same order as the uninterrupted run did
(`StreamTime.resume`; the ingest step asks the archive, warehouse.queries.stored_resume_point).
"""

from __future__ import annotations

from collections.abc import Mapping

PartitionKey = tuple[str, int]  # (topic, partition)


class StreamTime:
    """The latest event time (ms) seen per (topic, partition); `floor_ms` stands for a
    partition not seen yet. Advanced in place by `judge`, in log order."""

    __slots__ = ("floor_ms", "marks")

    def __init__(self, marks: Mapping[PartitionKey, int] | None = None,
                 floor_ms: int = 0) -> None:
        self.marks: dict[PartitionKey, int] = dict(marks or {})
        self.floor_ms = floor_ms

    def of(self, key: PartitionKey) -> int:
        return self.marks.get(key, self.floor_ms)

    @property
    def high_ms(self) -> int:
        """The latest event time seen in any partition (the worker's watermark gauge)."""
        return max(self.marks.values(), default=self.floor_ms)

    def resume(self, key: PartitionKey, before_ms: int | None, latest_ms: int | None,
               rereading: bool) -> None:
        """Take up a partition from the archive at the first offset this worker reads of it.

        Re-reading what is stored (a rerun, a redelivery after a crash or a handover): the
        time is the latest in-figure `ts` before that offset, exactly what it was when the
        message was first judged, so every re-read event gets the flag it had. Reading past
        what is stored: the partition's latest stored time, if later than this worker's."""
        if rereading:
            if before_ms is None:
                self.marks.pop(key, None)
            else:
                self.marks[key] = before_ms
        elif latest_ms is not None and latest_ms > self.of(key):
            self.marks[key] = latest_ms

    def judge(self, key: PartitionKey, ts: list[int], lateness_ms: int,
              ts_max: int | None = None) -> list[bool]:
        """Which of a message's event times (in message order) are late, advancing the
        partition's time over them; `ts_max` is max(ts) when the caller has it. The common
        case (none late) costs no per-event work."""
        mark = self.of(key)
        top = max(mark, max(ts) if ts_max is None else ts_max)
        if top > mark:
            self.marks[key] = top
        if min(ts) >= top - lateness_ms:
            return [False] * len(ts)
        late = []
        for t in ts:  # the time before each event: the max of its predecessors
            late.append(t < mark - lateness_ms)
            if t > mark:
                mark = t
        return late
