"""Compact pending events ("rows") of the synthetic stream, and their scan.v1 dicts.

A stream holds every pending event of every parcel in flight, so a pending event is a flat
tuple of shared strings and ints, cheap to keep, sort and collect, and becomes a dict only
when emitted:

    (key_ms, ts_ms, type, parcel_id, company, city, site_id, extra)

`key_ms` is when it is emitted (ts plus any delay), `ts_ms` its event time (epoch ms).
`extra` by type: ACCEPTED the whole event dict (made at acceptance, `event_id` blank);
DELIVERED the mode; EXCEPTION the kind; COMPLAINT (complaint_id, stage, valid, satisfied,
channel) with valid/satisfied None before RESOLVED and channel None for an appeal (the
field is then left out); other types None.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from courierwatch.contract import SCHEMA
from courierwatch.periods import CST_OFFSET_MS

Event = dict[str, Any]
Row = tuple[int, int, str, str, str, str, str | None, Any]

ACCEPTED, DELIVERED, EXCEPTION, COMPLAINT = "ACCEPTED", "DELIVERED", "EXCEPTION", "COMPLAINT"
_MINUTE_MS = 60_000
_minute_prefix: dict[int, str] = {}
_sec_ms: list[str] = []


def format_ts(ms: int) -> str:
    """`2026-11-02T08:15:30.120+08:00` for epoch milliseconds `ms` (China Standard Time).

    One dict lookup and one concatenation: "...T08:15:" per minute (cached) + "30.120+08:00"
    (a table of all 60 000 ms of a minute, built on first use).
    """
    minute, rem = divmod(ms, _MINUTE_MS)
    prefix = _minute_prefix.get(minute)
    if prefix is None:
        if not _sec_ms:
            _sec_ms.extend(f"{s:02d}.{m:03d}+08:00" for s in range(60) for m in range(1000))
        if len(_minute_prefix) > 200_000:
            _minute_prefix.clear()
        local = datetime.fromtimestamp((minute * _MINUTE_MS + CST_OFFSET_MS) / 1000, UTC)
        prefix = _minute_prefix[minute] = local.strftime("%Y-%m-%dT%H:%M:")
    return prefix + _sec_ms[rem]


def to_event(row: Row, event_id: str) -> Event:
    """The scan.v1 dict of `row`, with `event_id`. An ACCEPTED row's dict is reused."""
    _, ts, kind, pid, company, city, site, extra = row
    if kind is ACCEPTED:
        extra["event_id"] = event_id
        return extra  # type: ignore[no-any-return]
    ev = {"schema": SCHEMA, "event_id": event_id, "parcel_id": pid, "company": company,
          "type": kind, "ts": format_ts(ts), "city": city}
    if site is not None:
        ev["site_id"] = site
    if kind is DELIVERED:
        ev["mode"] = extra
    elif kind is EXCEPTION:
        ev["kind"] = extra
    elif kind is COMPLAINT:
        ev["complaint_id"], ev["stage"], valid, satisfied, channel = extra
        if channel is not None:
            ev["channel"] = channel
        if valid is not None:
            ev["valid"], ev["satisfied"] = valid, satisfied
    return ev
