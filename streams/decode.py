"""The decode step: one batch of Kafka messages -> rows for ClickHouse and dead letters. Pure.

The faust agent and the tests call the same function. Lateness is judged per partition
against its stream time (streams.stream_time): the latest `ts` before the event in its own
partition, resumed from the archive after a restart. An event older than that minus the
allowed lateness is still archived (late = 1) and counted in `late_events`, but it no
longer moves published figures.

Quarantine. Decoding is total by design (courierwatch.contract), but a bug, a library's
surprise or the test-only fault hook (streams.faults.poison) may still raise on some
message. Such a message never stops the pipeline: it is decoded again event by event, each
event that raises becomes a dead letter with reason `crash` (the exception's type and
message, redacted, in the detail), the others are kept, and the batch goes on
(`BatchResult.crashes` names the messages, for the caller's log line and metric).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from courierwatch.contract import (
    DEFAULT_LIMITS,
    Decoded,
    Limits,
    Rejection,
    decode_event,
    decode_events,
    split_events,
)
from courierwatch.redact import mask_text, raw_sha256, redacted_copy
from streams.stream_time import StreamTime
from warehouse.rows import EventColumns

# The value of the stand-in record for a record batch the Kafka client could not decode
# (streams.transport); what follows it is the client's error.
UNDECODABLE = b"\x00courierwatch:undecodable-record-batch\x00"
CRASH = "crash"  # the reason of an event whose decoding raised (quarantined)
NOT_SHOWN = "<not shown: the redaction raised>"  # never the bytes themselves

# Called with each message's bytes, and in quarantine each event's, before decoding; it may
# raise (streams.faults.poison, the test-only poison-pill hook).
DecodeFault = Callable[[bytes], None]


@dataclass(frozen=True, slots=True)
class Arrival:
    """One Kafka message as it arrived."""

    topic: str
    partition: int
    offset: int
    value: bytes
    source: str = ""      # its source identity (warehouse.schema.SOURCE_COLUMNS)
    source_line: int = 0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """The dead-letter envelope: what failed, why, where it came from, and what may be kept
    of the bytes: a redacted copy and the SHA-256 of the bytes as received, never the bytes
    themselves (they may hold the very personal data they were rejected for; see
    courierwatch.redact)."""

    stage: str
    reason: str
    detail: str
    redacted: str
    raw_sha256: str
    raw_bytes: int
    topic: str
    partition: int
    offset: int
    msg_index: int
    received_ms: int
    source: str = ""
    source_line: int = 0

    def envelope(self) -> dict[str, object]:
        """The dead-letter topic's message (JSON object)."""
        return {
            "stage": self.stage, "reason": self.reason, "detail": self.detail,
            "redacted": self.redacted, "raw_sha256": self.raw_sha256,
            "raw_bytes": self.raw_bytes, "topic": self.topic, "partition": self.partition,
            "offset": self.offset, "msg_index": self.msg_index, "received_ms": self.received_ms,
            "source": self.source, "source_line": self.source_line,
        }

    def row(self) -> tuple[object, ...]:
        """The `dead_letters` row, in warehouse.sink.DEAD_LETTER_COLUMNS order."""
        return (self.received_ms, self.stage, self.reason, self.detail, self.redacted,
                self.raw_sha256, self.raw_bytes, self.topic, self.partition, self.offset,
                self.msg_index, self.source, self.source_line)


@dataclass(slots=True)
class BatchResult:
    rows: EventColumns = field(default_factory=EventColumns)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    watermark_ms: int = 0
    late: int = 0
    min_ts_ms: int | None = None
    max_ts_ms: int | None = None
    partition_max_ms: dict[int, int] = field(default_factory=dict)  # latest ts per partition
    # one line per quarantined message: where it was and what raised (no event bytes)
    crashes: list[str] = field(default_factory=list)


