"""Cell-by-cell comparison of pipeline KPI rows with the independent reference."""

from __future__ import annotations

from typing import Any

from tests.reference import expected

Cells = dict[tuple[str, str, str, str], tuple[float, float]]

COMPARED = ("volume", "locker_share", "delay_rate", "damage_rate", "loss_rate",
            "valid_complaint_rate", "complaint_acceptance_rate", "complaint_satisfaction",
            "company_complaint_satisfaction", "standard_packaging_share", "e_waybill_share",
            "no_secondary_packaging_share",
            "recycled_bag_share", "tape_mm_mean", "real_name_rate", "inspection_rate",
            "xray_rate", "on_time_rate", "promise_kept_rate", "route_unclassified_share")


def pipeline_cells(rows: list[dict[str, Any]]) -> Cells:
    return {(r["city"], r["company"], r["period_start"][:19].replace("T", " "), r["kpi"]):
            (float(r["numerator"]), float(r["denominator"]))
            for r in rows}


def _relevant(cells: Cells) -> Cells:
    return {k: v for k, v in cells.items()
            if (k[3] in COMPARED or k[3].startswith("on_time_rate.")) and (v[0] or v[1])}


def assert_matches_reference(rows: list[dict[str, Any]], events: list[dict[str, Any]],
                             by: str = "day") -> int:
    """Every non-empty cell x KPI equal on both sides; returns how many were compared."""
    got, want = _relevant(pipeline_cells(rows)), _relevant(expected(events, by))
    missing = sorted(set(want) - set(got))[:10]
    extra = sorted(set(got) - set(want))[:10]
    wrong = [(k, got[k], want[k]) for k in sorted(set(got) & set(want)) if got[k] != want[k]]
    assert not missing and not extra and not wrong, (
        f"missing {missing}\nextra {extra}\nwrong (got, want) {wrong[:10]}")
    return len(want)
