"""report.html: every value escaped, self-contained (no script, no external resource)."""

from __future__ import annotations

import re
from typing import Any

from services.audit.report_html import render_report

EVIL = '<script>alert("x")</script>'


def _row(company: str, value: float | None, status: str) -> dict[str, Any]:
    return {"city": "331000", "city_name": f"台州 {EVIL}", "company": company,
            "period_start": "2026-11-02T00:00:00+08:00", "kpi": "locker_share",
            "numerator": 3.0, "denominator": 10.0, "value": value, "unit": "ratio",
            "status": status, "breach_strength": "binding" if status == "breach" else None,
            "thresholds": [{"policy_id": f"p-{EVIL}", "comparator": ">=", "threshold": 0.5,
                            "unit": "ratio", "scope": "city", "source": EVIL,
                            "status": status, "strength": "binding"}]}


def _manifest() -> dict[str, Any]:
    h = "0" * 64
    return {"range": {"from": "2026-11-02T00:00:00+08:00", "to": EVIL, "by": "day"},
            "filters": {"city": "331000", "city_name": EVIL, "company": None},
            "archive_snapshot_ingested_at": "2026-11-30 09:00:00.000",
            "events": {"rows": 10, "rows_in_period": 9, "acceptances_for_joins": 1,
                       "distinct_events": 10, "late_rows": 0},
            "archive_ranges": [{"topic": EVIL, "partition": 0, "first_offset": 0,
                                "last_offset": 3, "rows": 10}],
            "input_events": {"sha256": h}, "kpis": {"sha256": h},
            "code": {"version": "0.1.0", "source_sha256": h},
            "policy_catalog": {"policies_sha256": h, "route_classes_sha256": h}}


def test_every_value_is_escaped_and_the_page_is_self_contained() -> None:
    """Markup in any value (city name, company, policy id, source, topic, range, cause)
    appears escaped, never as a tag; the page has no script, no link, no src, and no URL
    but the SVG namespace; it draws one bar per figure with a value (any status, `too_few`
    too) and one target tick."""
    rows = [_row(EVIL, 0.3, "breach"), _row("SF", 0.6, "pass"), _row("ZTO", None, "no_data"),
            _row("JT", 0.1, "too_few")]
    diffs = {"from_live": [], "from_published": [{
        "city": "331000", "city_name": EVIL, "company": EVIL, "kpi": "volume",
        "period_start": "2026-11-02T00:00:00+08:00", "published": {"numerator": 1,
                                                                    "denominator": 0},
        "replayed": {"numerator": 2, "denominator": 0},
        "causes": [{"cause": "restatement", "count": 1, "detail": EVIL}]}]}
    page = render_report(rows, _manifest(), diffs)
    assert "<script" not in page and "&lt;script&gt;" in page
    assert not re.search(r"<(link|img|iframe)|\bsrc=|@import", page)
    assert re.findall(r"https?://[^\s\"']+", page) == ["http://www.w3.org/2000/svg"] * 1
    assert page.count("<rect") == 3 and page.count("<line") == 3
    assert "@media print" in page
    assert render_report(rows, _manifest(), diffs) == page