def process_batch(arrivals: list[Arrival], now: datetime, stream_time: StreamTime | int,
                  allowed_lateness_ms: int, limits: Limits = DEFAULT_LIMITS,
                  fault: DecodeFault | None = None) -> BatchResult:
    """Decode, validate and lay out one batch; return rows, dead letters and the watermark
    (the latest `ts` of any partition so far).

    `stream_time` is advanced in place, message by message in log order; a plain number
    is the stream time of every partition (a fresh StreamTime with that floor). Never raises
    on bad input: every byte of every message ends up either in a row or in a dead letter,
    and a message whose decoding raises is quarantined (see the module docstring).
    """
    clock = stream_time if isinstance(stream_time, StreamTime) else StreamTime(
        floor_ms=stream_time)
    out = BatchResult()
    now_ms = int(now.timestamp() * 1000)
    add = out.rows.add_message
    for a in arrivals:
        if a.value.startswith(UNDECODABLE):
            out.dead_letters.append(_undecodable(a, now_ms))
            continue
        try:
            if fault is not None:
                fault(a.value)
            events, raws, ts, rejections = decode_events(a.value, now, limits)
        except Exception as exc:  # noqa: BLE001 - a poison pill: quarantined, never fatal
            events, raws, ts, rejections = _quarantine(a.value, now, limits, fault)
            out.crashes.append(f"message at {a.topic}/{a.partition}@{a.offset} raised "
                               f"{_exception_text(exc)}; {len(rejections)} of its events "
                               f"dead-lettered, {len(events)} kept")
        if events:
            msg_max = max(ts)
            late = clock.judge((a.topic, a.partition), ts, allowed_lateness_ms, msg_max)
            out.late += late.count(True)
            if msg_max > out.partition_max_ms.get(a.partition, 0):
                out.partition_max_ms[a.partition] = msg_max
            add(events, raws, ts, late, _valid_indices(len(events), rejections), a.topic,
                a.partition, a.offset, now_ms, a.source, a.source_line)
        out.dead_letters.extend(_dead(r, a, now_ms) for r in rejections)
    out.watermark_ms = clock.high_ms
    return out


def _exception_text(exc: BaseException) -> str:
    """`Type: message`, first line, personal data masked, bounded."""
    lines = str(exc).splitlines() or [""]
    return mask_text(f"{type(exc).__name__}: {lines[0]}")[:500]


def _quarantine(payload: bytes, now: datetime, limits: Limits,
                fault: DecodeFault | None) -> Decoded:
    """Decode a message whose decoding raised, event by event: an event that raises is a
    `crash` rejection at its index, every other event is decoded as if alone. Total."""
    out = Decoded([], [], [], [])
    try:
        parts = split_events(payload)
    except Exception as exc:  # noqa: BLE001 - the message cannot even be split: one letter
        out.rejections.append(Rejection(CRASH, _exception_text(exc), payload))
        return out
    whole = not parts  # one line that is not JSON, or nothing to split: one letter, index -1
    for i, part in enumerate(parts or [payload]):
        index = -1 if whole else i
        try:
            if fault is not None:
                fault(part)
            one = decode_event(part, index, now, limits)
        except Exception as exc:  # noqa: BLE001 - this event is the poison pill
            out.rejections.append(Rejection(CRASH, _exception_text(exc), part, index))
            continue
        out.events.extend(one.events)
        out.raws.extend(one.raws)
        out.ts_ms.extend(one.ts_ms)
        out.rejections.extend(one.rejections)
    return out


def _valid_indices(n_valid: int, rejections: list[Rejection]) -> Iterable[int]:
    """Positions in the message of its valid events (those not rejected), in order."""
    if not rejections:
        return range(n_valid)
    rejected = {r.index for r in rejections}
    return [i for i in range(n_valid + len(rejections)) if i not in rejected]


def _dead(r: Rejection, a: Arrival, now_ms: int) -> DeadLetter:
    stage = "decode" if r.reason in ("not_json", "oversized", "too_deep", CRASH) else "validate"
    try:
        detail, copy = mask_text(r.detail), redacted_copy(r.raw)
    except Exception as exc:  # noqa: BLE001 - the letter is kept, without what cannot be shown
        detail, copy = f"{r.reason} (detail not shown: {type(exc).__name__})", NOT_SHOWN
    return DeadLetter(stage, r.reason, detail, copy, raw_sha256(r.raw), len(r.raw), a.topic,
                      a.partition, a.offset, r.index, now_ms, a.source, a.source_line)


def _undecodable(a: Arrival, now_ms: int) -> DeadLetter:
    """A whole record batch the client could not decode, at its base offset (no bytes)."""
    detail = mask_text(a.value[len(UNDECODABLE):].decode("utf-8", "replace"))
    return DeadLetter("transport", "undecodable_batch",
                      f"record batch from offset {a.offset} could not be decoded: {detail}",
                      "", "", 0, a.topic, a.partition, a.offset, -1, now_ms, a.source,
                      a.source_line)


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
