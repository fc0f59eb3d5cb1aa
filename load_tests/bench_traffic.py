"""Benchmark traffic: pre-generated scan.v1 messages, replayed in rounds, and the producer.

The generator makes ~80k events/s on one core, slower than the pipeline it has to load, so
the bench generates a *pool* of messages once, before any timing, and then replays it in
rounds. Round r is the pool with every event id and parcel id made unique for the round
(`E<seed>-N7` -> `E<seed>r<r>-N7`, `ZTO77...` -> `r<r>ZTO77...`) and every date moved
`r * shift_days` later, so that event time keeps moving forward as on a live network
(no round lands in hours already published) and no two rounds share an event or a parcel.
The rewrite is a few `bytes.replace` per 500-event message (~1 us per event).

`BenchProducer` sends the rounds round-robin over the partitions at a target rate (or as
fast as kafka-python and the broker take them) and, every `marker_every_s`, puts one marker
event into the next message: an ACCEPTED of company `PROBE<i>` (its own KPI cell) with the
event time of the traffic around it. The latency probe watches for those cells.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
import orjson

from load_tests.generator import GeneratorConfig, generate_batches

CST = timezone(timedelta(hours=8))
EVENTS_PER_MESSAGE = 500
PROBE_PREFIX = "PROBE"
PROBE_CITY = "331000"  # 台州 Taizhou
_DATE = re.compile(rb'"(20\d\d-\d\d-\d\d)T')
_split = msgspec.json.Decoder(list[msgspec.Raw])


class TrafficPool:
    """`size` events as 500-event messages, replayable in rounds of fresh ids and dates."""

    def __init__(self, size: int, seed: int = 7, max_rounds: int = 100,
                 progress: Callable[[int], None] = lambda n: None) -> None:
        self.seed = seed
        messages: list[bytes] = []
        for m in generate_batches(GeneratorConfig(count=size, seed=seed), EVENTS_PER_MESSAGE):
            messages.append(m)
            progress(EVENTS_PER_MESSAGE)
        self.messages = messages
        self.events = [m.count(b'"event_id"') for m in messages]
        self.dates = [sorted(set(_DATE.findall(m)), reverse=True) for m in messages]
        all_dates = sorted({d for ds in self.dates for d in ds})
        lo, hi = (date.fromisoformat(all_dates[i].decode()) for i in (0, -1))
        self.shift_days = (hi - lo).days + 1
        # Round r is moved offset + r * shift days: the last planned round ends yesterday.
        self.offset_days = ((datetime.now(CST).date() - timedelta(days=1)) - hi).days \
            - self.shift_days * (max_rounds - 1)
        self.max_rounds = max_rounds
        self._shifted: dict[tuple[bytes, int], bytes] = {}

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def total_events(self) -> int:
        return sum(self.events)

    def _date(self, d: bytes, r: int) -> bytes:
        key = (d, r)
        out = self._shifted.get(key)
        if out is None:
            days = self.offset_days + self.shift_days * r
            moved = date.fromisoformat(d.decode()) + timedelta(days=days)
            out = self._shifted[key] = b'"' + moved.isoformat().encode() + b"T"
        return out

    def message(self, i: int) -> tuple[bytes, int]:
        """The i-th message of the endless replay and its number of events."""
        r, k = divmod(i, len(self.messages))
        if r >= self.max_rounds:
            raise RuntimeError("benchmark ran past the pre-planned rounds of traffic")
        m = self.messages[k]
        for d in self.dates[k]:  # latest first: a moved date is later than every original
            m = m.replace(b'"' + d + b"T", self._date(d, r))
        if r:
            m = m.replace(b'"event_id":"E%d-N' % self.seed,
                          b'"event_id":"E%dr%d-N' % (self.seed, r))
            m = m.replace(b'"parcel_id":"', b'"parcel_id":"r%d' % r)
        return m, self.events[k]

    def single_events(self, n: int) -> list[bytes]:
        """The first `n` events of round 0, one JSON object each (the baseline's input)."""
        out: list[bytes] = []
        for m in self.messages:
            out.extend(bytes(r) for r in _split.decode(m))
            if len(out) >= n:
                break
        return out[:n]


def marker_event(i: int, ts: str) -> bytes:
    """ACCEPTED of company PROBE<i> in 台州 at `ts`: alone in its KPI cell."""
    return orjson.dumps({
        "schema": "scan.v1", "event_id": f"probe-{i}", "parcel_id": f"PROBE{i}",
        "company": f"{PROBE_PREFIX}{i}", "type": "ACCEPTED", "ts": ts, "city": PROBE_CITY,
        "dest_city": "310000", "ecommerce": False,
        "packaging": {"standard": True, "e_waybill": True, "secondary_packaging": False,
                      "recycled_bag": True, "tape_mm": 100, "degradable": False},
        "security": {"real_name": True, "inspected": True, "xray": True}})


def with_marker(message: bytes, i: int) -> bytes:
    at = message.find(b'"ts":"')
    ts = message[at + 6:at + 35].decode() if at >= 0 else datetime.now(UTC).isoformat()
    return b"[" + marker_event(i, ts) + b"," + message[1:]


class BenchProducer(threading.Thread):
    """Sends the pool's rounds at `rate` events/s (0: as fast as possible) until stopped.

    Keeps, per partition, the cumulative number of events up to each offset it sent, so
    that a committed offset converts exactly into events (the topic is fresh: offsets
    start at 0).
    """

    def __init__(self, bootstrap: str, topic: str, partitions: int, pool: TrafficPool,
                 make_producer: Callable[[str], object], marker_every_s: float = 0.5) -> None:
        super().__init__(daemon=True, name="bench-producer")
        self.bootstrap, self.topic, self.partitions, self.pool = bootstrap, topic, partitions, pool
        self.make_producer = make_producer
        self.marker_every_s = marker_every_s
        self.cum: list[list[int]] = [[] for _ in range(partitions)]
        self.sent_events = 0
        self.markers: list[tuple[int, float]] = []  # (marker id, wall time handed to send)
        self.markers_on = False
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self._pace = (0.0, time.monotonic(), 0)  # rate, since, events sent at `since`
        self._limit: int | None = 0             # send no more than this many messages
        self._wake = threading.Event()

    def set_rate(self, rate: float, limit_messages: int | None = None) -> None:
        """Offer `rate` events/s from now on (0: unpaced) up to `limit_messages` in total."""
        self._pace = (rate, time.monotonic(), self.sent_events)
        self._limit = limit_messages
        self._wake.set()

    def pause(self) -> None:
        self._limit = self.messages_sent

    @property
    def messages_sent(self) -> int:
        return sum(len(c) for c in self.cum)

    def events_at(self, partition: int, offset: int) -> int:
        """Events in partition `partition` before `offset` (a committed offset)."""
        c = self.cum[partition]
        return c[min(offset, len(c)) - 1] if offset > 0 and c else 0

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - reported by the bench
            self.error = exc

    def _run(self) -> None:
        producer = self.make_producer(self.bootstrap)
        next_marker = time.monotonic()
        i = 0
        try:
            while not self.stop_event.is_set():
                limit = self._limit
                if limit is not None and i >= limit:
                    producer.flush()  # type: ignore[attr-defined]
                    self._wake.wait(0.05)
                    self._wake.clear()
                    continue
                msg, n = self.pool.message(i)
                now = time.monotonic()
                if self.markers_on and now >= next_marker:
                    msg = with_marker(msg, len(self.markers))
                    n += 1
                    self.markers.append((len(self.markers), time.time()))
                    next_marker = now + self.marker_every_s
                p = i % self.partitions
                producer.send(self.topic, msg, partition=p)  # type: ignore[attr-defined]
                c = self.cum[p]
                c.append((c[-1] if c else 0) + n)
                self.sent_events += n
                i += 1
                rate, since, base = self._pace
                if rate > 0:
                    ahead = (self.sent_events - base) / rate - (time.monotonic() - since)
                    if ahead > 0:
                        self.stop_event.wait(ahead)
            producer.flush()  # type: ignore[attr-defined]
        finally:
            producer.close()  # type: ignore[attr-defined]
