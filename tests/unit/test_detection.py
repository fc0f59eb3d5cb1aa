"""The detection table's targets at reduced size (load_tests/detection.py, the real
evaluator on simulated cells; the full table is in docs/alerting.md).

Targets (issue 22): an alert at most 15 min after the evidence allows it for 25x-budget
incidents, 60 min for 10x and 3 h for 3x, in cells of 100 parcels an hour or more; the
resolution within 60 min of the last late event (the median; the worst case within
90 min: see docs/alerting.md); no alert over seven healthy days of every city and
company. The evidence moment is computed by the script's own Poisson tail, not the
engine's.
"""

from __future__ import annotations

import statistics

import pytest

from courierwatch.alerting import AlertRules
from courierwatch.catalog import load_catalog
from load_tests.detection import KINDS, incident_run, national_healthy

LIMIT_MIN = {25: 15, 10: 60, 3: 180}
SEEDS = 3


@pytest.mark.parametrize("kind", ["delay", "xray", "late"])
@pytest.mark.parametrize("per_hour", [100, 500])
def test_alerts_follow_the_evidence_and_resolve_within_the_hour(kind: str,
                                                                 per_hour: int) -> None:
    """Every incident the evidence allows is alerted within its limit beyond that moment;
    resolution comes within 60 minutes of the last late event (median at 100/h)."""
    catalog, rules = load_catalog(), AlertRules()
    resolutions = []
    for factor, limit in LIMIT_MIN.items():
        for seed in range(SEEDS):
            o = incident_run(KINDS[kind], per_hour, factor, seed, catalog, rules)
            if o.evidence_min is None:
                continue  # the evidence never allowed it: nothing to be late against
            assert o.beyond_min is not None, f"no alert: {o}"
            assert o.beyond_min <= limit, o
            if o.resolve_min is not None:
                resolutions.append(o.resolve_min)
    assert resolutions
    # The 60 minutes holds for the median; the worst case is a stray late event
    # in the 30-minute recovery window, which costs one more window (docs/alerting.md,
    # "Known limits"): asserted at 90 so that a regression beyond that fails.
    assert statistics.median(resolutions) <= 60, resolutions
    assert max(resolutions) <= 90, resolutions


def test_a_healthy_national_week_raises_nothing() -> None:
    """Seven days of every city x company at healthy rates (a quarter of each budget, the
    chronic recycled-bag shortfall, disorder, a late-uploading outlet, night lulls)."""
    cell_days, alerts = national_healthy(7, 0, load_catalog(), AlertRules())
    assert cell_days >= 7 * 37 * 8
    assert alerts == [], [(a.city, a.company, a.policy_id, a.rule) for a in alerts]
