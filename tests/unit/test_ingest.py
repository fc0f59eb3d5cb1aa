"""The ingest pipeline against the in-memory sink, with a fake clock: what is stored, what
is dead-lettered, what a failing store does, and the fault hooks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from runtime.settings import load_settings
from streams.app import EXIT_BATCH_FAILED, EXIT_DEAD_LETTER_FLOOD, exit_status
from streams.decode import Arrival
from streams.faults import crash_after, file_fault
from streams.flood import DeadLetterFlood
from streams.ingest import Ingestor
from streams.retry import BatchRefused, RetryPolicy
from warehouse.errors import TransientStoreError
from warehouse.schema import STAGING_COLUMN_NAMES
from warehouse.sink import DEAD_LETTERS_TABLE, EVENTS_TABLE, MemorySink

NOW = datetime(2026, 11, 6, tzinfo=UTC)  # after every generated event: none is in the future
EVENTS = list(generate(GeneratorConfig(count=600, seed=3)))
_ID = STAGING_COLUMN_NAMES.index("raw")


def arrivals(events: list[dict[str, object]], per_message: int = 50, partition: int = 0,
             extra: bytes | None = None) -> list[Arrival]:
    out = [Arrival("scan.v1", partition, i, b"\n".join(orjson.dumps(e) for e in
                                                      events[k:k + per_message]))
           for i, k in enumerate(range(0, len(events), per_message))]
    if extra is not None:
        out.append(Arrival("scan.v1", partition, len(out), extra))
    return out


def ingestor(sink: MemorySink, slept: list[float] | None = None, **env: str) -> Ingestor:
    settings = load_settings({f"COURIERWATCH_{k.upper()}": v for k, v in env.items()})
    retry = RetryPolicy(sleep=(slept if slept is not None else []).append,
                        random=lambda: 0.0)
    return Ingestor(settings, sink, 0, retry, clock=lambda: NOW)


def stored_ids(sink: MemorySink) -> list[str]:
    return [orjson.loads(r[_ID])["event_id"] for r in sink.rows(EVENTS_TABLE)]


def test_valid_events_stored_bad_ones_dead_lettered_with_where_they_came_from() -> None:
    """Every event of a batch is stored once, in order, with its partition and offset; a
    malformed message is one dead letter with its offset; counters and watermark follow."""
    sink = MemorySink()
    ing = ingestor(sink)
    batch = arrivals(EVENTS, partition=2, extra=b'{"schema": "scan.v1", "event_id": ')
    dead = ing.handle(batch)
    assert stored_ids(sink) == [e["event_id"] for e in EVENTS]
    offsets = {r[STAGING_COLUMN_NAMES.index("offset")] for r in sink.rows(EVENTS_TABLE)}
    assert offsets == set(range(len(batch) - 1))
    assert [(d.reason, d.partition, d.offset) for d in dead] == [("not_json", 2, len(batch) - 1)]
    assert len(sink.rows(DEAD_LETTERS_TABLE)) == 1 and sink.flushes == 1
    assert (ing.archived, ing.dead, ing.batches) == (len(EVENTS), 1, 1)
    # The newest of EVENTS is 2026-11-05T22:39:18.559+08:00 = 2026-11-05T14:39:18.559Z:
    # 20,762 days after 1970-01-01 (56 years, 14 of them leap, + 304 + 4 days) and 52,758.559 s.
    assert ing.watermark_ms == 1_793_889_558_559


def test_store_down_then_back_stores_everything_after_backing_off() -> None:
    """A store that fails transiently three times is retried (fake sleeps, doubling) and
    then holds the whole batch exactly once."""
    failures = [3]

    def fault(table: str) -> None:
        if failures[0]:
            failures[0] -= 1
            raise TransientStoreError(f"{table} unavailable")

    slept: list[float] = []
    sink = MemorySink(fault)
    ing = ingestor(sink, slept)
    ing.handle(arrivals(EVENTS))
    assert slept == [0.2, 0.4, 0.8]
    assert sorted(stored_ids(sink)) == sorted(e["event_id"] for e in EVENTS)


def test_deterministic_store_error_refuses_the_batch_and_every_later_one() -> None:
    """A non-transient error fails the batch's future with BatchRefused at once (no sleep,
    nothing stored, nothing accounted), later batches are refused too, and the worker's
    exit is status 5 with a one-line reason: its offsets are never released."""
    def fault(table: str) -> None:
        raise ValueError("Code: 53. DB::Exception: Type mismatch")

    slept: list[float] = []
    sink = MemorySink(fault)
    ing = ingestor(sink, slept)
    first, second = ing.submit(arrivals(EVENTS[:300])), ing.submit(arrivals(EVENTS[300:]))
    for fut in (first, second):
        with pytest.raises(BatchRefused) as err:
            fut.result()
    assert slept == [] and sink.rows(EVENTS_TABLE) == [] and ing.batches == 0
    status, reason = exit_status(err.value)
    assert status == EXIT_BATCH_FAILED and "\n" not in reason and "refused" in reason


def test_flood_of_rejections_halts() -> None:
    """With the default cap (more than half of the last 10,000 events, after 1,000), a
    batch of 1,200 rejected lines fails its future with DeadLetterFlood (exit status 3)."""
    ing = ingestor(MemorySink())
    junk = arrivals([], extra=b"\n".join(b"not json %d" % i for i in range(1_200)))
    with pytest.raises(DeadLetterFlood) as err:
        ing.handle(junk)
    assert exit_status(err.value)[0] == EXIT_DEAD_LETTER_FLOOD


def test_fault_file_hook(tmp_path: Path) -> None:
    """No file: writes pass. File: transient unless its first word is `permanent`."""
    path = tmp_path / "fault"
    hook = file_fault(path)
    hook("events_in")
    path.write_text("transient\n")
    with pytest.raises(TransientStoreError):
        hook("events_in")
    path.write_text("permanent: a type error\n")
    with pytest.raises(ValueError, match="refused"):
        hook("events_in")


def test_crash_after_hook_dies_after_the_nth_stored_batch() -> None:
    """COURIERWATCH_CRASH_AFTER_BATCHES=2: the hook calls die(137) after the second stored
    batch, not before; 0 installs no hook."""
    died: list[int] = []
    settings = load_settings({"COURIERWATCH_CRASH_AFTER_BATCHES": "2"})
    hook = crash_after(settings, died.append)
    assert hook is not None and crash_after(load_settings({})) is None
    sink = MemorySink()
    ing = Ingestor(settings, sink, 0, clock=lambda: NOW, after_stored=[hook])
    ing.handle(arrivals(EVENTS[:100]))
    assert died == []
    ing.handle(arrivals(EVENTS[100:200]))
    assert died == [137] and ing.batches == 2
