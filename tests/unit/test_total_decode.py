"""Issue 24: no single message can stop the pipeline.

- decoding is total: any JSON tree (depth 1 to 5,000, wide and deep, placed anywhere in a
  message) and any bytes give events and dead letters, never an exception, under the
  worker's real recursion limit and on a thread like the worker's ingest thread;
- an event nested deeper than the contract's two levels is refused as `too_deep`;
- a message whose decoding raises is quarantined: only the event(s) that raise become
  `crash` dead letters, the rest are kept;
- the worker's consumer reads committed records only (configuration: the embedded broker
  does not implement isolation, DESIGN.md).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courierwatch.contract import MAX_EVENT_DEPTH, decode_events, text_has_personal_data
from load_tests.generator import GeneratorConfig, generate
from runtime.settings import load_settings
from streams.decode import CRASH, Arrival, process_batch
from streams.faults import poison

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SOURCE = list(generate(GeneratorConfig(count=64, seed=24)))
T = TypeVar("T")


@pytest.fixture(scope="module")
def worker_recursion_limit() -> Iterator[int]:
    """The recursion limit a worker process runs with (a fresh interpreter's: the worker
    sets none), set for the duration of these tests."""
    out = subprocess.run([sys.executable, "-c", "import sys; print(sys.getrecursionlimit())"],
                         capture_output=True, text=True, check=True)
    limit = int(out.stdout)
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    yield limit
    sys.setrecursionlimit(before)


_ingest_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")


def on_ingest_thread(fn: Callable[[], T]) -> T:
    """Run `fn` on a pool thread, as the worker decodes (streams.app's ingest pool)."""
    return _ingest_thread.submit(fn).result()


def json_tree(rng: random.Random, depth: int, width: int) -> bytes:
    """A JSON text nested exactly `depth` levels (arrays and objects mixed at random), with
    up to `width` siblings (scalars, small objects, strings) beside the spine at random
    levels; built iteratively (no recursion in the generator either)."""
    opens: list[bytes] = []
    closes: list[bytes] = []
    for level in range(depth):
        siblings = b""
        if width and rng.random() < 0.3:
            n = rng.randrange(1, width + 1)
            items = [rng.choice([b"1", b"-0.0", b"1e308", b'"x"', b"null", b"true", b"{}",
                                 b'"138-1234-5678"', b"[]"]) for _ in range(n)]
            siblings = b",".join(items) + b","
        if rng.random() < 0.5:
            opens.append(b"[" + siblings)
            closes.append(b"]")
        else:
            keyed = b"".join(b'"k%d_%d":%s' % (level, i, v.rstrip(b",")) + b","
                             for i, v in enumerate(siblings.split(b",")) if v)
            opens.append(b"{" + keyed + b'"d%d":' % level)
            closes.append(b"}")
    return b"".join(opens) + b"0" + b"".join(reversed(closes))


def _valid(i: int) -> bytes:
    return orjson.dumps(SOURCE[i % len(SOURCE)])


def _placed(tree: bytes, where: int, rng: random.Random) -> tuple[bytes, int, bool]:
    """A message holding `tree` (returns message, valid events in it, tree is a line of its
    own among JSON lines)."""
    if where == 0:
        return tree, 0, False
    if where == 1:  # the value of an extra field of a valid event
        return _valid(rng.randrange(64))[:-1] + b',"extra":' + tree + b"}", 0, False
    if where == 2:  # a line among valid JSON lines
        return b"\n".join([_valid(1), tree, _valid(2)]), 2, True
    return b"[" + _valid(3) + b"," + tree + b"]", 0, False  # an element of an array


@pytest.mark.usefixtures("worker_recursion_limit")
@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(1, 5_000), st.integers(0, 40), st.integers(0, 3), st.integers(0, 2**32))
def test_any_json_tree_anywhere_is_decoded_without_an_exception(
        depth: int, width: int, where: int, seed: int) -> None:
    """Any tree of depth 1..5,000, wide or not, as a message, an extra field, a line or an
    array element: process_batch returns (no exception) and accounts for every line."""
    rng = random.Random(seed)
    message, n_valid, own_line = _placed(json_tree(rng, depth, width), where, rng)
    res = on_ingest_thread(lambda: process_batch([Arrival("t", 0, 0, message)], NOW, 0,
                                                 10**15))
    assert len(res.rows) + len(res.dead_letters) >= 1
    assert not res.crashes, res.crashes
    if own_line:
        assert len(res.rows) == n_valid and len(res.dead_letters) == 1
        if depth > MAX_EVENT_DEPTH:  # (or first for its size, or a phone beside the spine)
            assert res.dead_letters[0].reason in ("too_deep", "oversized", "pii")


@pytest.mark.usefixtures("worker_recursion_limit")
@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=2_000))
def test_any_bytes_are_decoded_without_an_exception(raw: bytes) -> None:
    res = on_ingest_thread(lambda: process_batch([Arrival("t", 0, 0, raw)], NOW, 0, 10**15))
    assert not res.crashes


def test_the_issues_line_and_every_depth_past_two_are_too_deep() -> None:
    """The issue's 2.4 KB line (600 nested arrays after a schema key), every depth that
    used to crash (500..1,000) and far past msgspec's limit: `too_deep`, alone, among
    valid lines. An event of exactly the contract's two levels is accepted."""
    for depth in (*range(2, 40), 600, 999, 1_000, 1_001, 3_000):
        line = b'{"schema": "scan.v1", "x": ' + b"[" * depth + b"]" * depth + b"}"
        events, _, _, rejections = decode_events(b"\n".join([_valid(5), line, _valid(6)]), NOW)
        assert [e.event_id for e in events] == [SOURCE[5]["event_id"], SOURCE[6]["event_id"]]
        assert [(r.reason, r.index) for r in rejections] == [("too_deep", 1)], depth
    ok = _valid(7)[:-1] + b',"tags":["a","b"]}'  # depth 2: an extra list is tolerated
    assert decode_events(ok, NOW).rejections == []
    deep = _valid(7)[:-1] + b',"tags":[["a"]]}'   # depth 3
    assert [r.reason for r in decode_events(deep, NOW).rejections] == ["too_deep"]


