"""The scan.v1 event contract: typed records, strict validation, typed rejections.

A Kafka message carries one event, a JSON array of events, or JSON lines. `decode_message`
turns its bytes into valid `ScanEvent`s plus one `Rejection` per bad event (or one for the
whole message when it cannot be split), so a single bad event never costs its neighbours.
The fast path decodes a whole array with msgspec in C; only a message that fails it is
taken apart event by event.

Rules beyond the field types (docs/DESIGN.md, "Canonical scan event"):
- `ts` and `promised_by` are RFC 3339 *with* an offset; `ts` may not be more than
  `Limits.max_future_s` ahead of the processing clock, nor before 2000.
- type-specific fields are required on their type and refused on any other type;
- no key repeated within one JSON object (`duplicate_key`): parsers disagree on which value
  counts, and the stored text is the canonical encoding of what was validated anyway;
- no personal data: a phone number, an ID-card number, an e-mail address or a key that
  names one (`phone`, `address`, `name`, ...) anywhere in the event rejects it.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate, repeat
from operator import attrgetter
from typing import Annotated, Literal, NamedTuple, get_args

import msgspec
import orjson

SCHEMA = "scan.v1"

EventType = Literal[
    "ACCEPTED", "ARRIVED", "DEPARTED", "OUT_FOR_DELIVERY", "DELIVERED", "EXCEPTION", "COMPLAINT"
]
DeliveryMode = Literal["DOOR", "LOCKER", "STATION", "SELF_PICKUP"]
ExceptionKind = Literal["DELAY", "DAMAGE", "LOSS", "RETURN"]
ComplaintStage = Literal["FILED", "ACCEPTED", "RESOLVED"]
# 申诉 (an appeal to the postal administration, the "12305" platform; the default when the
# field is absent) or 投诉 (a complaint to the courier company). DESIGN.md, `channel`.
ComplaintChannel = Literal["APPEAL", "COMPANY"]

# Lengths are checked by msgspec in C; the character patterns below are checked by
# `_pattern_violation` (one event) and `_events_pass_screens` (a whole message at once),
# because msgspec calls Python's `re` once per constrained field: 2.5 of 4.3 us per event.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
CityCode = Annotated[str, msgspec.Meta(min_length=6, max_length=6)]
CompanyCode = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
_ID = re.compile(r"[A-Za-z0-9._:\-]+")
_CITY = re.compile(r"[1-9][0-9]{5}")
_COMPANY = re.compile(r"[A-Z][A-Z0-9_]{0,15}")
_FIELD_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("event_id", _ID), ("parcel_id", _ID), ("site_id", _ID), ("complaint_id", _ID),
    ("company", _COMPANY), ("city", _CITY), ("dest_city", _CITY))
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
TapeMm = Annotated[int, msgspec.Meta(ge=0, le=10_000)]


class Packaging(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    standard: bool
    e_waybill: bool
    secondary_packaging: bool
    recycled_bag: bool
    tape_mm: TapeMm
    degradable: bool


class Security(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    real_name: bool
    inspected: bool
    xray: bool


class ScanEvent(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=True):
    """One scan. Unknown extra fields are tolerated in input (the contract may grow): they are
    screened for personal data, then dropped before decoding into this record."""

    schema: Literal["scan.v1"]
    event_id: Id
    parcel_id: Id
    company: CompanyCode
    type: EventType
    ts: AwareTime
    city: CityCode
    site_id: Id | None = None
    dest_city: CityCode | None = None
    ecommerce: bool | None = None
    promised_by: AwareTime | None = None
    packaging: Packaging | None = None
    security: Security | None = None
    mode: DeliveryMode | None = None
    kind: ExceptionKind | None = None
    complaint_id: Id | None = None
    stage: ComplaintStage | None = None
    channel: ComplaintChannel | None = None
    valid: bool | None = None
    satisfied: bool | None = None


# Which optional fields each type requires (R) and merely allows (A); any other
# type-specific field present on an event is an error.
_TYPE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ACCEPTED": (frozenset({"dest_city", "ecommerce", "packaging", "security"}),
                 frozenset({"promised_by"})),
    "DELIVERED": (frozenset({"mode"}), frozenset()),
    "EXCEPTION": (frozenset({"kind"}), frozenset()),
    "COMPLAINT": (frozenset({"complaint_id", "stage"}),
                  frozenset({"valid", "satisfied", "channel"})),
}
_SPECIFIC = frozenset({
    "dest_city", "ecommerce", "promised_by", "packaging", "security", "mode", "kind",
    "complaint_id", "stage", "valid", "satisfied", "channel",
})


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on input; the defaults are what the embedded mode runs with."""

    max_message_bytes: int = 8 * 1024 * 1024
    max_event_bytes: int = 16 * 1024
    max_future_s: float = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one event (or one whole message, index -1) was refused, with its raw bytes."""

    reason: str  # stable code: not_json, schema, type_fields, future_ts, pii, oversized,
    #              duplicate_key, too_deep, ...
    detail: str
    raw: bytes
    index: int = -1


DEFAULT_LIMITS = Limits()

_MIN_TS = datetime(2000, 1, 1, tzinfo=UTC)

# Personal data. The screen runs on decoded values (so JSON escapes cannot hide a number)
# and on the keys of fields outside the contract; both decoding paths use the same screen.
# Two readings of digits (docs/reliability.md, "The personal-data screen"):
# - free text (fields outside the contract, keys): digit groups are joined across spaces,
#   dashes, dots and parentheses, a country code (+86, 0086, 86) is dropped, then a run of
#   11+ digits not glued to a letter is a phone or an ID-card number when it has their shape;
# - ids (`ids_have_personal_data`: event, parcel, site and complaint ids, which hold only
#   `[A-Za-z0-9._:-]`): groups are *not* joined (`ev-13-000020600` is source 13, sequence
#   20600, not 130-0002-0600), except where a written number puts its separators: 3-4-4
#   with a mobile prefix (`138-1234-5678`) and 6-8-4 for an ID card. A run glued to a
#   letter before it (a waybill such as SF13812345678) is neither, in both readings; in an
#   id, nor is one glued to a letter after it (UUID hex such as `-14058670245d`).
_SEPARATED_DIGITS = re.compile(r"(?<=[0-9])[\s\-.()]+(?=[0-9])")
_COUNTRY_CODE = re.compile(r"(?<![0-9])(?:\+|00)?86[\s\-.()]*(?=1[3-9][0-9])")
# A run of 11+ digits (an ID card may end in X) that is not glued to an ASCII letter: a
# waybill such as SF13812345678 is not a phone number. The look-behind also rejects a start
# inside a run, so the matches are exactly the maximal runs not preceded by a letter.
_DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9])[0-9]{11,}[Xx]?")
# In an id, a run glued to a letter on either side is part of an alphanumeric token (the
# hex of a UUID such as ...-14058670245d), not a number.
_ID_DIGIT_RUN = re.compile(r"(?<![A-Za-z0-9])[0-9]{11,}[Xx]?(?![A-Za-z0-9])")
_PHONE = re.compile(r"1[3-9][0-9]{9}")                                    # mainland mobile
_ID_CARD = re.compile(r"[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])"
                      r"(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]")      # resident ID card
# Written with separators inside an id: 138-1234-5678, 110101-19900307-123X ('-', '.', '_').
_WRITTEN_IN_ID = re.compile(r"(?<![A-Za-z0-9])(?:1[3-9][0-9][._\-][0-9]{4}[._\-][0-9]{4}"
                            r"|[1-9][0-9]{5}[._\-][0-9]{8}[._\-][0-9]{3}[0-9Xx])(?![0-9])")
# Starts only where a token starts and never gives back what its possessive parts took, so
# a long text is scanned in linear time (a plain `[...]+@...` is quadratic on `a.a.a...@`).
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]++ ?@ ?"
                    r"[A-Za-z0-9\-]++(?:\.[A-Za-z0-9\-]++)*\.[A-Za-z]{2,}")
_PII_KEY = re.compile(r"phone|mobile|tel|address|addr|name|id_?card|email|contact|身份证|电话|"
                      r"手机|姓名|地址", re.IGNORECASE)
_SHORTEST_PERSONAL_DATUM = 6  # `a@b.cn`; a phone has 11 digits, an ID card 18
_CONTRACT_FIELDS = frozenset(ScanEvent.__struct_fields__)
_NESTED_FIELDS = frozenset(Packaging.__struct_fields__) | frozenset(Security.__struct_fields__)
def _is_phone_or_id_card(digits: str) -> bool:
    return bool(_PHONE.fullmatch(digits) or _ID_CARD.fullmatch(digits))


def text_has_personal_data(text: str) -> bool:
    """True when free text holds a mainland phone number (also +86 or with separators), a
    resident ID-card number or an e-mail address. A digit run glued to a letter (a waybill
    such as SF13812345678) is not a phone number."""
    if not text.isascii():
        text = ascii_digits(text)
    if len(text) < _SHORTEST_PERSONAL_DATUM:
        return False
    if "@" in text and _EMAIL.search(text):
        return True
    if "86" in text:  # the only texts _COUNTRY_CODE can match
        text = _COUNTRY_CODE.sub("", text)
    return any(_is_phone_or_id_card(run.group())
               for run in _DIGIT_RUN.finditer(_SEPARATED_DIGITS.sub("", text)))


def ids_have_personal_data(text: str) -> bool:
    """True when a text of id characters (`[A-Za-z0-9._:-]`, joined by '|' or newlines)
    holds a phone or ID-card number: a whole digit run not glued to a letter with that
    shape, or one written with separators where a person writes them (see above). Digit
    groups are not joined otherwise. (An ID card's check digit is not required: a
    mistyped number is personal data too.)"""
    if any(_is_phone_or_id_card(run.group()) for run in _ID_DIGIT_RUN.finditer(text)):
        return True
    return _WRITTEN_IN_ID.search(text) is not None


def ascii_digits(text: str) -> str:
    """`text` with compatibility forms folded (NFKC: fullwidth ５ -> 5, ＠ -> @) and every
    other Unicode decimal digit (Arabic-Indic, Devanagari, ...) turned into its ASCII digit,
    so that lookalike digits cannot carry a phone number past the screen."""
    folded = unicodedata.normalize("NFKC", text)
    if folded.isascii():
        return folded
    return _OTHER_DIGIT.sub(_ascii_digit, folded)


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # `\d` in a str pattern: any Unicode decimal digit


def _ascii_digit(m: re.Match[str]) -> str:
    return str(unicodedata.decimal(m.group()))


def key_names_personal_data(key: str) -> bool:
    """True for a field name such as receiver_phone, Receiver-Name, ｐｈｏｎｅ or 电话."""
    if not key.isascii():
        key = ascii_digits(key)
    return key not in _NESTED_FIELDS and key != "real_name" and bool(_PII_KEY.search(key))


# Nesting. The contract needs two levels (an event object holding `packaging` and
# `security` objects); an event nested deeper (counting arrays too, and values outside the
# contract) is refused as `too_deep` before any parser or screen sees it: far below
# msgspec's and orjson's own limits (about 1,000) and the interpreter's recursion limit,
# so no step of decoding can run out of stack on any input.
MAX_EVENT_DEPTH = 2
MAX_SCREENED_DEPTH = 32  # a too-deep event up to this depth is still parsed and screened
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = [1 if b in b"[{" else -1 for b in range(256)]


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, counted without parsing
    (strings removed, brackets counted): linear, never recursive, total for any bytes."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    return max(0, max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0))


def has_personal_data(raw: bytes) -> bool:
    """Screen a raw JSON text: any string value or key naming personal data (as unparsed
    text when nested past `MAX_SCREENED_DEPTH`)."""
    if nesting_depth(raw) > MAX_SCREENED_DEPTH:
        return text_has_personal_data(raw.decode("utf-8", "replace"))
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return text_has_personal_data(raw.decode("utf-8", "replace"))
    return _obj_has_personal_data(obj)


def _obj_has_personal_data(obj: object) -> bool:
    """Any key or scalar value of a decoded JSON value naming or holding personal data.
    Iterative (an explicit stack), so no nesting can exhaust the interpreter's stack."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if key_names_personal_data(str(k)) or text_has_personal_data(str(k)):
                    return True
                stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)
        elif (not isinstance(item, bool) and isinstance(item, str | int | float)
              and text_has_personal_data(str(item))):
            return True
    return False


