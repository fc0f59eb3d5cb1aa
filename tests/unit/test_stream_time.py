"""Lateness per partition (streams.stream_time, issue 9): judged in each partition's own log
order, so that message boundaries, the speed of other partitions and a crash followed by a
rerun change nothing. The expected flags come from the definition, computed here event by
event: late iff ts < (the latest ts before it in its partition) - lateness."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.decode import Arrival, process_batch
from streams.stream_time import StreamTime
from warehouse.schema import STAGING_COLUMN_NAMES

DAY_MS = 86_400_000
LATENESS_MS = 7 * DAY_MS
T0 = int(datetime(2026, 10, 1, tzinfo=UTC).timestamp() * 1000)
NOW = datetime(2027, 6, 1, tzinfo=UTC)

# one partition's log: messages of event times (days after T0, hours for finer disorder)
hours = st.integers(min_value=0, max_value=60 * 24)
message = st.lists(hours, min_size=1, max_size=6)
partition_log = st.lists(message, min_size=1, max_size=8)
logs = st.lists(partition_log, min_size=1, max_size=4)


def definition(log: list[list[int]]) -> list[bool]:
    """The late flags of one partition's events, in log order, by the definition."""
    flags, latest = [], None
    for t in (t for msg in log for t in msg):
        flags.append(latest is not None and t * 3_600_000 < latest - LATENESS_MS)
        latest = t * 3_600_000 if latest is None else max(latest, t * 3_600_000)
    return flags


def _body(event_id: str, ts_ms: int) -> bytes:
    ts = datetime.fromtimestamp((T0 + ts_ms) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return orjson.dumps({"schema": "scan.v1", "event_id": event_id, "parcel_id": "SF1",
                         "company": "SF", "type": "ARRIVED", "ts": ts, "city": "331000"})


def arrivals(p: int, log: list[list[int]], first_offset: int = 0) -> list[Arrival]:
    """Partition p's messages from `first_offset` on; event ids name partition and place."""
    out, n = [], 0
    for offset, msg in enumerate(log):
        ids = [f"p{p}-e{n + i}" for i in range(len(msg))]
        n += len(msg)
        if offset >= first_offset:
            out.append(Arrival("scan.v1", p, offset, b"\n".join(
                _body(i, t * 3_600_000) for i, t in zip(ids, msg, strict=True))))
    return out


def late_by_id(res_rows: dict[str, list[object]]) -> dict[str, bool]:
    ids = [orjson.loads(r)["event_id"] for r in res_rows["raw"]]  # type: ignore[arg-type]
    return dict(zip(ids, (bool(x) for x in res_rows["late"]), strict=True))


def run(batch: list[Arrival], clock: StreamTime) -> dict[str, bool]:
    res = process_batch(batch, NOW, clock, LATENESS_MS)
    return late_by_id(dict(zip(STAGING_COLUMN_NAMES, res.rows.columns, strict=True)))


def interleave(parts: list[list[Arrival]]) -> list[Arrival]:
    """Round-robin over partitions, keeping each partition's order (as a consumer may)."""
    out: list[Arrival] = []
    for i in range(max((len(x) for x in parts), default=0)):
        out += [x[i] for x in parts if i < len(x)]
    return out


@settings(max_examples=300, deadline=None)
@given(logs)
def test_each_event_is_judged_against_its_own_partitions_predecessors(
        ls: list[list[list[int]]]) -> None:
    """However the partitions are interleaved, each event's flag is the definition's on its
    own partition; a partition far behind the others is not late for being behind."""
    got = run(interleave([arrivals(p, log) for p, log in enumerate(ls)]), StreamTime())
    for p, log in enumerate(ls):
        want = definition(log)
        assert [got[f"p{p}-e{i}"] for i in range(len(want))] == want


@settings(max_examples=300, deadline=None)
@given(logs, st.data())
def test_a_rerun_after_a_crash_gives_every_re_read_event_the_flag_it_had(
        ls: list[list[list[int]]], data: st.DataObject) -> None:
    """The crash: each partition stored a prefix of its log. The rerun re-reads every
    partition from an offset inside its prefix, taking it up at the latest in-figure ts
    stored before that offset: every event it reads gets the definition's flag."""
    clock, reread, want = StreamTime(), [], {}
    for p, log in enumerate(ls):
        cut = data.draw(st.integers(0, len(log)), label=f"stored prefix of partition {p}")
        start = data.draw(st.integers(0, cut), label=f"re-read partition {p} from")
        first = run(arrivals(p, log[:cut]), StreamTime())
        flags = definition(log)
        stored = [(t, late) for t, late in zip((t for m in log[:start] for t in m),
                                              first.values(), strict=False)]
        before = [t for t, late in stored if not late]
        clock.resume(("scan.v1", p), T0 + max(before) * 3_600_000 if before else None,
                     None, rereading=True)
        reread.append(arrivals(p, log, start))
        skipped = sum(len(m) for m in log[:start])
        want |= {f"p{p}-e{i}": flags[i] for i in range(skipped, len(flags))}
    assert run(interleave(reread), clock) == want


def test_reading_past_the_archive_continues_from_the_partitions_latest_time() -> None:
    """A partition read beyond what is stored takes its latest stored time (never moving
    back): an event more than the lateness before it is late."""
    clock = StreamTime({("scan.v1", 0): T0 + 500 * 3_600_000})
    clock.resume(("scan.v1", 0), None, T0 + 400 * 3_600_000, rereading=False)
    clock.resume(("scan.v1", 1), None, T0 + 400 * 3_600_000, rereading=False)
    assert clock.of(("scan.v1", 0)) == T0 + 500 * 3_600_000
    assert run(arrivals(1, [[400 - 7 * 24 - 1, 400 - 7 * 24]]), clock) == {
        "p1-e0": True, "p1-e1": False}


def test_message_boundaries_change_nothing() -> None:
    """One message [10 days, 1 day] flags its second event as it would flag it in a message
    of its own: the time before it is the first event's."""
    one = run(arrivals(0, [[240, 24]]), StreamTime())
    two = run(arrivals(0, [[240], [24]]), StreamTime())
    assert one == two == {"p0-e0": False, "p0-e1": True}
