"""From per-cell counts to KPI figures, roll-ups and judgements. Pure.

Input is what the store counted per (city, company, period_start): the distinct-event
counts of `courierwatch.kpi.CELL_COUNT_NAMES`, and per route class the joined deliveries.
Output is one `Figure` per cell x KPI, numerator and denominator kept, so that
the all-companies rows (`company = "*"`) and the YRD rows (`city = "YRD"`) are sums of
numerators and denominators, never averages of ratios.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from courierwatch.cities import YRD_REGION, is_yrd
from courierwatch.kpi import COUNT_KPIS, KPI_BY_NAME, ROUTE_UNCLASSIFIED_KPI, Unit, unit_of
from courierwatch.routes import NOT_JUDGED, UNCLASSIFIED

Key = tuple[str, str, str]  # city, company, period_start

class JoinedCounts(Protocol):
    @property
    def route_class(self) -> str: ...
    @property
    def joined(self) -> int: ...
    @property
    def on_time(self) -> int: ...
    @property
    def promised(self) -> int: ...
    @property
    def kept(self) -> int: ...


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
                 joined: Mapping[Key, Iterable[JoinedCounts]]) -> list[Figure]:
    """One Figure per cell and KPI. A KPI whose denominator is 0 in a cell is still listed
    (value None) when its cell has any data, so that absence is visible, not hidden."""
    figures: list[Figure] = []
    for (city, company, period), c in counts.items():
        for k in COUNT_KPIS:
            figures.append(Figure(city, company, period, k.name, c.get(k.numerator, 0),
                                  c.get(k.denominator, 0) if k.denominator else 0))
    for (city, company, period), per_class in joined.items():
        on_num = on_den = prom_num = prom_den = unclassified = total = 0
        for j in per_class:
            total += j.joined
            prom_num += j.kept
            prom_den += j.promised
            if j.route_class == UNCLASSIFIED:
                unclassified += j.joined
                continue
            figures.append(Figure(city, company, period, f"on_time_rate.{j.route_class}",
                                  j.on_time, j.joined))
            if j.route_class not in NOT_JUDGED:  # intra_city: reported, not in the total
                on_num += j.on_time
                on_den += j.joined
        figures.append(Figure(city, company, period, "on_time_rate", on_num, on_den))
        figures.append(Figure(city, company, period, "promise_kept_rate", prom_num, prom_den))
        figures.append(Figure(city, company, period, ROUTE_UNCLASSIFIED_KPI, unclassified,
                              total))
    return figures


def roll_up(figures: Iterable[Figure]) -> list[Figure]:
    """Add all-companies rows (company '*') and YRD rows (city 'YRD', each company and '*').

    Sums numerators and denominators of the member cells (docs/DESIGN.md: a region sums its
    cities). The input rows are returned first, unchanged.
    """
    base = list(figures)
    sums: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for f in base:
        targets = [(f.city, "*")]
        if is_yrd(f.city):
            targets += [(YRD_REGION, f.company), (YRD_REGION, "*")]
        for city, company in targets:
            s = sums[(city, company, f.period_start, f.kpi)]
            s[0] += f.numerator
            s[1] += f.denominator
    rolled = [Figure(c, co, p, k, n, d) for (c, co, p, k), (n, d) in sums.items()]
    return base + rolled