def _free_text(ev: ScanEvent) -> str:
    """The event's free-form strings, '|'-separated so that no two can merge into a number."""
    return f"{ev.event_id}|{ev.parcel_id}|{ev.site_id or ''}|{ev.complaint_id or ''}|{ev.company}"


def _pattern_violation(ev: ScanEvent) -> str | None:
    """The detail of the first constrained field whose characters break its pattern."""
    for name, pattern in _FIELD_PATTERNS:
        value = getattr(ev, name)
        if value is not None and not pattern.fullmatch(value):
            return f"Expected `str` matching regex {pattern.pattern!r} - at `$.{name}`"
    return None


# The id characters plus the two separators of a message's joined `_free_text`.
_ID_TEXT = re.compile(r"[A-Za-z0-9._:\-|\n]*")
_company_ok = functools.lru_cache(maxsize=4096)(
    lambda code: _COMPANY.fullmatch(code) is not None)
_city_ok = functools.lru_cache(maxsize=4096)(
    lambda code: code is None or _CITY.fullmatch(code) is not None)
_companies = attrgetter("company")
_cities = attrgetter("city")
_dest_cities = attrgetter("dest_city")


# Personal data in a text of id characters only (`_ID_TEXT`: no '@', '+', space or
# parenthesis) can only be a digit run that starts after a non-alphanumeric character (or
# at the start) and holds 11+ digits, with '-', '.' or '_' between them (the id screen's
# runs and written numbers are such runs). No match here means `ids_have_personal_data`
# would flag nothing; it is much cheaper than that screen.
_CANDIDATE_RUN = re.compile(r"[^A-Za-z0-9][0-9](?:[._\-]*[0-9]){10}")
_CANDIDATE_RUN_AT_START = re.compile(r"[0-9](?:[._\-]*[0-9]){10}")


