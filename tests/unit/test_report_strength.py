"""Judgement rows: company scope honoured, aspirational breaches told apart (kpi JSON, CSV,
table). Pure: Figures built by hand, judged against the packaged catalog."""

from __future__ import annotations

import csv
import io

from rich.console import Console

from cli.render import kpi_table, to_csv
from courierwatch.catalog import load_catalog
from courierwatch.figures import Figure
from courierwatch.judgement import DEFAULT_MIN_SAMPLE, judge

CATALOG = load_catalog()
DAY = "2026-11-02 00:00:00"


def _row(city: str, company: str, kpi: str, num: float, den: float) -> dict[str, object]:
    assert den >= DEFAULT_MIN_SAMPLE  # judged, not too_few
    (row,) = judge(CATALOG, [Figure(city, company, DAY, kpi, num, den)])
    return row.to_json()


def test_aspirational_breach_is_marked_and_binding_fields_kept() -> None:
    """90 of 100 Changzhou parcels between YRD key cities (Changzhou's own reading) within
    12 h breach 力争…12小时送达 (changzhou-2020-yrd-key-12h), aspirational, so the row says
    breach with breach_strength aspirational; the old fields are all still there. The
    YRD's same sentence judges the YRD plan's class (yrd_key_12h), not Changzhou's."""
    r = _row("320400", "*", "on_time_rate.changzhou_key_12h", 90, 100)
    assert r["status"] == "breach" and r["breach_strength"] == "aspirational"
    assert {t["policy_id"] for t in r["thresholds"]} == {"changzhou-2020-yrd-key-12h"}
    assert all(t["strength"] == "aspirational" and t["status"] == "breach"
               for t in r["thresholds"])
    assert {"city", "company", "period_start", "kpi", "numerator", "denominator", "value",
            "unit", "status", "thresholds"} <= set(r)


def test_binding_breach_outranks_aspirational() -> None:
    """95 % standard packaging in Taizhou breaches the binding 超过95% (a strict '>'); the
    row's breach_strength is binding."""
    r = _row("331000", "*", "standard_packaging_share", 95, 100)
    assert r["status"] == "breach" and r["breach_strength"] == "binding"


def test_company_scope_in_rows() -> None:
    """Taizhou's 主要快递品牌企业循环中转袋 target judges ZTO's cell, not a non-major
    company's, not the all-companies row; a pass has no breach_strength."""
    tid = "taizhou-2022-recycled-bag-share"
    ids = {co: {t["policy_id"] for t in _row("331000", co, "recycled_bag_share", 95, 100)
                ["thresholds"]} for co in ("ZTO", "LOCALX", "*")}
    assert tid in ids["ZTO"] and tid not in ids["LOCALX"] and tid not in ids["*"]
    assert _row("331000", "ZTO", "recycled_bag_share", 95, 100)["breach_strength"] is None


def test_table_and_csv_show_aspirational_breaches_as_such() -> None:
    """The table writes '△ breach (aspirational)' for a 力争 breach and '✗ BREACH' for a
    binding one; the CSV appends '(aspirational)' and a breach_strength column."""
    rows = [_row("320400", "*", "on_time_rate.yrd_key_12h", 90, 100),
            _row("331000", "*", "standard_packaging_share", 95, 100)]
    console = Console(width=250, record=True)
    console.print(kpi_table(rows))
    text = console.export_text()
    assert "breach (aspirational)" in text and "✗ BREACH" in text
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert [p["breach_strength"] for p in parsed] == ["aspirational", "binding"]
    assert "breach (aspirational)" in parsed[0]["thresholds"]


def test_demo_views_mark_aspirational_breaches() -> None:
    """The demo's breach list names a binding company breach with ✗ (as a person reads it)
    and counts a company's 力争 miss as aspirational instead of listing it; the matrix marks
    a binding all-companies breach ✗ and shows a passing figure without a mark."""
    from cli.demo import breaches, kpi_matrix
    from services.api.board import board_payload

    figures = [Figure("320400", "*", DAY, "xray_rate", 90, 100),
               Figure("320400", "*", DAY, "delay_rate", 0, 100),
               Figure("320400", "SF", DAY, "on_time_rate.yrd_key_12h", 90, 100),
               Figure("331000", "SF", DAY, "standard_packaging_share", 95, 100)]
    board = board_payload(judge(CATALOG, figures), CATALOG, DEFAULT_MIN_SAMPLE, None, None)
    console = Console(width=250, record=True)
    for table in kpi_matrix(board, "t", 250):
        console.print(table)
    console.print(breaches(board))
    text = console.export_text()
    assert "90.0% ✗" in text and "0‰ " in text
    assert "✗ 台州 Taizhou (Zhejiang) · SF · 规范包装率 standard packaging 95.0% vs >95%" in text
    assert "△ 1 aspirational (力争) misses" in text
    assert "yrd_key_12h" not in text
