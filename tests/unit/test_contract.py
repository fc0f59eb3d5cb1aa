"""The scan.v1 topic contract (courierwatch.contract): examples, edge cases and properties.

Every example message lives in tests/examples/{valid,invalid}; an invalid file is named
`<reason>__<what>.<ext>` and holds one message with exactly one bad event. The processing
clock is always injected (NOW), never read from the system.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from courierwatch.contract import (
    Limits,
    ScanEvent,
    decode_message,
    has_personal_data,
    may_carry_personal_data,
    text_has_personal_data,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
VALID = sorted((EXAMPLES / "valid").iterdir())
INVALID = sorted((EXAMPLES / "invalid").iterdir())

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=CST)  # fake processing clock for the examples
REASONS = {"not_json", "schema", "type_fields", "future_ts", "past_ts", "pii", "oversized",
           "duplicate_key", "too_deep"}
FIELDS = frozenset(ScanEvent.__struct_fields__)
TIME_FIELDS = ("ts", "promised_by")

PROPS = settings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


# ----------------------------------------------------------------------------- helpers


def _source_events(path: Path) -> list[dict[str, Any]]:
    """The events a message file holds, read with the stdlib (independent of the contract)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    obj = json.loads(text)
    return obj if isinstance(obj, list) else [obj]


def _expected(src: dict[str, Any]) -> dict[str, Any]:
    """What a decoded event must hold: contract fields only, nulls dropped, times parsed."""
    out = {k: v for k, v in src.items() if k in FIELDS and v is not None}
    for k in TIME_FIELDS:
        if isinstance(out.get(k), str):
            out[k] = datetime.fromisoformat(out[k])
    return out


def _as_dict(ev: ScanEvent) -> dict[str, Any]:
    """A decoded event as plain values (nested structs as dicts), unset fields dropped."""
    out: dict[str, Any] = {}
    for name in ev.__struct_fields__:
        value = getattr(ev, name)
        if value is None:
            continue
        out[name] = msgspec.structs.asdict(value) if isinstance(value, msgspec.Struct) else value
    return out


def _line(path: Path) -> bytes:
    """A single-event example file as one line of bytes."""
    return path.read_bytes().strip()


def _by_name(name: str, where: list[Path]) -> Path:
    return next(p for p in where if p.name == name)


def _single_event_invalid() -> list[Path]:
    """Invalid examples that are one line holding one event (usable as a batch element)."""
    return [p for p in INVALID if not p.read_bytes().lstrip().startswith(b"[")
            and b"\n" not in p.read_bytes().strip()]


_SINGLE_VALID = [p for p in VALID if p.suffix == ".json"
                 and not p.read_bytes().lstrip().startswith(b"[")]


# ----------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_example_decodes(path: Path) -> None:
    """Every valid example decodes with no rejection, one event per source event, same fields."""
    events, rejections = decode_message(path.read_bytes(), NOW)
    assert rejections == []
    sources = _source_events(path)
    assert len(events) == len(sources)
    for ev, src in zip(events, sources, strict=True):
        assert isinstance(ev, ScanEvent)
        assert _as_dict(ev) == _expected(src)


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_example_is_rejected_with_its_reason(path: Path) -> None:
    """Each invalid example yields no event and exactly one rejection, whose reason is the
    file-name prefix and which keeps the raw bytes (the event's, or the whole message's)."""
    payload = path.read_bytes()
    reason = path.name.split("__", 1)[0]
    assert reason in REASONS, f"bad example name {path.name}"
    events, rejections = decode_message(payload, NOW)
    assert events == []
    assert len(rejections) == 1
    rej = rejections[0]
    assert rej.reason == reason, rej.detail
    assert isinstance(rej.detail, str) and rej.detail
    if rej.index == -1:  # the message could not be split into events
        assert rej.raw == payload
    elif payload.lstrip().startswith(b"["):  # one bad element of an array
        assert rej.index == 0 and rej.raw in payload
        assert json.loads(rej.raw) == json.loads(payload)[0]
    else:
        assert rej.index == 0
        assert rej.raw == payload.strip()