def may_carry_personal_data(id_text: str) -> bool:
    """False only when `ids_have_personal_data(id_text)` is False, for a text of id
    characters, '|' and newlines (the fast path's joined ids)."""
    return bool(_CANDIDATE_RUN.search(id_text) or _CANDIDATE_RUN_AT_START.match(id_text))


def _events_pass_screens(events: list[ScanEvent]) -> bool:
    """Every event's ids and codes match their patterns and none carries personal data, in a
    few C-level passes over the whole message: the joined ids hold only id characters and
    exactly the separators we put in (so no id holds a '|' or a newline), and the few
    distinct company and city codes match theirs (cached). Lines are joined by "\n|": '|' is
    not a digit separator, so no two ids can merge into one number across lines."""
    text = "\n|".join(map(_free_text, events))
    n = len(events)
    if (_ID_TEXT.fullmatch(text) is None or text.count("|") != 5 * n - 1
            or text.count("\n") != n - 1
            or not all(map(_company_ok, set(map(_companies, events))))
            or not all(map(_city_ok, set(map(_cities, events)) | set(map(_dest_cities, events))))):
        return False
    return not may_carry_personal_data(text) or not ids_have_personal_data(text)


_decoder = msgspec.json.Decoder(ScanEvent)
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_raw_one = msgspec.json.Decoder(msgspec.Raw)
_DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)  # deep nesting
_encode = msgspec.json.Encoder().encode
# A key token is a string followed by ':'. In an event that passes the fast path no string
# value holds a '"' (ids match their patterns, the rest are enums and times), so these two
# count exactly the key tokens of such a message.
_KEY_END = b'":'
_SPACED_KEY_END = re.compile(rb'"\s+:')


