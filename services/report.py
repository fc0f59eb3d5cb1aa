"""The KPI report: figures from the store, judged against the policy catalog.

One row per city x company x period x KPI with numerator, denominator, value and every
applicable target (a YRD city answers to its own plan and to the YRD plan, each judged on
its own and attributed by policy id and source). A target scoped to some companies (the
major brands) is judged on those companies' cells only, never on the all-companies row.
Each judged target carries its `strength`; a row's `breach_strength` says whether any
binding target is breached (`binding`), only aspirational ones (`aspirational`), or none.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from courierwatch.catalog import ASPIRATIONAL, BINDING, Catalog, PolicyTarget
from courierwatch.cities import YRD_REGION, city_label
from courierwatch.figures import ROUTE_UNCLASSIFIED_KPI, Figure, cell_figures, roll_up
from courierwatch.kpi import KPI_BY_NAME
from courierwatch.routes import RouteTable
from warehouse.client import Warehouse
from warehouse.queries import CellFilter, cell_counts, on_time_counts

PASS, BREACH, NO_TARGET, NO_DATA = "pass", "breach", "no_target", "no_data"


@dataclass(frozen=True, slots=True)
class ReportRow:
    figure: Figure
    targets: tuple[tuple[PolicyTarget, str], ...]  # (target, pass|breach|no_data)

    @property
    def status(self) -> str:
        if not self.targets:
            return NO_TARGET
        states = {s for _, s in self.targets}
        return BREACH if BREACH in states else (PASS if PASS in states else NO_DATA)

    @property
    def breach_strength(self) -> str | None:
        """`binding` when a binding target is breached, `aspirational` when only 力争 / 基本
        targets are, None without a breach: an aspirational breach is shown, not paged."""
        breached = [t for t, s in self.targets if s == BREACH]
        if not breached:
            return None
        return ASPIRATIONAL if all(t.aspirational for t in breached) else BINDING

    def to_json(self) -> dict[str, Any]:
        f = self.figure
        unit = "ratio" if f.kpi == ROUTE_UNCLASSIFIED_KPI else KPI_BY_NAME[f.base_kpi].unit
        return {
            "city": f.city, "city_name": city_label(f.city), "company": f.company,
            "period_start": f"{f.period_start.replace(' ', 'T')}+08:00", "kpi": f.kpi,
            "numerator": f.numerator, "denominator": f.denominator, "value": f.value,
            "unit": unit, "status": self.status, "breach_strength": self.breach_strength,
            "thresholds": [{"policy_id": t.id, "comparator": t.comparator,
                            "threshold": t.threshold, "unit": t.unit, "scope": t.scope,
                            "source": t.source, "status": s, "strength": t.strength,
                            "companies": None if t.companies is None else list(t.companies)}
                           for t, s in self.targets],
        }


def _targets(catalog: Catalog, f: Figure) -> list[PolicyTarget]:
    on = date.fromisoformat(f.period_start[:10])
    if f.city == YRD_REGION:
        rep = "310000"  # any YRD city: region-scope targets apply to the region as a whole
        return [t for t in catalog.for_cell(rep, f.base_kpi, on, f.route_class, f.company)
                if t.scope == "region"]
    return catalog.for_cell(f.city, f.base_kpi, on, f.route_class, f.company)


def judge(catalog: Catalog, figures: list[Figure]) -> list[ReportRow]:
    rows = []
    for f in figures:
        v = f.value
        judged = tuple((t, NO_DATA if v is None else (PASS if t.judge(v) else BREACH))
                       for t in _targets(catalog, f))
        rows.append(ReportRow(f, judged))
    return rows


def kpi_report(wh: Warehouse, flt: CellFilter, routes: RouteTable,
               catalog: Catalog) -> list[ReportRow]:
    """Compute, roll up and judge every KPI for the cells the filter selects.

    With `city` set, only that city's rows (or only the YRD rows for `YRD`); with `company`
    set, only that company's rows: a roll-up of a filtered subset would be mislabelled.
    The cells are read within `flt.scope`; a region row is kept only when the scope covers
    every city of the region (a partial roll-up would be mislabelled, and the full one
    would reveal other provinces' counts).
    """
    figures = roll_up(cell_figures(cell_counts(wh, flt), on_time_counts(wh, flt, routes)))
    figures = [f for f in figures if flt.scope.covers(f.city)]
    if flt.city:
        figures = [f for f in figures if f.city == flt.city]
    if flt.company:
        figures = [f for f in figures if f.company == flt.company]
    figures.sort(key=lambda f: (f.period_start, f.city, f.company, f.kpi))
    return judge(catalog, figures)


CSV_FIELDS = ("city", "city_name", "company", "period_start", "kpi", "numerator", "denominator",
              "value", "unit", "status", "thresholds", "breach_strength")


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r | {"thresholds": "; ".join(
            f"{t['policy_id']} {t['comparator']} {t['threshold']} {t['status']}"
            + (" (aspirational)" if t.get("strength") == "aspirational" else "")
            for t in r["thresholds"])})
    return buf.getvalue()
