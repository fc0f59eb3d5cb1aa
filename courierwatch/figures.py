"""From per-cell counts to KPI figures, roll-ups and judgements. Pure.

Input is what the store counted per (city, company, period_start): the distinct-event
counts of `courierwatch.kpi.CELL_COUNT_NAMES`, and what the DELIVERED x ACCEPTED join
counted per cell (`JoinedCell`). Output is one `Figure` per cell x KPI, numerator and
denominator kept, so that the all-companies rows (`company = "*"`) and the YRD rows
(`city = "YRD"`) are sums of numerators and denominators, never averages of ratios.

The join's figures count a parcel at both ends of its route (courierwatch.routes.cells_of):
their YRD rows come from the store with each parcel once, never as a sum of the YRD
cities' cells (which would count a Hangzhou -> Taizhou parcel twice).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from courierwatch.cities import YRD_REGION, is_yrd
from courierwatch.kpi import (
    COUNT_KPIS,
    KPI_BY_NAME,
    ROUTE_UNCLASSIFIED_KPI,
    Unit,
    counted_at_both_ends,
    unit_of,
)

Key = tuple[str, str, str]  # city, company, period_start


@dataclass(frozen=True, slots=True)
class ClassCount:
    """Joined parcels of one cell in one route class, and those within its hours."""

    route_class: str
    joined: int
    on_time: int


@dataclass(frozen=True, slots=True)
class JoinedCell:
    """What the DELIVERED x ACCEPTED join counts in one cell (each parcel once per cell).

    `parcels`: joined deliveries; `unclassified`: those in no route class here; `judged` /
    `judged_on_time`: those in at least one judged class here, and those within the hours of
    every judged class they are in (the tightest); `promised` / `kept`: those whose parcel
    has a `promised_by`, and those delivered no later; `classes`: per route class (a parcel
    may be in several: the limits are nested).
    """

    parcels: int
    unclassified: int
    judged: int
    judged_on_time: int
    promised: int
    kept: int
    classes: tuple[ClassCount, ...] = ()


@dataclass(frozen=True, slots=True)
class Figure:
    city: str
    company: str
    period_start: str
    kpi: str                      # a KPI name, or on_time_rate.<route class>
    numerator: float
    denominator: float

    @property
    def base_kpi(self) -> str:
        return self.kpi.split(".", 1)[0]

    @property
    def route_class(self) -> str | None:
        return self.kpi.split(".", 1)[1] if "." in self.kpi else None

    @property
    def unit(self) -> Unit:
        return unit_of(self.kpi)

    @property
    def value(self) -> float | None:
        if self.kpi == ROUTE_UNCLASSIFIED_KPI:
            return self.numerator / self.denominator if self.denominator else None
        return KPI_BY_NAME[self.base_kpi].value(self.numerator, self.denominator)


def cell_figures(counts: Mapping[Key, Mapping[str, int]],
                 joined: Mapping[Key, JoinedCell]) -> list[Figure]:
    """One Figure per cell and KPI. A KPI whose denominator is 0 in a cell is still listed
    (value None) when its cell has any data, so that absence is visible, not hidden."""
    figures: list[Figure] = []
    for (city, company, period), c in counts.items():
        for k in COUNT_KPIS:
            figures.append(Figure(city, company, period, k.name, c.get(k.numerator, 0),
                                  c.get(k.denominator, 0) if k.denominator else 0))
    for (city, company, period), j in joined.items():
        for cc in j.classes:
            figures.append(Figure(city, company, period, f"on_time_rate.{cc.route_class}",
                                  cc.on_time, cc.joined))
        # The overall rate: each parcel once, on time when within every judged limit it is
        # held to here; intra_city and unclassified parcels are outside it.
        figures.append(Figure(city, company, period, "on_time_rate", j.judged_on_time,
                              j.judged))
        figures.append(Figure(city, company, period, "promise_kept_rate", j.kept, j.promised))
        figures.append(Figure(city, company, period, ROUTE_UNCLASSIFIED_KPI, j.unclassified,
                              j.parcels))
    return figures


def roll_up(figures: Iterable[Figure]) -> list[Figure]:
    """Add all-companies rows (company '*') and YRD rows (city 'YRD', each company and '*').

    Sums numerators and denominators of the member cells (docs/DESIGN.md: a region sums its
    cities). The join's figures (counted at both ends) are not summed into the YRD: their
    YRD rows come from the store, each parcel once; their company '*' rows are sums. The
    input rows are returned first, unchanged.
    """
    base = list(figures)
    sums: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for f in base:
        targets = [(f.city, "*")]
        if is_yrd(f.city) and not counted_at_both_ends(f.kpi):
            targets += [(YRD_REGION, f.company), (YRD_REGION, "*")]
        for city, company in targets:
            s = sums[(city, company, f.period_start, f.kpi)]
            s[0] += f.numerator
            s[1] += f.denominator
    rolled = [Figure(c, co, p, k, n, d) for (c, co, p, k), (n, d) in sums.items()]
    return base + rolled