class DuplicateKey(ValueError):
    """A JSON object names one key twice: parsers disagree on which value counts."""


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        dup = next(k for i, k in enumerate(keys) if k in keys[:i])
        raise DuplicateKey(f"key {dup!r} appears more than once in one JSON object")
    return out


def duplicate_key(raw: bytes) -> str | None:
    """The detail naming a key that one of `raw`'s JSON objects repeats, or None (also for
    text that is not JSON: other checks reject that). The contract keeps the last value of a
    repeated key and ClickHouse's parser the first, so such an event is refused outright."""
    try:
        json.loads(raw, object_pairs_hook=_no_duplicate_keys)
    except DuplicateKey as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None
    return None


def _forbidden(event_type: str) -> tuple[str, ...]:
    required, allowed = _TYPE_FIELDS.get(event_type, (frozenset(), frozenset()))
    return tuple(sorted(_SPECIFIC - required - allowed))


_EVENT_TYPES: tuple[str, ...] = get_args(EventType)
_REQUIRED = {t: tuple(sorted(_TYPE_FIELDS.get(t, (frozenset(),))[0])) for t in _EVENT_TYPES}
_FORBIDDEN = {t: _forbidden(t) for t in _EVENT_TYPES}


def _values_of(names: tuple[str, ...]) -> Callable[[ScanEvent], tuple[object, ...]]:
    """A getter of the fields `names` of an event, as a tuple (attrgetter: one C call)."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda ev: (one(ev),)
    return lambda ev: ()


_REQUIRED_VALUES = {t: _values_of(_REQUIRED[t]) for t in _EVENT_TYPES}
_FORBIDDEN_VALUES = {t: _values_of(_FORBIDDEN[t]) for t in _EVENT_TYPES}


def _check_rules(ev: ScanEvent, max_ts: datetime) -> tuple[str, str] | None:
    """Return (reason, detail) when `ev` breaks a rule that types cannot express.

    `max_ts` is the processing clock plus the allowed clock skew (`Limits.max_future_s`).
    """
    if ev.ts > max_ts:
        return "future_ts", f"ts {ev.ts.isoformat()} is later than {max_ts.isoformat()}"
    if ev.ts < _MIN_TS:
        return "past_ts", f"ts {ev.ts.isoformat()} is before 2000"
    for name in _REQUIRED[ev.type]:
        if getattr(ev, name) is None:
            return "type_fields", f"{ev.type} requires field {name!r}"
    for name in _FORBIDDEN[ev.type]:
        if getattr(ev, name) is not None:
            return "type_fields", f"field {name!r} is not allowed on {ev.type}"
    if ev.type == "COMPLAINT":
        resolved = ev.stage == "RESOLVED"
        if resolved and (ev.valid is None or ev.satisfied is None):
            return "type_fields", "COMPLAINT RESOLVED requires 'valid' and 'satisfied'"
        if not resolved and (ev.valid is not None or ev.satisfied is not None):
            return "type_fields", "'valid'/'satisfied' are only allowed on COMPLAINT RESOLVED"
    return None


def _passes_type_rules(ev: ScanEvent) -> bool:
    """`_check_rules` without the time bounds and without building a reason: the fast path's
    test, about three times quicker per event than the loops above."""
    if ev.type == "COMPLAINT":
        return _check_rules(ev, _MAX_DATETIME) is None
    forbidden = _FORBIDDEN_VALUES[ev.type](ev)
    return None not in _REQUIRED_VALUES[ev.type](ev) and forbidden.count(None) == len(forbidden)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def epoch_ms(t: datetime) -> int:
    """Milliseconds since the epoch of an aware time (sub-millisecond digits dropped: the
    floor, as DateTime64(3) stores it). Integer arithmetic: `int(t.timestamp() * 1000)`
    went through a float and gave one millisecond less for about 1 in 170 times with
    milliseconds (…25.472 -> …25471), and it is slower."""
    return (t - _EPOCH) // _ONE_MS


_MAX_DATETIME = datetime.max.replace(tzinfo=UTC)
_ts_of = attrgetter("ts")


def split_events(payload: bytes) -> list[bytes] | None:
    """The per-event JSON texts of a message, as the decoder splits it (None: one line that
    is not JSON at all). For the ingest step's quarantine (streams.decode)."""
    parts = _split(payload)
    return None if parts is None else [bytes(p) for p in parts]