def test_example_sets_cover_the_contract() -> None:
    """The example sets keep covering every type, enum value, message shape and reason."""
    srcs = [e for p in VALID for e in _source_events(p)]
    assert {e["type"] for e in srcs} == {"ACCEPTED", "ARRIVED", "DEPARTED", "OUT_FOR_DELIVERY",
                                         "DELIVERED", "EXCEPTION", "COMPLAINT"}
    assert {e["mode"] for e in srcs if e["type"] == "DELIVERED"} == {
        "DOOR", "LOCKER", "STATION", "SELF_PICKUP"}
    assert {e["kind"] for e in srcs if e["type"] == "EXCEPTION"} == {
        "DELAY", "DAMAGE", "LOSS", "RETURN"}
    assert {e["stage"] for e in srcs if e["type"] == "COMPLAINT"} == {
        "FILED", "ACCEPTED", "RESOLVED"}
    accepted = [e for e in srcs if e["type"] == "ACCEPTED"]
    assert any("promised_by" in e for e in accepted)
    assert any("promised_by" not in e for e in accepted)
    assert any(e["ts"].endswith("Z") for e in srcs)
    assert any(e["ts"].endswith("+08:00") for e in srcs)
    assert any(not e["ts"].endswith(("Z", "+08:00")) for e in srcs)
    assert any(set(e) - FIELDS for e in srcs), "an event with an unknown extra field"
    assert any(p.suffix == ".jsonl" for p in VALID)
    assert any(p.read_bytes().lstrip().startswith(b"[") for p in VALID)
    assert {p.name.split("__", 1)[0] for p in INVALID} == REASONS - {"oversized"}


# ----------------------------------------------------------------------------- batches


_MIXED = [pytest.param(bad, shape, id=f"{shape}-{bad.name}")
          for shape in ("array", "lines") for bad in _single_event_invalid()
          # a non-JSON element makes a whole array non-JSON (one message-level rejection)
          if not (shape == "array" and bad.name.startswith("not_json__"))]


@pytest.mark.parametrize(("bad", "shape"), _MIXED)
def test_bad_event_never_costs_its_neighbours(bad: Path, shape: str) -> None:
    """5 valid events + 1 bad one at index 3 give the 5 events and one rejection at index 3
    with the bad event's bytes, whatever the reason and message shape."""
    reason = bad.name.split("__", 1)[0]
    good = [_line(p) for p in _SINGLE_VALID[:5]]
    parts = good[:3] + [_line(bad)] + good[3:]
    payload = (b"[" + b",\n".join(parts) + b"]") if shape == "array" else b"\n".join(parts)
    events, rejections = decode_message(payload, NOW)
    assert [_as_dict(e) for e in events] == [_expected(json.loads(g)) for g in good]
    assert [(r.reason, r.index, r.raw) for r in rejections] == [(reason, 3, _line(bad))]


def test_unknown_field_off_the_fast_path_still_decodes() -> None:
    """A batch the strict fast path refuses (one event has an unknown field) decodes to the
    same events, field for field, as its events sent one by one; the extra field is dropped."""
    extra = _by_name("extra__unknown_optional_fields.json", VALID)
    files = _SINGLE_VALID[:4] + [extra]
    payload = b"[" + b", ".join(_line(p) for p in files) + b"]"
    events, rejections = decode_message(payload, NOW)
    assert rejections == []
    one_by_one = [decode_message(p.read_bytes(), NOW)[0][0] for p in files]
    assert [_as_dict(e) for e in events] == [_as_dict(e) for e in one_by_one]
    assert _as_dict(events[-1]) == _expected(_source_events(extra)[0])


