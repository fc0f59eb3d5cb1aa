"""The breach board and the charts' coarser windows: figures summed over periods and judged
again by the one rule (courierwatch.judgement)."""

from __future__ import annotations

from typing import Any

from courierwatch.board import smallest_judgeable_window, window_figures
from courierwatch.catalog import load_catalog
from services.api.board import board_payload

CATALOG = load_catalog()


def _row(hour: int, kpi: str, num: float, den: float, company: str = "ZTO",
         city: str = "331000", unit: str = "per_1000") -> dict[str, Any]:
    return {"city": city, "company": company, "kpi": kpi, "unit": unit,
            "period_start": f"2026-11-02T{hour:02d}:00:00+08:00", "numerator": num,
            "denominator": den}


def test_a_window_sums_its_hours_and_is_judged_once() -> None:
    """Three hours of 20 ZTO acceptances in Taizhou, each too few to judge, with 1, 0 and 2
    delays: the window is 3 / 60 = 50 per 1000, judged a binding breach of
    yrd-2020-delay-rate (≤ 2‰)."""
    rows = [_row(8, "delay_rate", 1, 20), _row(9, "delay_rate", 0, 20),
            _row(10, "delay_rate", 2, 20)]
    (judged,) = window_figures(rows, CATALOG, 50)
    out = judged.to_json()
    assert (out["numerator"], out["denominator"]) == (3, 60)
    assert out["value"] == 50.0 and out["status"] == "breach"
    assert {t["policy_id"] for t in out["thresholds"] if t["status"] == "breach"} >= {
        "yrd-2020-delay-rate"}
    assert out["period_start"] == "2026-11-02T10:00:00+08:00"


def test_the_chart_window_is_the_smallest_that_judges_most_events() -> None:
    """20 an hour: 3 h windows hold 60 >= 50 (hourly: none); a busy hour of 500 among
    quiet ones keeps a series hourly (most events are in judgeable hours); volume is
    always hourly."""
    quiet = [_row(h, "delay_rate", 0, 20) for h in range(24)]
    assert smallest_judgeable_window(quiet, 50) == 3
    busy = [*[_row(h, "delay_rate", 0, 5) for h in range(24)], _row(12, "delay_rate", 0, 500)]
    assert smallest_judgeable_window(busy, 50) == 1
    volume = [_row(h, "volume", 3, 0, unit="count") for h in range(3)]
    assert smallest_judgeable_window(volume, 50) == 1


def test_board_flags_a_share_above_100_percent_and_counts_breaching_companies() -> None:
    """A complaint acceptance share of 4/3 is `invalid`, shown as no figure and judged by no
    target; ZTO's delay breach makes Taizhou's breaching list ['ZTO'], the all-companies
    row never counts as a company."""
    rows = [_row(8, "delay_rate", 3, 60), _row(8, "delay_rate", 3, 60, company="*"),
            _row(8, "complaint_acceptance_rate", 4, 3, unit="ratio", city="320400")]
    board = board_payload(window_figures(rows, CATALOG, 1), CATALOG, 1, None, None)
    invalid = next(c for c in board["cells"] if c["kpi"] == "complaint_acceptance_rate")
    assert invalid["status"] == "invalid" and invalid["value"] is None
    assert invalid["text"] == "invalid >100%"
    assert all(t["status"] == "invalid" for t in invalid["thresholds"])
    cities = {c["city"]: c for c in board["cities"]}
    assert cities["331000"]["breaching"] == ["ZTO"]
    zto = next(c for c in board["cells"] if c["company"] == "ZTO" and c["kpi"] == "delay_rate")
    assert zto["text"] == "50‰" and zto["denominator_name"] == "acceptances"
    assert any(t["quote"] for t in zto["thresholds"])