def decode_event(raw: bytes, index: int, now: datetime,
                 limits: Limits = DEFAULT_LIMITS) -> Decoded:
    """Decode the event at `index` of a message (a text of `split_events`) on the exact
    path: one event, or one rejection at that index."""
    one = _decode_one(raw, index, now + timedelta(seconds=limits.max_future_s), limits)
    if isinstance(one, Rejection):
        return Decoded([], [], [], [one])
    return Decoded([one], [_encode(one)], [epoch_ms(one.ts)], [])


def _split(payload: bytes) -> list[bytes] | list[msgspec.Raw] | None:
    """Per-event JSON texts of a message; None when it is neither JSON nor JSON lines.

    A JSON array gives its elements; a single object (pretty-printed or not) gives itself;
    anything else with newlines is JSON lines (one text per non-blank line), even when its
    first line starts with '[' (one bad line, or a line holding an array, is then one
    rejection and never costs the lines around it). None: one line that is not JSON at all.
    An array's elements are msgspec.Raw views of the payload, not copies: the fast path
    decodes them as they are; the exact path copies the few it takes apart.
    """
    text = payload.strip()
    if not text:
        return []
    try:
        if text.startswith(b"["):
            return _raw_list.decode(text)
        if b"\n" not in text:
            return [text]
        _raw_one.decode(text)
        return [text]  # one pretty-printed object
    except _DECODE_ERRORS:
        if b"\n" not in text:
            return None
    return [line.strip() for line in text.split(b"\n") if line.strip()]