def test_jsonl_blank_lines_are_not_events() -> None:
    """Blank lines (and CRLF endings) in a JSON-lines message are neither events nor
    rejections, and rejection indices count events, not lines."""
    good = _line(_by_name("delivered__door.json", VALID))
    bad = _line(_by_name("schema__unknown_type.json", INVALID))
    payload = b"\r\n" + good + b"\r\n\r\n" + bad + b"\r\n\n" + good + b"\n"
    events, rejections = decode_message(payload, NOW)
    assert len(events) == 2
    assert [(r.reason, r.index) for r in rejections] == [("schema", 1)]


# ----------------------------------------------------------------------------- bounds


def _arrived(ts: str, **extra: Any) -> bytes:
    """An ARRIVED event (YTO, 武汉) with the given ts and extra fields, as one JSON line."""
    return orjson.dumps({"schema": "scan.v1", "event_id": "e-yto-b1",
                         "parcel_id": "YT7501234567890", "company": "YTO", "type": "ARRIVED",
                         "ts": ts, "city": "420100", **extra})


@pytest.mark.parametrize(("ts", "reason"), [
    ("2026-11-23T12:00:00+08:00", None),               # exactly now + 24 h
    ("2026-11-23T04:00:00Z", None),                    # the same instant in UTC
    ("2026-11-23T12:00:00.001+08:00", "future_ts"),
    ("2026-11-23T04:00:00.000001Z", "future_ts"),
    ("2000-01-01T00:00:00Z", None),
    ("2000-01-01T07:59:59+08:00", "past_ts"),          # 1999-12-31T23:59:59Z
])
def test_timestamp_bounds(ts: str, reason: str | None) -> None:
    """ts may be up to 24 h after the processing clock (as an instant, any offset) and not
    before 2000-01-01T00:00Z; outside that it is future_ts / past_ts."""
    for payload in (_arrived(ts), _arrived(ts, weight_g=1)):  # fast path and slow path
        events, rejections = decode_message(payload, NOW)
        assert [r.reason for r in rejections] == ([reason] if reason else [])
        assert len(events) == (0 if reason else 1)


def test_clock_is_injected() -> None:
    """Only the `now` argument decides the future bound: a 2099 event is refused today and
    accepted by a 2099 clock; a smaller max_future_s tightens the bound."""
    payload = _line(_by_name("future_ts__year_2099.json", INVALID))
    assert decode_message(payload, NOW)[1][0].reason == "future_ts"
    later = datetime(2099, 1, 1, tzinfo=UTC)
    assert len(decode_message(payload, later)[0]) == 1
    near = _arrived("2026-11-22T13:00:00+08:00")  # one hour ahead of NOW
    assert len(decode_message(near, NOW)[0]) == 1
    tight = Limits(max_future_s=60.0)
    assert [r.reason for r in decode_message(near, NOW, tight)[1]] == ["future_ts"]


def test_oversized_event_is_rejected_alone() -> None:
    """An event over Limits.max_event_bytes is rejected as oversized with its bytes; the
    other events of the message are kept."""
    limits = Limits()
    big = _arrived("2026-11-22T06:20:00+08:00", blob="x" * limits.max_event_bytes)
    assert len(big) > limits.max_event_bytes
    events, rejections = decode_message(big, NOW)
    assert events == []
    assert [(r.reason, r.index, r.raw) for r in rejections] == [("oversized", 0, big)]
    small = _line(_by_name("delivered__locker.json", VALID))
    events, rejections = decode_message(small + b"\n" + big + b"\n" + small, NOW)
    assert len(events) == 2
    assert [(r.reason, r.index, r.raw) for r in rejections] == [("oversized", 1, big)]


