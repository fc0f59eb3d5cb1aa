"""Judging figures against the policy catalog: the one rule for pass, breach and too few. Pure.

A figure is judged against every target that applies to its cell (a YRD city answers to
its own plan and to the YRD plan, each judged on its own and attributed by policy id and
source). A target scoped to some companies (the major brands) is judged on those
companies' cells only, never on the all-companies row. Each judged target carries its
`strength`; a row's `breach_strength` says whether any binding target is breached
(`binding`), only aspirational ones (`aspirational`), or none.

A rate on fewer than `min_sample` units in its denominator is not judged: its row and
each of its targets say `too_few` (docs/DESIGN.md, "Alerting on a rate: require a
minimum volume"). The same `min_sample` (setting `COURIERWATCH_MIN_SAMPLE`) is used by
`courierwatch kpi`, the HTTP API, the dashboard (which reads it from the API), the demo
and alerts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from courierwatch.catalog import ASPIRATIONAL, BINDING, Catalog, PolicyTarget
from courierwatch.cities import YRD_REGION, city_label
from courierwatch.figures import Figure
from courierwatch.kpi import counted_at
from courierwatch.periods import iso_period_start

Status = Literal["pass", "breach", "no_target", "no_data", "too_few"]
PASS: Status = "pass"
BREACH: Status = "breach"
NO_TARGET: Status = "no_target"
NO_DATA: Status = "no_data"
TOO_FEW: Status = "too_few"
STATUSES: tuple[Status, ...] = (PASS, BREACH, NO_TARGET, NO_DATA, TOO_FEW)

DEFAULT_MIN_SAMPLE = 50
"""Denominator below which a rate is shown but not judged (the dashboard's long-standing
reading: one late parcel in 20 is a 5 % swing, not evidence of a breach)."""

_REGION_REPRESENTATIVE = "310000"  # any YRD city: region-scope targets apply to the region


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One figure with every applicable target and its judgement."""

    figure: Figure
    targets: tuple[tuple[PolicyTarget, Status], ...]

    @property
    def status(self) -> Status:
        if not self.targets:
            return NO_TARGET
        states = {s for _, s in self.targets}
        for s in (BREACH, PASS, TOO_FEW):
            if s in states:
                return s
        return NO_DATA

    @property
    def breach_strength(self) -> str | None:
        """`binding` when a binding target is breached, `aspirational` when only 力争 / 基本
        targets are, None without a breach: an aspirational breach is shown, not paged."""
        breached = [t for t, s in self.targets if s == BREACH]
        if not breached:
            return None
        return ASPIRATIONAL if all(t.aspirational for t in breached) else BINDING

    def to_json(self) -> dict[str, Any]:
        """The row format of `courierwatch kpi --format json` and `GET /api/kpi`."""
        f = self.figure
        return {
            "city": f.city, "city_name": city_label(f.city), "company": f.company,
            "period_start": iso_period_start(f.period_start), "kpi": f.kpi,
            "numerator": f.numerator, "denominator": f.denominator, "value": f.value,
            "unit": f.unit, "counted_at": counted_at(f.kpi), "status": self.status,
            "breach_strength": self.breach_strength,
            "thresholds": [{"policy_id": t.id, "comparator": t.comparator,
                            "threshold": t.threshold, "unit": t.unit, "scope": t.scope,
                            "source": t.source, "status": s, "strength": t.strength,
                            "companies": None if t.companies is None else list(t.companies)}
                           for t, s in self.targets],
        }


def targets_for(catalog: Catalog, f: Figure) -> list[PolicyTarget]:
    """The targets in force for the figure's cell on the first day of its period."""
    on = date.fromisoformat(f.period_start[:10])
    if f.city == YRD_REGION:
        return [t for t in catalog.for_cell(_REGION_REPRESENTATIVE, f.base_kpi, on,
                                            f.route_class, f.company) if t.scope == "region"]
    return catalog.for_cell(f.city, f.base_kpi, on, f.route_class, f.company)


def judge_value(target: PolicyTarget, f: Figure, min_sample: int) -> Status:
    """no_data without a value, too_few on a rate below `min_sample`, else pass or breach."""
    v = f.value
    if v is None:
        return NO_DATA
    if f.unit != "count" and f.denominator < min_sample:
        return TOO_FEW
    return PASS if target.judge(v) else BREACH


def judge(catalog: Catalog, figures: Iterable[Figure],
          min_sample: int = DEFAULT_MIN_SAMPLE) -> list[ReportRow]:
    """One ReportRow per figure, in the given order."""
    return [ReportRow(f, tuple((t, judge_value(t, f, min_sample))
                               for t in targets_for(catalog, f))) for f in figures]
