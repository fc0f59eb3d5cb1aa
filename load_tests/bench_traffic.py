"""Benchmark traffic: pre-generated scan.v1 messages, replayed in rounds, and the producer.

The generator makes ~80k events/s on one core, slower than the pipeline it has to load, so
the bench generates a *pool* of messages once, before any timing, and replays it in rounds.
Round r is the pool with every event id and parcel id made unique for the round
(`E<seed>-N7` -> `E<seed>r<r>-N7`, `ZTO77...` -> `r<r>ZTO77...`), and in every round each
`ts` and `promised_by` is moved into the current wall-clock hour (CST), keeping minutes and
seconds: as on a live network, event time follows the clock, so nothing the bench sends
lands in an hour that is already published, and the publisher does a live network's work
(one hour per hour), not a backfill's. The rewrite is a few `bytes.replace` per
500-event message, about 1.5 us per event, done by the producer as it sends.

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
from datetime import UTC, datetime

import msgspec
import orjson

from courierwatch.periods import CST
from load_tests.generator import GeneratorConfig, generate_batches

EVENTS_PER_MESSAGE = 500
PROBE_PREFIX = "PROBE"
PROBE_CITY = "331000"  # 台州 Taizhou
_HOUR = re.compile(rb'"(20\d\d-\d\d-\d\dT\d\d):')
_split = msgspec.json.Decoder(list[msgspec.Raw])


def current_hour() -> bytes:
    """`2026-11-22T14`: the wall-clock hour in China Standard Time."""
    return datetime.now(CST).strftime("%Y-%m-%dT%H").encode()


class TrafficPool:
    """`size` generated events as 500-event messages, replayable in rounds (module doc)."""

    def __init__(self, size: int, seed: int = 7, accepted_only: bool = False,
                 progress: Callable[[int], None] = lambda n: None,
                 hostile: bool = False) -> None:
        self.seed = seed
        messages: list[bytes] = []
        if accepted_only:  # ACCEPTED events only: one per parcel, about 1 in 7 events
            made, chunk = 0, list[bytes]()
            for m in generate_batches(GeneratorConfig(count=size * 8, seed=seed), 5000):
                raws = (bytes(r) for r in _split.decode(m))
                chunk.extend(r for r in raws if b'"type":"ACCEPTED"' in r)
                while len(chunk) >= EVENTS_PER_MESSAGE and made < size:
                    part, chunk = chunk[:EVENTS_PER_MESSAGE], chunk[EVENTS_PER_MESSAGE:]
                    messages.append(b"[" + b",".join(part) + b"]")
                    made += len(part)
                    progress(len(part))
                if made >= size:
                    break
        else:
            for m in generate_batches(GeneratorConfig(count=size, seed=seed),
                                      EVENTS_PER_MESSAGE):
                messages.append(m)
                progress(EVENTS_PER_MESSAGE)
        self.messages = [hostile_variant(m, i) for i, m in enumerate(messages)] if hostile \
            else messages
        self.events = [m.count(b'"event_id"') for m in self.messages]
        self.hours = [sorted(set(_HOUR.findall(m))) for m in messages]

    def __len__(self) -> int:
        return len(self.messages)

    @property
    def total_events(self) -> int:
        return sum(self.events)

    def message(self, i: int, hour: bytes) -> tuple[bytes, int]:
        """The i-th message of the endless replay, its times moved into `hour`."""
        r, k = divmod(i, len(self.messages))
        m = self.messages[k]
        to = b'"' + hour + b":"
        for h in self.hours[k]:
            m = m.replace(b'"' + h + b":", to)
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


def hostile_variant(message: bytes, i: int) -> bytes:
    """The benchmark's hostile mix (`bench --hostile`, issue 24): every 10th message has one
    event with an explicit null (`"mode":null` on an event that is not DELIVERED: valid,
    but not the fast path's shape) and every 100th, counted from the 6th, one event the
    contract refuses (`"schema":"scan.v0"`). The rest is unchanged."""
    if i % 10 == 0:
        for raw in _split.decode(message):
            event = bytes(raw)
            if b'"type":"DELIVERED"' not in event and b'"mode"' not in event:
                return message.replace(event, event[:-1] + b',"mode":null}', 1)
    if i % 100 == 5:
        return message.replace(b'"schema":"scan.v1"', b'"schema":"scan.v0"', 1)
    return message


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
        self.max_backlog: int | None = None      # hold back while produced - committed > this
        self.committed_hint = 0                  # committed events, kept up by the sampler
        self._wake = threading.Event()

    def set_rate(self, rate: float, limit_messages: int | None = None,
                 max_backlog: int | None = None) -> None:
        """Offer `rate` events/s from now on (0: unpaced) up to `limit_messages` in total;
        with `max_backlog`, never more than that many events ahead of the commits."""
        self._pace = (rate, time.monotonic(), self.sent_events)
        self._limit = limit_messages
        self.max_backlog = max_backlog
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
        next_marker = next_hour_check = time.monotonic()
        hour = current_hour()
        i = 0
        try:
            while not self.stop_event.is_set():
                limit = self._limit
                if limit is not None and i >= limit:
                    producer.flush()  # type: ignore[attr-defined]
                    self._wake.wait(0.05)
                    self._wake.clear()
                    continue
                now = time.monotonic()
                if now >= next_hour_check:
                    hour, next_hour_check = current_hour(), now + 1.0
                backlog = self.max_backlog
                if backlog is not None and self.sent_events - self.committed_hint > backlog:
                    self._wake.wait(0.02)
                    self._wake.clear()
                    continue
                msg, n = self.pool.message(i, hour)
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