def test_oversized_message_is_rejected_whole() -> None:
    """A message over Limits.max_message_bytes is one oversized rejection (index -1, no
    events) without being parsed; its raw bytes are kept as a prefix of the message."""
    limits = Limits()
    one = _line(_by_name("delivered__door.json", VALID))
    payload = b"[" + b",".join([one] * (limits.max_message_bytes // len(one) + 1)) + b"]"
    assert len(payload) > limits.max_message_bytes
    events, rejections = decode_message(payload, NOW)
    assert events == []
    assert len(rejections) == 1
    rej = rejections[0]
    assert (rej.reason, rej.index) == ("oversized", -1)
    assert rej.raw and payload.startswith(rej.raw)  # the contract keeps a bounded prefix
    assert len(decode_message(payload, NOW, Limits(max_message_bytes=len(payload)))[0]) > 1


def test_oversized_event_in_array_is_rejected() -> None:
    """An event over max_event_bytes is oversized whether it comes alone, in JSON lines or
    in an array (the fast path must not accept it)."""
    limits = Limits(max_event_bytes=400)
    acc = _line(_by_name("accepted__with_promised_by.json", VALID))
    arr = _line(_by_name("arrived__without_site_id.json", VALID))
    assert len(acc) > 400 > len(arr)
    events, rejections = decode_message(b"[" + b",".join([acc, arr, arr]) + b"]", NOW, limits)
    assert len(events) == 2
    assert [(r.reason, r.index) for r in rejections] == [("oversized", 0)]


# ----------------------------------------------------------------------------- personal data


@pytest.mark.parametrize("value", ["SF13812345678", "YT13812345678", "JDVA13812345678",
                                   "JT110105194912310021", "SF123456789012", "1102345678901"])
def test_waybill_with_letters_is_not_personal_data(value: str) -> None:
    """Digits glued to letters (a waybill or site code) are not a phone or ID-card number, and
    a digit run of another length is not one either; such parcel ids pass on both paths."""
    assert not has_personal_data(value.encode())
    for extra in ({}, {"weight_g": 800}):
        events, rejections = decode_message(
            _arrived("2026-11-22T06:20:00+08:00", **extra).replace(b"YT7501234567890",
                                                                   value.encode()), NOW)
        assert rejections == [] and events[0].parcel_id == value


@pytest.mark.parametrize("value", ["13812345678", "19912345678", "11010519491231002X",
                                   "110105194912310021", "zhang.san@example.com"])
def test_bare_phone_id_card_or_email_is_personal_data(value: str) -> None:
    """A bare mobile number, resident ID-card number or e-mail address is personal data, and
    an event carrying it (as an id or in any extra field) is rejected as pii on both paths."""
    assert has_personal_data(value.encode())
    candidates = [_arrived("2026-11-22T06:20:00+08:00", remark=value)]
    if "@" not in value:  # ids cannot hold '@'
        candidates += [_arrived("2026-11-22T06:20:00+08:00", site_id=value),
                       _arrived("2026-11-22T06:20:00+08:00", site_id=value, weight_g=1)]
    for payload in candidates:
        events, rejections = decode_message(payload, NOW)
        assert events == [] and [r.reason for r in rejections] == ["pii"]


@pytest.mark.parametrize("key", ["receiver_name", "senderPhone", "mobile", "address",
                                 "id_card", "email", "contact_tel"])
def test_key_naming_personal_data_is_rejected(key: str) -> None:
    """A field whose name says it carries personal data rejects the event, whatever its
    value; the contract's own security.real_name does not."""
    events, rejections = decode_message(_arrived("2026-11-22T06:20:00+08:00", **{key: "x"}), NOW)
    assert events == [] and [r.reason for r in rejections] == ["pii"]
    real_name = _line(_by_name("accepted__with_promised_by.json", VALID))
    assert not has_personal_data(real_name)


@pytest.mark.parametrize("payload", [
    pytest.param(_arrived("2026-11-22T06:20:00+08:00", site_id="X").replace(
        b'"X"', b'"' + b"".join(b"\\u%04x" % c for c in b"13812345678") + b'"'),
        id="json-escaped-phone-as-site_id"),
    pytest.param(_arrived("2026-11-22T06:20:00+08:00", remark="+8613812345678"),
                 id="phone-with-country-code"),
    pytest.param(_arrived("2026-11-22T06:20:00+08:00", remark="138-1234-5678"),
                 id="phone-with-dashes"),
    pytest.param(_arrived("2026-11-22T06:20:00+08:00", **{"receiver-name": "x"}),
                 id="hyphenated-name-key"),
    pytest.param(_arrived("2026-11-22T06:20:00+08:00", phone2="x"), id="key-with-digit"),
])
def test_disguised_personal_data_is_rejected(payload: bytes) -> None:
    """Personal data stays out however it is spelled: JSON escapes, a +86 prefix, dashes, or
    a key like receiver-name / phone2."""
    events, rejections = decode_message(payload, NOW)
    assert events == [] and [r.reason for r in rejections] == ["pii"]


def test_pii_verdict_does_not_depend_on_the_path() -> None:
    """An event gets the same verdict alone, in an array, in JSON lines and next to an
    unknown field (here a company code 'A_13812345678', which the CompanyCode pattern allows
    and whose digit run the PII rule counts as a phone number)."""
    one = _arrived("2026-11-22T06:20:00+08:00").replace(b'"YTO"', b'"A_13812345678"')
    slow = _arrived("2026-11-22T06:20:00+08:00", weight_g=1).replace(b'"YTO"', b'"A_13812345678"')
    shapes = {"alone": one, "array": b"[" + one + b"]", "lines": one + b"\n" + one,
              "with_unknown_field": slow}
    verdicts = {k: sorted({r.reason for r in decode_message(v, NOW)[1]}) for k, v in shapes.items()}
    assert verdicts["with_unknown_field"] == ["pii"]
    assert verdicts == dict.fromkeys(shapes, ["pii"])


# ----------------------------------------------------------------------------- robustness


def test_both_paths_return_plain_scan_events() -> None:
    """Fast path (strict events) and slow path (an unknown field) return the same class, and the
    same event decoded either way compares equal (dedup, sets and joins rely on it)."""
    one = _line(_by_name("delivered__door.json", VALID))
    with_extra = b'{"weight_g": 1, ' + one[1:]  # an unknown field forces the slow path
    fast = decode_message(b"[" + one + b"," + one + b"]", NOW)[0]
    slow = decode_message(one + b"\n" + with_extra, NOW)[0]
    assert {type(e) for e in fast + slow} == {ScanEvent}
    assert fast == slow


@pytest.mark.parametrize("extra", [{}, {"weight_g": 1250}], ids=["plain", "unknown-field"])
def test_pretty_printed_single_event(extra: dict[str, Any]) -> None:
    """A pretty-printed (multi-line) single event decodes like its one-line form: one event,
    no rejection."""
    src = _source_events(_by_name("arrived__hub_z.json", VALID))[0] | extra
    events, rejections = decode_message(json.dumps(src, indent=2).encode(), NOW)
    assert rejections == [] and len(events) == 1
    assert _as_dict(events[0]) == _expected(src)


def test_malformed_json_lines_are_not_glued_together() -> None:
    """Each line of a JSON-lines message must be a JSON value on its own: a line holding one
    event and half of another, followed by the other half, is two not_json lines, not two
    events."""
    one = _arrived("2026-11-22T06:20:00+08:00")
    head, tail = one.split(b',"parcel_id"', 1)
    payload = one + b", " + head + b"\n" + b'"parcel_id"' + tail
    assert decode_message(b"[" + payload.replace(b"\n", b",") + b"]", NOW)[1] == []  # glued
    events, rejections = decode_message(payload, NOW)
    assert events == []
    assert [(r.reason, r.index) for r in rejections] == [("not_json", 0), ("not_json", 1)]


@pytest.mark.parametrize("payload", [
    b'{"\xff": 1}',
    _arrived("2026-11-22T06:20:00+08:00").replace(b"e-yto-b1", b"e-yto-\xff"),
    b"[" + _arrived("2026-11-22T06:20:00+08:00").replace(b'"city"', b'"cit\xc3"') + b"]",
])
def test_invalid_utf8_is_not_json(payload: bytes) -> None:
    """Invalid UTF-8 inside a JSON string is a not_json rejection, never an exception."""
    events, rejections = decode_message(payload, NOW)
    assert events == [] and [r.reason for r in rejections] == ["not_json"]


@pytest.mark.parametrize("payload", [b"", b"  \n\r\n "], ids=["empty", "whitespace"])
def test_blank_message_is_dead_lettered(payload: bytes) -> None:
    """Every message leaves a trace: a blank one is a not_json rejection of the message."""
    events, rejections = decode_message(payload, NOW)
    assert events == [] and [(r.reason, r.index) for r in rejections] == [("not_json", -1)]


# ----------------------------------------------------------------------------- properties

BRANDS = ["SF", "ZTO", "YTO", "STO", "YUNDA", "JT", "JD", "EMS"]
CITIES = ["331000", "320400", "371500", "420100", "310000", "110000", "440300", "510100"]
_LOOSE_DIGITS = re.compile(r"(?<![A-Za-z])[0-9]{11,}")  # could be a phone / ID-card number

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ids = st.one_of(  # waybill-like (letters, then digits) or anything in the Id alphabet
    st.builds(str.__add__, st.sampled_from(["SF", "YT", "JT", "JDVA", "ZT", "E-", "LK-"]),
              st.text("0123456789", max_size=15)),
    st.builds(str.__add__, st.sampled_from(_LETTERS),
              st.text(_LETTERS + "0123456789._:-", max_size=20)),
    st.just("Z" + "9" * 63),  # the longest id
).filter(lambda s: not _LOOSE_DIGITS.search(s))
cities = st.one_of(st.sampled_from(CITIES),
                   st.integers(100_000, 999_999).map(str))
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2030, 12, 31, 23, 59),
                     timezones=offsets)
