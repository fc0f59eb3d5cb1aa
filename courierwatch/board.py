"""The breach board: figures summed over a window and judged again, per city x company x KPI.
Pure (report rows in, judged rows out).

A window's figure is the sum of its periods' numerators and denominators (periods partition
the events, so the sum is the window's own count; a mean like tape per parcel sums its total
and its parcels). It is judged by the one rule of courierwatch.judgement (every applicable
target, the minimum sample) with the targets in force on the window's last day. The same
summing gives a chart's coarser points when an hour is too small to judge (`coarsen`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from courierwatch.catalog import Catalog
from courierwatch.figures import Figure
from courierwatch.judgement import ReportRow, judge
from courierwatch.periods import CST_OFFSET_MS, HOUR_MS

Row = Mapping[str, Any]  # a ReportRow.to_json() dict (GET /api/kpi's rows)
WINDOW_HOURS = (1, 3, 6, 12, 24)  # a chart's periods, smallest first (CST-aligned)


def _text(iso: str) -> str:
    """'2026-11-02T08:00:00+08:00' -> '2026-11-02 08:00:00' (the store's period text)."""
    return iso[:19].replace("T", " ")


def window_figures(rows: Iterable[Row], catalog: Catalog, min_sample: int) -> list[ReportRow]:
    """One judged row per city x company x KPI: the sums over all the rows' periods.

    Its `period_start` is the last period seen (the targets in force then judge it)."""
    sums: dict[tuple[str, str, str], list[Any]] = {}
    for r in rows:
        key = (r["city"], r["company"], r["kpi"])
        s = sums.get(key)
        if s is None:
            sums[key] = [r["numerator"], r["denominator"], r["period_start"]]
        else:
            s[0] += r["numerator"]
            s[1] += r["denominator"]
            s[2] = max(s[2], r["period_start"])
    figures = [Figure(city, company, _text(last), kpi, num, den)
               for (city, company, kpi), (num, den, last) in sorted(sums.items())]
    return judge(catalog, figures, min_sample)


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def coarsen(points: Sequence[Row], hours: int) -> list[tuple[int, list[Row]]]:
    """Hourly rows of one series grouped into CST-aligned windows of `hours` (start ms)."""
    groups: dict[int, list[Row]] = {}
    span = hours * HOUR_MS
    for p in points:
        t = _epoch_ms(p["period_start"])
        start = (t + CST_OFFSET_MS) // span * span - CST_OFFSET_MS
        groups.setdefault(start, []).append(p)
    return sorted(groups.items(), key=lambda kv: kv[0])


def smallest_judgeable_window(points: Sequence[Row], min_sample: int) -> int:
    """The fewest hours (of WINDOW_HOURS) at which most of a series' denominator (at least
    half its events) lies in windows that reach `min_sample`, i.e. most of what it counts
    can be judged; the day when none does. A count (volume) is drawn per hour. A busy
    all-companies series stays hourly through a quiet night; one company's series of a few
    parcels an hour goes to 3, 6 or 12 h windows instead of vanishing."""
    if not points or points[0]["unit"] == "count":
        return 1
    total = sum(p["denominator"] for p in points)
    if total <= 0:
        return 1
    for hours in WINDOW_HOURS:
        dens = [sum(p["denominator"] for p in group) for _, group in coarsen(points, hours)]
        if sum(d for d in dens if d >= min_sample) * 2 >= total:
            return hours
    return WINDOW_HOURS[-1]
