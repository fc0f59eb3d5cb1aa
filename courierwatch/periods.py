"""Periods of China Standard Time: the one place for the zone, the offset and their arithmetic.

docs/DESIGN.md: "Periods are hours and days of China Standard Time (UTC+8) of the event's ts".
China has kept UTC+8 without daylight saving since 1991, so the fixed offset (`CST`, for
Python) and the zone name (`CST_ZONE`, for ClickHouse's `toStartOfHour(ts, zone)`) agree
for every event the contract accepts (ts >= 2000).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CST_ZONE = "Asia/Shanghai"
CST = timezone(timedelta(hours=8), "CST")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
CST_OFFSET_MS = 8 * HOUR_MS


def day_of(ts_ms: int) -> int:
    """Start (epoch ms) of the CST day containing `ts_ms`."""
    return (ts_ms + CST_OFFSET_MS) // DAY_MS * DAY_MS - CST_OFFSET_MS


def period_start_text(start_ms: int) -> str:
    """'YYYY-MM-DD HH:MM:SS' in CST, the store's spelling of a period start."""
    return datetime.fromtimestamp(start_ms / 1000, CST).strftime("%Y-%m-%d %H:%M:%S")


def period_start_epoch_s(text: str) -> int:
    """Inverse of `period_start_text`, in epoch seconds."""
    return int(datetime.fromisoformat(text).replace(tzinfo=CST).timestamp())


def iso_period_start(text: str) -> str:
    """'2026-11-02 08:00:00' -> '2026-11-02T08:00:00+08:00' (the rows' `period_start`)."""
    return f"{text.replace(' ', 'T')}+08:00"


def as_cst(t: datetime) -> datetime:
    """An aware time as given; a naive one read as China Standard Time."""
    return t if t.tzinfo else t.replace(tzinfo=CST)
