"""Hostile scan.v1 input for the fuzz harness and the end-to-end hostile-file test.

Every line is labelled when it is made, by construction and not by the contract: `Line.valid`
says whether it is a valid event (then `event_id` names it) or a hostile one (then `kind` says
which attack, and `pii` holds the personal data planted in it, if any, in plain ASCII).
Valid lines are generated events, sometimes re-formatted (keys shuffled, spaces, escaped
letters, an extra harmless field): still valid. Hostile lines are built so that no reading of
DESIGN.md's contract can accept them:

garbage bytes, truncation, invalid UTF-8, deep nesting (past any parser's depth limit), huge
fields (past the per-event limit), impossible dates, wrong types, duplicate keys, raw control
characters, lookalike (fullwidth) digits in codes, escaped personal data (\\u0031...),
fullwidth and separated phone numbers, e-mail addresses, fields named for personal data,
future and pre-2000 times, an array where an event belongs, and a line starting with '['.
Structure-aware attacks (issue 24): nesting at every depth from 3 to 5,000 (arrays and
objects mixed, alone or beside a valid event's fields), wide and deep values, huge strings
in extra fields, keys repeated in nested objects, number edge cases (1e400, 2**64, -0.0,
NaN, leading zeros, ...), escapes (NUL, surrogate pairs, lone surrogates, escaped quotes)
in ids, overlong and surrogate UTF-8 sequences, and arrays of events as JSON lines.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

HUGE_FIELD_BYTES = 20_000  # > contract.Limits.max_event_bytes (16 KiB)
DEEP = 1_500               # > the 1,024 levels orjson and msgspec accept


@dataclass(frozen=True)
class Line:
    data: bytes
    valid: bool
    event_id: str = ""
    kind: str = ""
    pii: str = ""


def _dumps(e: dict[str, Any]) -> bytes:
    return orjson.dumps(e)


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) - 0x30 + 0xFF10) if c.isdigit() else c for c in s)


def _escaped(s: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in s)


def _with_raw_field(e: dict[str, Any], key: str, raw_value: bytes) -> bytes:
    """The event with one more field whose JSON value text is `raw_value`, verbatim."""
    return _dumps(e)[:-1] + b',"' + key.encode() + b'":' + raw_value + b"}"


def benign(e: dict[str, Any], rng: random.Random) -> bytes:
    """A valid event re-formatted in one of the ways the contract must accept."""
    k = rng.randrange(5)
    if k == 0:
        items = list(e.items())
        rng.shuffle(items)
        return _dumps(dict(items))
    if k == 1:
        return _dumps(e).replace(b'":', b'": ').replace(b',"', b', "')
    if k == 2:  # the first letter of the parcel id written as a JSON escape
        text = _dumps(e)
        pid = e["parcel_id"]
        return text.replace(f'"{pid}"'.encode(), f'"{_escaped(pid[0])}{pid[1:]}"'.encode(), 1)
    if k == 3:
        return _with_raw_field(e, "note", b'"re-scanned at gate 4"')
    return _dumps(e)


def _attacks(e: dict[str, Any], rng: random.Random) -> list[Callable[[], tuple[bytes, str]]]:
    """Each returns (line, planted personal data or '')."""
    text = _dumps(e)

    def garbage() -> tuple[bytes, str]:
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
        return b"\x00" + body.replace(b"\n", b"\x01"), ""

    def truncated() -> tuple[bytes, str]:
        return text[:rng.randrange(1, len(text) - 1)], ""

    def bad_utf8() -> tuple[bytes, str]:
        return text.replace(f'"{e["parcel_id"]}"'.encode(),
                            b'"' + e["parcel_id"].encode() + b'\xff\xc3("', 1), ""

    def deep() -> tuple[bytes, str]:
        return _with_raw_field(e, "extra", b"[" * DEEP + b"]" * DEEP), ""

    def huge() -> tuple[bytes, str]:
        return _dumps(e | {"site_id": "S" * HUGE_FIELD_BYTES}), ""

    def impossible_date() -> tuple[bytes, str]:
        return _dumps(e | {"ts": rng.choice(["2026-02-30T08:00:00+08:00",
                                              "2026-13-01T08:00:00+08:00",
                                              "2026-11-02T25:61:00+08:00",
                                              "2026-11-02T08:00:00"])}), ""

    def wrong_type() -> tuple[bytes, str]:
        key, value = rng.choice([("city", 331000), ("ts", 1767225600), ("event_id", 7),
                                 ("type", ["ACCEPTED"]), ("company", None)])
        return _dumps(e | {key: value}), ""

    def duplicate_key() -> tuple[bytes, str]:
        return _with_raw_field(e, "city", b'"110000"'), ""

    def control_char() -> tuple[bytes, str]:
        pid = e["parcel_id"]
        return text.replace(pid.encode(), pid[:2].encode() + b"\x07\x1b" + pid[2:].encode(),
                            1), ""

    def lookalike_city() -> tuple[bytes, str]:
        return _dumps(e | {"city": _fullwidth(e["city"])}), ""

    def escaped_pii() -> tuple[bytes, str]:
        phone = _phone(rng)
        return text.replace(f'"{e["event_id"]}"'.encode(),
                            f'"{_escaped(phone)}"'.encode(), 1), phone

    def fullwidth_pii() -> tuple[bytes, str]:
        phone = _phone(rng)
        return _dumps(e | {"remark": "call " + _fullwidth(phone)}), phone

    def separated_pii() -> tuple[bytes, str]:
        phone = _phone(rng)
        return _dumps(e | {"remark": f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"}), phone

    def email() -> tuple[bytes, str]:
        return _dumps(e | {"contact": "zhang.san@example.com"}), "zhang.san@example.com"

    def named_field() -> tuple[bytes, str]:
        return _dumps(e | {"receiver_name": "张三丰"}), "张三丰"

    def future() -> tuple[bytes, str]:
        return _dumps(e | {"ts": "2099-01-01T00:00:00+08:00"}), ""

    def before_2000() -> tuple[bytes, str]:
        return _dumps(e | {"ts": "1999-12-31T23:59:59+08:00"}), ""

    def deep_any_depth() -> tuple[bytes, str]:
        depth = rng.choice([rng.randrange(3, 40), rng.randrange(40, 1_100),
                            rng.randrange(1_100, 5_001)])
        return _nested(rng, depth - 1, b"0", wide=rng.random() < 0.3, text=text), ""

    def deep_line() -> tuple[bytes, str]:  # an object, so that alone it is one event
        nest = _nested(rng, rng.randrange(3, 5_000), b"0", wide=rng.random() < 0.3)
        return b'{"schema":"scan.v1","deep":' + nest + b"}", ""

    def wide_deep() -> tuple[bytes, str]:
        inner = b",".join(b"[%d]" % i for i in range(rng.randrange(2, 600)))
        return _with_raw_field(e, "extra", b"[" + inner + b"]"), ""

    def huge_extra() -> tuple[bytes, str]:
        n = HUGE_FIELD_BYTES + rng.randrange(10_000)
        return _with_raw_field(e, "note", b'"' + b"\\u4e2d" * (n // 6) + b'"'), ""

    def duplicate_nested() -> tuple[bytes, str]:
        return _with_raw_field(e, "meta", b'{"a":1,"a":2}'), ""

    def number_edge() -> tuple[bytes, str]:
        bad = rng.choice([b"1e400", b"-1e400", b"18446744073709551616", b"-0.0", b"1.5",
                          b"10001", b"-1", b"1E2", b"NaN", b"Infinity", b"007", b"+1",
                          b".5", b"1.e5", b"0x1F", b"1_000"])
        if b'"tape_mm":' in text:
            return re.sub(rb'"tape_mm":-?[0-9]+', b'"tape_mm":' + bad, text, count=1), ""
        return text.replace(b'"city":"' + e["city"].encode() + b'"', b'"city":' + bad, 1), ""

    def escape_in_id() -> tuple[bytes, str]:
        esc = rng.choice([b"\\u0000", b"\\ud83d\\ude00", b"\\ud800", b'\\"', b"\\\\",
                          b"\\n", b"\\u202e", b"\\u00a0"])
        pid = e["parcel_id"].encode()
        return text.replace(b'"' + pid + b'"', b'"' + pid[:3] + esc + pid[3:] + b'"', 1), ""

    def bad_utf8_forms() -> tuple[bytes, str]:
        bad = rng.choice([b"\xc0\xaf", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80",
                          b"\xe4\xb8", b"\x80", b"\xf4\x90\x80\x80"])
        pid = e["parcel_id"].encode()
        return text.replace(b'"' + pid + b'"', b'"' + pid + bad + b'"', 1), ""

    def array_of_events_line() -> tuple[bytes, str]:
        return b"[" + text + b"," + text + b"]", ""

    def array_line() -> tuple[bytes, str]:
        return b"[" + text + b"]", ""

    def bracket_garbage() -> tuple[bytes, str]:
        return b"[" + text[:rng.randrange(1, len(text) - 1)], ""

    return [garbage, truncated, bad_utf8, deep, huge, impossible_date, wrong_type,
            duplicate_key, control_char, lookalike_city, escaped_pii, fullwidth_pii,
            separated_pii, email, named_field, future, before_2000, array_line,
            bracket_garbage, deep_any_depth, deep_line, wide_deep, huge_extra,
            duplicate_nested, number_edge, escape_in_id, bad_utf8_forms, array_of_events_line]


def _nested(rng: random.Random, depth: int, core: bytes, wide: bool = False,
            text: bytes | None = None) -> bytes:
    """`core` inside `depth` levels of arrays and objects (mixed at random), built
    iteratively; `wide` adds siblings beside the spine; with `text` (an event's JSON), the
    nest is the value of an extra field of that event (one level more)."""
    opens, closes = [], []
    for level in range(depth):
        sibling = b"1," if wide and rng.random() < 0.2 else b""
        if rng.random() < 0.5:
            opens.append(b"[" + sibling)
            closes.append(b"]")
        else:
            opens.append(b'{"s":1,' if sibling else b"{")
            opens[-1] += b'"k%d":' % level
            closes.append(b"}")
    nest = b"".join(opens) + core + b"".join(reversed(closes))
    return nest if text is None else text[:-1] + b',"extra":' + nest + b"}"


ATTACKS = tuple(f.__name__ for f in _attacks({"event_id": "x", "parcel_id": "y", "city": "z"},
                                             random.Random(0)))


# Attacks that are a valid JSON array of events when alone in a message (then the array is
# the message's framing): hostile only among other lines.
VALID_ALONE = ("array_line", "array_of_events_line")


def hostile(e: dict[str, Any], rng: random.Random, kind: str | None = None) -> Line:
    """One hostile line made from the valid event `e` (attack `kind`, or a random one)."""
    attacks = {f.__name__: f for f in _attacks(e, rng)}
    name = kind or rng.choice(ATTACKS)
    data, pii = attacks[name]()
    return Line(data, False, kind=name, pii=pii)


def messages(events: list[dict[str, Any]], rng: random.Random, hostile_share: float,
             max_lines: int = 6) -> Iterator[list[Line]]:
    """Messages of 1..max_lines lines each, every source event used once: as a valid line
    (re-formatted or not), or, with probability `hostile_share`, as a hostile one."""
    i = 0
    while i < len(events):
        n = rng.randrange(1, max_lines + 1)
        msg = []
        chunk = events[i:i + n]
        for e in chunk:
            if rng.random() < hostile_share:
                line = hostile(e, rng)
                while len(chunk) == 1 and line.kind in VALID_ALONE:
                    line = hostile(e, rng)  # alone, `[event]` is a valid one-event array
                msg.append(line)
            else:
                msg.append(Line(benign(e, rng), True, event_id=str(e["event_id"])))
        i += n
        yield msg
