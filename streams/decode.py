"""The decode step: one batch of Kafka messages -> rows for ClickHouse and dead letters. Pure.

The faust agent and the tests call the same function. Lateness is judged against the
event-time watermark: the latest `ts` seen in earlier batches (persisted implicitly as the
max `ts` in the archive). An event older than watermark - allowed lateness is still
archived (late = 1) and counted in `late_events`, but it no longer moves published figures.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from courierwatch.contract import DEFAULT_LIMITS, Limits, Rejection, decode_events
from warehouse.rows import EventColumns


@dataclass(frozen=True, slots=True)
class Arrival:
    """One Kafka message as it arrived."""

    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """The dead-letter envelope: what failed, why, the raw bytes, and where they came from."""

    stage: str
    reason: str
    detail: str
    raw: bytes
    topic: str
    partition: int
    offset: int
    msg_index: int
    received_ms: int

    def envelope(self) -> dict[str, object]:
        try:
            raw_text, encoding = self.raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            raw_text, encoding = base64.b64encode(self.raw).decode(), "base64"
        return {
            "stage": self.stage, "reason": self.reason, "detail": self.detail,
            "raw": raw_text, "raw_encoding": encoding, "topic": self.topic,
            "partition": self.partition, "offset": self.offset, "msg_index": self.msg_index,
            "received_ms": self.received_ms,
        }


@dataclass(slots=True)
class BatchResult:
    rows: EventColumns = field(default_factory=EventColumns)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    watermark_ms: int = 0
    late: int = 0
    min_ts_ms: int | None = None
    max_ts_ms: int | None = None


def process_batch(arrivals: list[Arrival], now: datetime, watermark_ms: int,
                  allowed_lateness_ms: int, limits: Limits = DEFAULT_LIMITS) -> BatchResult:
    """Decode, validate and lay out one batch; return rows, dead letters and the new watermark.

    Never raises on bad input: every byte of every message ends up either in a row or in a
    dead letter.
    """
    out = BatchResult(watermark_ms=watermark_ms)
    now_ms = int(now.timestamp() * 1000)
    late_before = watermark_ms - allowed_lateness_ms
    batch_max = watermark_ms
    add = out.rows.add_message
    for a in arrivals:
        events, raws, ts, rejections = decode_events(a.value, now, limits)
        if events:
            late = ([t < late_before for t in ts] if min(ts) < late_before
                    else [False] * len(ts))  # almost always: no per-event test
            out.late += late.count(True)
            batch_max = max(batch_max, max(ts))
            add(events, raws, ts, late, _valid_indices(len(events), rejections), a.topic,
                a.partition, a.offset, now_ms)
        out.dead_letters.extend(_dead(r, a, now_ms) for r in rejections)
    out.watermark_ms = batch_max
    return out


def _valid_indices(n_valid: int, rejections: list[Rejection]) -> Iterable[int]:
    """Positions in the message of its valid events (those not rejected), in order."""
    if not rejections:
        return range(n_valid)
    rejected = {r.index for r in rejections}
    return [i for i in range(n_valid + len(rejections)) if i not in rejected]


def _dead(r: Rejection, a: Arrival, now_ms: int) -> DeadLetter:
    stage = "decode" if r.reason in ("not_json", "oversized") else "validate"
    return DeadLetter(stage, r.reason, r.detail, r.raw, a.topic, a.partition, a.offset,
                      r.index, now_ms)


def chunks(arrivals: list[Arrival], max_bytes: int) -> Iterator[list[Arrival]]:
    """Consecutive runs of messages of about `max_bytes` each (at least one message): a
    batch larger than that is inserted in several inserts (bounds one insert's memory)."""
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