def _decode_lenient(raw: bytes) -> ScanEvent | Rejection:
    """Decode one event whose fields may go beyond the contract: screen the extra fields for
    personal data, drop them, decode the rest strictly."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection("not_json", str(exc), raw)
    if not isinstance(obj, dict):
        return Rejection("schema", f"an event is a JSON object, not {type(obj).__name__}", raw)
    extras = {k: v for k, v in obj.items() if k not in _CONTRACT_FIELDS}
    if _obj_has_personal_data(extras):
        return Rejection("pii", _PII_DETAIL, raw)
    try:
        return _decoder.decode(orjson.dumps({k: v for k, v in obj.items()
                                             if k in _CONTRACT_FIELDS}))
    except msgspec.ValidationError as exc:
        return Rejection("schema", str(exc), raw)


_PII_DETAIL = ("event carries what looks like personal data (a phone, ID-card or e-mail value, "
               "or a field named for a name, phone or address)")


def _decode_one(raw: bytes, index: int, max_ts: datetime, limits: Limits) -> ScanEvent | Rejection:
    if len(raw) > limits.max_event_bytes:
        return Rejection("oversized", f"event of {len(raw)} bytes > {limits.max_event_bytes}",
                         raw, index)
    depth = nesting_depth(raw)
    if depth > MAX_EVENT_DEPTH:
        return _too_deep(raw, index, depth)
    dup = duplicate_key(raw)
    if dup is not None:
        return Rejection("duplicate_key", dup, raw, index)
    try:
        out: ScanEvent | Rejection = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        if "unknown field" in str(exc):
            out = _decode_lenient(raw)
        else:  # a type error may be reported before a syntax error further on: tell apart
            try:
                _raw_one.decode(raw)
                out = Rejection("schema", str(exc), raw)
            except _DECODE_ERRORS as syntax:
                out = Rejection("not_json", str(syntax), raw)
    except _DECODE_ERRORS as exc:
        out = Rejection("not_json", str(exc), raw)
    if isinstance(out, Rejection):
        return Rejection(out.reason, out.detail, raw, index)
    violation = _pattern_violation(out)
    if violation:
        return Rejection("schema", violation, raw, index)
    if ids_have_personal_data(_free_text(out)):
        return Rejection("pii", _PII_DETAIL, raw, index)
    broken = _check_rules(out, max_ts)
    if broken:
        return Rejection(broken[0], broken[1], raw, index)
    return out


def _too_deep(raw: bytes, index: int, depth: int) -> Rejection:
    """The rejection of an event nested deeper than the contract: `too_deep`, unless it is
    shallow enough to parse safely (`MAX_SCREENED_DEPTH`) and is not JSON at all
    (`not_json`) or carries personal data (`pii`, the more telling reason)."""
    if depth <= MAX_SCREENED_DEPTH:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return Rejection("not_json", str(exc), raw, index)
        if _obj_has_personal_data(obj):
            return Rejection("pii", _PII_DETAIL, raw, index)
    return Rejection("too_deep", f"event nested {depth} levels deep > {MAX_EVENT_DEPTH}",
                     raw, index)


class Decoded(NamedTuple):
    """One message's valid events, each with its JSON text and event time (`ts_ms[i]`, epoch
    milliseconds), and its rejections.

    `raws[i]` is the canonical encoding of the validated `events[i]` (msgspec's encoding of
    the record: contract fields only, each once, no nulls), not the bytes as received: the
    text that ClickHouse parses into the archive is, by construction, the validated event.
    """

    events: list[ScanEvent]
    raws: list[bytes]
    ts_ms: list[int]
    rejections: list[Rejection]


def decode_message(payload: bytes, now: datetime,
                   limits: Limits = DEFAULT_LIMITS) -> tuple[list[ScanEvent], list[Rejection]]:
    """Decode one Kafka message value into valid events and rejections (`decode_events`
    without the events' texts)."""
    events, _, _, rejections = decode_events(payload, now, limits)
    return events, rejections


def decode_events(payload: bytes, now: datetime, limits: Limits = DEFAULT_LIMITS) -> Decoded:
    """Decode one Kafka message value into valid events, their texts, and rejections.

    Pure and total: it never raises for bad input, and every event of the message ends up
    either among the events or as a Rejection (a message that cannot be split at all, or
    is blank, is one Rejection with index -1). `now` is the processing clock (aware), used
    only for the future-timestamp bound. An empty JSON array is an empty, valid batch.
    """
    max_ts = now + timedelta(seconds=limits.max_future_s)
    if len(payload) > limits.max_message_bytes:
        return Decoded([], [], [], [Rejection("oversized",
                                          f"message of {len(payload)} bytes > "
                                          f"{limits.max_message_bytes}", payload)])
    parts = _split(payload)
    if parts is None:
        depth = nesting_depth(payload)
        if depth > MAX_EVENT_DEPTH + 1:  # + 1: the array of a message of several events
            return Decoded([], [], [], [Rejection(
                "too_deep", f"message nested {depth} levels deep > {MAX_EVENT_DEPTH + 1}",
                payload)])
        return Decoded([], [], [], [Rejection(
            "not_json", "message is neither JSON, a JSON array nor JSON lines", payload)])
    if not parts:
        if payload.strip():
            return Decoded([], [], [], [])  # `[]`: a valid, empty batch
        return Decoded([], [], [], [Rejection("not_json", "empty message", payload)])
    # Fast path: every event within the contract's fields and rules, decoded in C.
    try:
        if max(map(len, parts)) <= limits.max_event_bytes:
            events = [_decoder.decode(p) for p in parts]
            times = list(map(_ts_of, events))
            if (min(times) >= _MIN_TS and max(times) <= max_ts
                    and _events_pass_screens(events) and all(map(_passes_type_rules, events))):
                canonical = list(map(_encode, events))
                # As many key tokens as the validated records have fields: no key repeated
                # and no explicit null (either sends the message down the exact path).
                if (payload.count(_KEY_END) == sum(map(bytes.count, canonical,
                                                       repeat(_KEY_END, len(canonical))))
                        and _SPACED_KEY_END.search(payload) is None):
                    return Decoded(events, canonical, list(map(epoch_ms, times)), [])
                return _decode_each(parts, max_ts, limits, events, canonical)
    except (msgspec.ValidationError, *_DECODE_ERRORS):
        pass
    return _decode_each(parts, max_ts, limits)


def _pass_checks(events: list[ScanEvent], max_ts: datetime) -> bool:
    """The fast path's checks of decoded events, a whole group at once: time bounds,
    patterns and personal data (`_events_pass_screens`), type rules."""
    times = list(map(_ts_of, events))
    return (min(times) >= _MIN_TS and max(times) <= max_ts and _events_pass_screens(events)
            and all(map(_passes_type_rules, events)))


def _decode_or_none(raw: bytes, limits: Limits) -> ScanEvent | None:
    if len(raw) > limits.max_event_bytes:
        return None
    try:
        return _decoder.decode(raw)
    except (msgspec.ValidationError, *_DECODE_ERRORS):
        return None


def _failing_checks(events: Sequence[ScanEvent | None], max_ts: datetime) -> set[int]:
    """Positions of the decoded events that fail the fast path's checks on their own (and
    of the undecoded ones), found by halving: a group that passes clears all its events at
    once, so a few bad events cost a few group checks, not one check per event."""
    failing = {i for i, ev in enumerate(events) if ev is None}
    ranges = [[i for i, ev in enumerate(events) if ev is not None]]
    while ranges:
        group = ranges.pop()
        if not group or _pass_checks([events[i] for i in group], max_ts):  # type: ignore[misc]
            continue
        if len(group) == 1:
            failing.add(group[0])
        else:
            ranges += [group[:len(group) // 2], group[len(group) // 2:]]
    return failing


def _decode_each(raw_parts: Sequence[bytes] | Sequence[msgspec.Raw], max_ts: datetime,
                 limits: Limits, decoded: Sequence[ScanEvent | None] | None = None,
                 canonical: list[bytes] | None = None) -> Decoded:
    """A message the fast path could not take whole: the fast path's decoding and checks
    still clear every event that allows them (decoded one by one, checked by halving, key
    tokens counted per event), and only an event that fails them goes down the exact path
    (`_decode_one`). So one explicit null, unknown field or bad event costs its own event
    the exact path, not the whole message (docs/reliability.md, "Hostile traffic costs
    little"). `decoded` and `canonical`: the fast path's, when all of it decoded and passed
    its checks. The parts are copied out of the message here, on this path only."""
    parts = [bytes(p) for p in raw_parts]
    if decoded is None:
        decoded = [_decode_or_none(raw, limits) for raw in parts]
        failing = _failing_checks(decoded, max_ts)
    else:
        failing = set()
    spaced = _SPACED_KEY_END.search(b"\n".join(parts)) is not None
    out = Decoded([], [], [], [])
    for i, (raw, ev) in enumerate(zip(parts, decoded, strict=True)):
        if ev is not None and i not in failing:
            text = canonical[i] if canonical is not None else _encode(ev)
            if raw.count(_KEY_END) == text.count(_KEY_END) and (
                    not spaced or _SPACED_KEY_END.search(raw) is None):
                out.events.append(ev)
                out.raws.append(text)
                out.ts_ms.append(epoch_ms(ev.ts))
                continue
        one = _decode_one(raw, i, max_ts, limits)
        if isinstance(one, Rejection):
            out.rejections.append(one)
        else:
            out.events.append(one)
            out.raws.append(_encode(one))
            out.ts_ms.append(epoch_ms(one.ts))
    return out
