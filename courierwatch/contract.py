"""The scan.v1 event contract: typed records, strict validation, typed rejections.

A Kafka message carries one event, a JSON array of events, or JSON lines. `decode_message`
turns its bytes into valid `ScanEvent`s plus one `Rejection` per bad event (or one for the
whole message when it cannot be split), so a single bad event never costs its neighbours.
The fast path decodes a whole array with msgspec in C; only a message that fails it is
taken apart event by event.

Rules beyond the field types (DESIGN.md, "Canonical scan event"):
- `ts` and `promised_by` are RFC 3339 *with* an offset; `ts` may not be more than
  `Limits.max_future_s` ahead of the processing clock, nor before 2000.
- type-specific fields are required on their type and refused on any other type;
- no personal data: a phone number, an ID-card number, an e-mail address or a key that
  names one (`phone`, `address`, `name`, ...) anywhere in the event rejects it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import msgspec

SCHEMA = "scan.v1"

EventType = Literal[
    "ACCEPTED", "ARRIVED", "DEPARTED", "OUT_FOR_DELIVERY", "DELIVERED", "EXCEPTION", "COMPLAINT"
]
DeliveryMode = Literal["DOOR", "LOCKER", "STATION", "SELF_PICKUP"]
ExceptionKind = Literal["DELAY", "DAMAGE", "LOSS", "RETURN"]
ComplaintStage = Literal["FILED", "ACCEPTED", "RESOLVED"]

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")]
CityCode = Annotated[str, msgspec.Meta(pattern=r"^[1-9][0-9]{5}$")]
CompanyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9_]{0,15}$")]
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


class ScanEvent(msgspec.Struct, frozen=True, omit_defaults=True):
    """One scan. Unknown extra fields are tolerated (the contract may grow) but not stored."""

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
    valid: bool | None = None
    satisfied: bool | None = None


class _StrictScanEvent(ScanEvent, frozen=True, forbid_unknown_fields=True):
    """ScanEvent with no unknown fields: the only shape the fast path accepts."""


# Which optional fields each type requires (R) and merely allows (A); any other
# type-specific field present on an event is an error.
_TYPE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ACCEPTED": (frozenset({"dest_city", "ecommerce", "packaging", "security"}),
                 frozenset({"promised_by"})),
    "DELIVERED": (frozenset({"mode"}), frozenset()),
    "EXCEPTION": (frozenset({"kind"}), frozenset()),
    "COMPLAINT": (frozenset({"complaint_id", "stage"}), frozenset({"valid", "satisfied"})),
}
_SPECIFIC = frozenset({
    "dest_city", "ecommerce", "promised_by", "packaging", "security", "mode", "kind",
    "complaint_id", "stage", "valid", "satisfied",
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

    reason: str  # stable code: not_json, schema, type_fields, future_ts, pii, oversized, ...
    detail: str
    raw: bytes
    index: int = -1


_MIN_TS = datetime(2000, 1, 1, tzinfo=UTC)

# Personal data. The screens run on whole messages first: cheap substring tests in C decide
# whether the (slow) regular expressions need to run at all.
_DIGIT_RUN = re.compile(rb"[0-9]{11,}[Xx]?")
_PHONE = re.compile(rb"1[3-9][0-9]{9}")                                 # mainland mobile
_ID_CARD = re.compile(rb"[1-9][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])"
                      rb"(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx]")   # resident ID card
_EMAIL = re.compile(rb"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+\.[A-Za-z]{2,}")
_PII_KEY = re.compile(
    rb'"([a-z_]*(?:phone|mobile|tel|address|addr|name|id_?card|email|contact)[a-z_]*)"\s*:'
)
_PII_WORDS = (b"phone", b"mobile", b"tel", b"addr", b"card", b"email", b"contact")
_CONTRACT_KEYS = frozenset({b"real_name"})


_DIGIT_MAP = bytes.maketrans(b"0123456789", b"0000000000")


def _ids_carry_personal_data(payload: bytes, events: list[ScanEvent]) -> bool:
    """Personal-data screen for contract-shaped events: only id fields can carry it."""
    if b"@" not in payload and b"0" * 11 not in payload.translate(_DIGIT_MAP):
        return False  # no 11-digit run anywhere: no phone and no ID-card number
    ids = "\n".join(f"{e.event_id} {e.parcel_id} {e.site_id} {e.complaint_id}" for e in events)
    return has_personal_data(ids.encode())


def has_personal_data(raw: bytes) -> bool:
    """True when `raw` holds a phone/ID-card/e-mail value or a key naming personal data."""
    for run in _DIGIT_RUN.finditer(raw):
        start = run.start()
        if start and raw[start - 1:start].isalpha():
            continue  # part of a waybill or site code such as SF13812345678
        if _PHONE.fullmatch(run.group()) or _ID_CARD.fullmatch(run.group()):
            return True
    if b"@" in raw and _EMAIL.search(raw):
        return True
    low = raw.lower()
    if low.count(b"name") > low.count(b"real_name") or any(w in low for w in _PII_WORDS):
        return any(m.group(1) not in _CONTRACT_KEYS for m in _PII_KEY.finditer(low))
    return False


_decoder_many = msgspec.json.Decoder(list[_StrictScanEvent])
_decoder_strict_one = msgspec.json.Decoder(_StrictScanEvent)
_decoder_one = msgspec.json.Decoder(ScanEvent)


def _forbidden(event_type: str) -> tuple[str, ...]:
    required, allowed = _TYPE_FIELDS.get(event_type, (frozenset(), frozenset()))
    return tuple(sorted(_SPECIFIC - required - allowed))


_REQUIRED = {t: tuple(sorted(_TYPE_FIELDS.get(t, (frozenset(),))[0])) for t in EventType.__args__}
_FORBIDDEN = {t: _forbidden(t) for t in EventType.__args__}


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


def _split(payload: bytes) -> list[bytes] | None:
    """Split a message into per-event JSON texts; None if it is not an array or JSON lines."""
    text = payload.strip()
    if text.startswith(b"["):
        try:
            items = msgspec.json.decode(text, type=list[msgspec.Raw])
        except msgspec.DecodeError:
            return None
        return [bytes(i) for i in items]
    return [line for line in text.split(b"\n") if line.strip()]


def _decode_one(raw: bytes, index: int, max_ts: datetime, limits: Limits) -> ScanEvent | Rejection:
    if len(raw) > limits.max_event_bytes:
        return Rejection("oversized", f"event of {len(raw)} bytes > {limits.max_event_bytes}",
                         raw, index)
    try:
        ev = _decoder_one.decode(raw)
    except msgspec.ValidationError as exc:
        return Rejection("schema", str(exc), raw, index)
    except msgspec.DecodeError as exc:
        return Rejection("not_json", str(exc), raw, index)
    if has_personal_data(raw):
        return Rejection("pii", "event carries what looks like personal data "
                         "(phone, ID card, e-mail or a name/address field)", raw, index)
    broken = _check_rules(ev, max_ts)
    if broken:
        return Rejection(broken[0], broken[1], raw, index)
    return ev


def decode_message(payload: bytes, now: datetime,
                   limits: Limits = Limits()) -> tuple[list[ScanEvent], list[Rejection]]:
    """Decode one Kafka message value into valid events and rejections.

    Pure and total: it never raises for bad input. `now` is the processing clock (aware),
    used only for the future-timestamp bound.
    """
    max_ts = now + timedelta(seconds=limits.max_future_s)
    if len(payload) > limits.max_message_bytes:
        return [], [Rejection("oversized",
                              f"message of {len(payload)} bytes > {limits.max_message_bytes}",
                              payload[:4096])]
    # Fast path: an array (or one object) of events with no field outside the contract.
    # Then personal data can only hide in the free-form id fields, checked in one pass.
    try:
        stripped = payload.strip()
        if stripped.startswith(b"["):
            events: list[ScanEvent] = list(_decoder_many.decode(stripped))
        elif b"\n" in stripped:  # JSON lines: decoded as one array in C
            lines = [ln for ln in stripped.split(b"\n") if ln.strip()]
            events = list(_decoder_many.decode(b"[" + b",".join(lines) + b"]"))
            if len(events) != len(lines):
                raise msgspec.DecodeError("line count mismatch")
        else:
            events = [_decoder_strict_one.decode(stripped)]
    except (msgspec.ValidationError, msgspec.DecodeError):
        pass
    else:
        if (len(payload) <= limits.max_event_bytes * max(len(events), 1)
                and not _ids_carry_personal_data(payload, events)
                and not any(_check_rules(e, max_ts) for e in events)):
            return events, []
    parts = _split(payload)
    if parts is None:
        return [], [Rejection("not_json", "message is neither JSON, a JSON array nor JSON lines",
                              payload)]
    good: list[ScanEvent] = []
    rejected: list[Rejection] = []
    for i, raw in enumerate(parts):
        out = _decode_one(raw, i, max_ts, limits)
        (rejected if isinstance(out, Rejection) else good).append(out)  # type: ignore[arg-type]
    return good, rejected


