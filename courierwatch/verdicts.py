"""Whether a change of counts changed a verdict: a restatement or a replay's difference
judged against the same targets before and after (issue 23: the changes that turned a pass
into a breach, or back, first). Pure."""

from __future__ import annotations

from typing import Any

from courierwatch.catalog import Catalog
from courierwatch.figures import Figure
from courierwatch.judgement import BREACH, PASS, judge
from courierwatch.units import fmt_target, fmt_value


def judged(catalog: Catalog, city: str, company: str, period_start: str, kpi: str,
           numerator: float, denominator: float, min_sample: int) -> dict[str, Any]:
    """The figure of these counts judged as `kpi` judges it: value, its text in the KPI's
    unit, status (pass, breach, too_few, no_data, no_target) and the targets as text.
    `period_start`: 'YYYY-MM-DD HH:MM:SS' (CST), as cells are keyed."""
    row = judge(catalog, [Figure(city, company, period_start, kpi, numerator, denominator)],
                min_sample)[0]
    f = row.figure
    return {"value": f.value, "shown": fmt_value(f.value, f.unit), "status": row.status,
            "targets": [f"{fmt_target(t.comparator, t.threshold, t.unit)} {t.id}"
                        + (" (aspirational)" if t.aspirational else "")
                        for t, _ in row.targets]}


def verdict_changed(before: str, after: str) -> bool:
    """True when a pass became a breach or a breach a pass."""
    return before != after and {before, after} == {PASS, BREACH}