PROP_NOW = datetime(2031, 1, 1, tzinfo=UTC)  # every generated ts is at most 24 h ahead


@st.composite
def scan_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid scan.v1 event as a dict of Python values (datetimes still objects)."""
    ev: dict[str, Any] = {
        "schema": "scan.v1", "event_id": draw(ids), "parcel_id": draw(ids),
        "company": draw(st.sampled_from(BRANDS)), "type": draw(st.sampled_from(
            ["ACCEPTED", "ARRIVED", "DEPARTED", "OUT_FOR_DELIVERY", "DELIVERED", "EXCEPTION",
             "COMPLAINT"])),
        "ts": draw(aware), "city": draw(cities),
    }
    if draw(st.booleans()):
        ev["site_id"] = draw(ids)
    kind = ev["type"]
    if kind == "ACCEPTED":
        ev["dest_city"] = draw(cities)
        ev["ecommerce"] = draw(st.booleans())
        if draw(st.booleans()):
            ev["promised_by"] = draw(aware)
        ev["packaging"] = {k: draw(st.booleans()) for k in
                           ("standard", "e_waybill", "secondary_packaging", "recycled_bag",
                            "degradable")} | {"tape_mm": draw(st.integers(0, 10_000))}
        ev["security"] = {k: draw(st.booleans()) for k in ("real_name", "inspected", "xray")}
    elif kind == "DELIVERED":
        ev["mode"] = draw(st.sampled_from(["DOOR", "LOCKER", "STATION", "SELF_PICKUP"]))
    elif kind == "EXCEPTION":
        ev["kind"] = draw(st.sampled_from(["DELAY", "DAMAGE", "LOSS", "RETURN"]))
    elif kind == "COMPLAINT":
        ev["complaint_id"] = draw(ids)
        ev["stage"] = draw(st.sampled_from(["FILED", "ACCEPTED", "RESOLVED"]))
        if ev["stage"] == "RESOLVED":
            ev["valid"] = draw(st.booleans())
            ev["satisfied"] = draw(st.booleans())
    return ev


@PROPS
@given(st.lists(scan_events(), min_size=1, max_size=4), st.booleans(), st.booleans())
def test_round_trip(evs: list[dict[str, Any]], as_array: bool, with_extra: bool) -> None:
    """Any valid events, encoded with orjson (RFC 3339 times with offset), decode to events
    with the same fields and instants, with or without unknown extra fields."""
    sent = [ev | {"x_ext": {"v": 1}} for ev in evs] if with_extra else evs
    # an array, or JSON lines (a single object when there is one event)
    payload = orjson.dumps(sent) if as_array else b"\n".join(orjson.dumps(e) for e in sent)
    events, rejections = decode_message(payload, PROP_NOW)
    assert rejections == []
    assert [_as_dict(e) for e in events] == evs  # aware datetimes compare as instants


@PROPS
@given(st.lists(scan_events(), min_size=1, max_size=4))
def test_array_and_json_lines_agree(evs: list[dict[str, Any]]) -> None:
    """The same events sent as a JSON array, as JSON lines or one message each decode to
    the same events."""
    as_array = decode_message(orjson.dumps(evs), PROP_NOW)
    as_lines = decode_message(b"\n".join(orjson.dumps(e) for e in evs) + b"\n", PROP_NOW)
    one_by_one = [decode_message(orjson.dumps(e), PROP_NOW) for e in evs]
    assert as_array[1] == as_lines[1] == []
    fields = [_as_dict(ev) for ev in as_array[0]]
    assert fields == [_as_dict(ev) for ev in as_lines[0]]
    assert fields == [_as_dict(ev) for out in one_by_one for ev in out[0]]


def _check_total(payload: bytes) -> None:
    events, rejections = decode_message(payload, NOW)
    assert all(isinstance(e, ScanEvent) for e in events)
    for r in rejections:
        assert r.reason in REASONS and isinstance(r.raw, bytes) and r.detail
        assert r.index == -1 or 0 <= r.index < len(events) + len(rejections)
    blank_or_empty = not payload.strip() or re.fullmatch(rb"\s*\[\s*\]\s*", payload)
    if not blank_or_empty:  # (blank messages: see test_blank_message_is_dead_lettered)
        assert events or rejections


@st.composite
def mutated_examples(draw: st.DrawFn) -> bytes:
    """A valid or invalid example with a random text edit (valid UTF-8 throughout)."""
    text = draw(st.sampled_from(VALID + INVALID)).read_bytes().decode("utf-8", "replace")
    i = draw(st.integers(0, len(text)))
    j = draw(st.integers(i, min(len(text), i + 8)))
    return (text[:i] + draw(st.text(max_size=6)) + text[j:]).encode()


@PROPS
@given(st.one_of(st.text().map(str.encode), mutated_examples()))
def test_decode_is_total_on_text(payload: bytes) -> None:
    """On any UTF-8 input decode_message never raises, and every non-blank message other
    than an empty array yields at least one event or rejection, with known reasons."""
    _check_total(payload)


@PROPS
@example(b'{"\xff": 1}')
@given(st.binary())
def test_decode_is_total_on_bytes(payload: bytes) -> None:
    """On arbitrary bytes decode_message never raises and every non-blank message yields an
    event or a rejection."""
    _check_total(payload)


@given(st.from_regex(r"[A-Za-z0-9.:\-|\n]{0,60}", fullmatch=True)
       | st.from_regex(r"[a-z|.\-]{0,3}(?:[0-9]{1,6}[.\-]?){1,5}[a-z|:\n]?", fullmatch=True))
@example("E7-N1|13812345678")
@example("x.138-1234-5678")
@example("110105194912310021")
@example("A1-13812345678")
@settings(max_examples=3000)
def test_no_candidate_run_means_no_personal_data(text: str) -> None:
    """The fast path skips the personal-data screen of a message's ids when no candidate
    digit run is found; for any text of id characters the screen then flags nothing."""
    if not may_carry_personal_data(text):
        assert not text_has_personal_data(text)