def test_a_poisoned_event_is_quarantined_alone() -> None:
    """With the poison hook, the message holding the poison is decoded event by event: the
    poisoned event is the one `crash` dead letter (exception type in the detail), its
    neighbours in the same message and the other messages are stored."""
    hook = poison(load_settings({"COURIERWATCH_FAULT_POISON": "POISON-24"}))
    assert hook is not None
    bad = orjson.loads(_valid(10))
    bad["parcel_id"] = "POISON-24"
    arrivals = [Arrival("t", 0, 0, b"\n".join([_valid(8), _valid(9)])),
                Arrival("t", 1, 5, b"\n".join([_valid(11), orjson.dumps(bad), _valid(12)])),
                Arrival("t", 0, 1, b"[" + _valid(13) + b"]")]
    res = process_batch(arrivals, NOW, 0, 10**15, fault=hook)
    stored = sorted(orjson.loads(t)["event_id"] for t in res.rows.columns[0])  # type: ignore[arg-type]
    assert stored == sorted(SOURCE[i]["event_id"] for i in (8, 9, 11, 12, 13))
    [dead] = res.dead_letters
    assert (dead.reason, dead.partition, dead.offset, dead.msg_index) == (CRASH, 1, 5, 1)
    assert dead.detail.startswith("InjectedPoison: ")
    assert len(res.crashes) == 1 and "t/1@5" in res.crashes[0]
    # the positions of the kept events in their message skip the quarantined one
    assert sorted(res.rows.columns[7]) == [0, 0, 0, 1, 2]


def test_a_crash_detail_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception whose message quotes personal data leaves none in the dead letter."""
    def leaky(value: bytes) -> None:
        if b"LEAK" in value:
            raise ValueError("cannot parse 13812345678 for zhang.san@example.com")
    bad = orjson.loads(_valid(20))
    bad["site_id"] = "LEAK"
    res = process_batch([Arrival("t", 0, 0, orjson.dumps(bad))], NOW, 0, 10**15, fault=leaky)
    [dead] = res.dead_letters
    assert dead.reason == CRASH and dead.detail.startswith("ValueError: ")
    assert not text_has_personal_data(dead.detail + " " + res.crashes[0])
    assert "13812345678" not in dead.detail + res.crashes[0]


def _consumer_isolation(env: dict[str, str]) -> Any:
    """The isolation level of the aiokafka consumer that faust builds for the worker's app
    (streams.app.faust_app, what services.worker runs in every mode), and its fetcher's."""
    from streams.app import faust_app

    async def build() -> Any:
        app = faust_app(load_settings(env | {"COURIERWATCH_KAFKA": "127.0.0.1:9"}))
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return consumer._isolation_level
        finally:
            await consumer.stop()
    return asyncio.run(build())


def test_the_worker_consumer_reads_committed_records_only() -> None:
    """On by default; the setting can turn it off (a broker without transactions)."""
    assert _consumer_isolation({}) == "read_committed"
    assert _consumer_isolation({"COURIERWATCH_READ_COMMITTED": "0"}) == "read_uncommitted"


def test_a_redaction_that_raises_still_leaves_a_dead_letter(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The envelope of a rejected event is built even when its redaction raises: the letter
    keeps its reason, place and SHA-256, and shows no bytes."""
    import streams.decode

    def broken(raw: bytes) -> str:
        raise RuntimeError("redaction bug")
    monkeypatch.setattr(streams.decode, "redacted_copy", broken)
    res = process_batch([Arrival("t", 0, 7, b"\n".join([_valid(30), b"{not json"]))],
                        NOW, 0, 10**15)
    [dead] = res.dead_letters
    assert (dead.reason, dead.offset, dead.msg_index) == ("not_json", 7, 1)
    assert dead.redacted == streams.decode.NOT_SHOWN and len(res.rows) == 1


def test_one_hostile_event_costs_only_itself_the_exact_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In a message of 64 events with an explicit null, an unknown field, a schema error and
    a phone number in an id (one event each), only those four events take the exact path
    (`_decode_one`); the verdicts equal those of each event decoded alone."""
    import courierwatch.contract as contract

    lines = [_valid(i) for i in range(64)]
    lines[3] = lines[3][:-1] + b',"complaint_id":null}'
    lines[17] = lines[17][:-1] + b',"note":"re-scanned"}'
    lines[30] = lines[30].replace(b'"schema":"scan.v1"', b'"schema":"scan.v0"')
    lines[51] = lines[51].replace(b'"event_id":"', b'"event_id":"13812345678-', 1)
    alone = [decode_events(line, NOW) for line in lines]
    exact: list[bytes] = []
    original = contract._decode_one

    def counting(raw: bytes, *args: Any) -> Any:
        exact.append(raw)
        return original(raw, *args)
    monkeypatch.setattr(contract, "_decode_one", counting)
    for framing in (b"[" + b",".join(lines) + b"]", b"\n".join(lines)):
        exact.clear()
        got = decode_events(framing, NOW)
        assert sorted(exact) == sorted(lines[i] for i in (3, 17, 30, 51))
        assert [(r.index, r.reason) for r in got.rejections] == [(30, "schema"), (51, "pii")]
        assert got.raws == [a.raws[0] for a in alone if a.raws]
