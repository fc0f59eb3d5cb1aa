"""Event times to epoch milliseconds, exactly (courierwatch.contract.epoch_ms)."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from courierwatch.contract import epoch_ms

CST = timezone(timedelta(hours=8))


def test_a_time_whose_float_seconds_fall_short_keeps_its_millisecond() -> None:
    """1097684485.472 has no exact float: through `timestamp() * 1000` it read ...471."""
    t = datetime(2004, 10, 14, 0, 21, 25, 472000, tzinfo=CST)
    assert epoch_ms(t) == 1097684485472


@given(st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2100, 1, 1)),
       st.integers(-14 * 60, 14 * 60))
def test_epoch_ms_is_the_floor_of_the_exact_time(naive: datetime, offset_min: int) -> None:
    """Any time, any offset: the count of whole milliseconds since 1970-01-01T00:00Z (the
    floor, as DateTime64(3) keeps it), computed here from the calendar in integers."""
    zone = timezone(timedelta(minutes=offset_min))
    t = naive.replace(tzinfo=zone)
    utc = naive - timedelta(minutes=offset_min)
    expect = calendar.timegm(utc.timetuple()) * 1000 + utc.microsecond // 1000
    assert epoch_ms(t) == expect
