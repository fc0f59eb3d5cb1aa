"""Alerts and figures written for a person: one pure function used by the dashboard (via
GET /api/alerts' `display`), `courierwatch alerts list` and the demo."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from courierwatch.alert_format import describe_alert
from courierwatch.periods import CST
from courierwatch.units import fmt_figure


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=CST).timestamp() * 1000)


def _row(**over: Any) -> dict[str, Any]:
    row = {"city": "331000", "company": "ZTO", "kpi": "delay_rate", "unit": "per_1000",
           "value": 50.505050505050505, "threshold": 2.0, "comparator": "<=",
           "strength": "binding", "state": "firing", "severity": "page",
           "policy_id": "yrd-2020-delay-rate", "started_at_ms": _ms("2026-12-05 14:35"),
           "evaluated_at_ms": _ms("2026-12-05 17:45"), "resolved_at_ms": None}
    return row | over


@pytest.mark.parametrize(("value", "unit", "text"), [
    pytest.param(50.505050505050505, "per_1000", "50.5‰", id="per-mille-3-digits"),
    pytest.param(2.0, "per_1000", "2‰", id="whole"),
    pytest.param(1.23456, "per_1000", "1.23‰", id="two-decimals-at-most"),
    pytest.param(187.5, "per_1000", "188‰", id="no-decimals-past-100"),
    pytest.param(0.968253968, "ratio", "96.8%", id="share"),
    pytest.param(0.99996, "ratio", "99.99%", id="never-rounded-onto-100"),
    pytest.param(1.0, "ratio", "100.0%", id="exactly-100"),
    pytest.param(1.3333, "ratio", "invalid >100%", id="share-above-100-is-invalid"),
    pytest.param(12.0, "per_1000000", "12/M", id="per-million"),
    pytest.param(1234.0, "count", "1,234", id="count"),
    pytest.param(None, "ratio", "–", id="no-data"),
])
def test_figures_have_sensible_precision(value: float | None, unit: str, text: str) -> None:
    """At most two decimals, about three significant digits, never a false 100 %, and a
    share above 100 % is never shown as a figure."""
    assert fmt_figure(value, unit) == text


def test_the_issue_example_reads_as_a_person_would_say_it() -> None:
    """`✗ 331000 ZTO 延误率 delays: 50.505050505050505 vs <=2 … since 2026-12-05T14:35:00+08:00`
    becomes 台州 Taizhou (Zhejiang) · ZTO · 延误率 delays 50.5‰ vs ≤2‰ · binding · since
    14:35 CST (3 h 10 min), with a drill-down link for that city, company, KPI and time."""
    d = describe_alert(_row())
    assert d.place == "台州 Taizhou (Zhejiang)" and d.company == "ZTO"
    assert d.kpi == "延误率 delays" and d.value == "50.5‰" and d.target == "≤2‰"
    assert d.since == "14:35 CST (3 h 10 min)" and d.mark == "✗"
    assert d.line == ("✗ 台州 Taizhou (Zhejiang) · ZTO · 延误率 delays 50.5‰ vs ≤2‰ · "
                      "binding 约束性 (yrd-2020-delay-rate) · since 14:35 CST (3 h 10 min)")
    assert d.link == ("/?city=331000&company=ZTO&kpi=delay_rate"
                      "&from=2026-12-05T08:35:00%2B08:00&to=2026-12-05T18:45:00%2B08:00")


def test_other_day_aspirational_and_resolved_alerts() -> None:
    """A start on another CST day than the latest evaluation carries its date; an
    aspirational target is △; a resolved alert says when, and its duration ends there."""
    d = describe_alert(_row(kpi="xray_rate", unit="ratio", value=0.95, threshold=1.0,
                            comparator=">=", city="420100", company="YTO",
                            started_at_ms=_ms("2026-12-04 23:50"),
                            evaluated_at_ms=_ms("2026-12-05 02:00")))
    assert d.since == "12-04 23:50 CST (2 h 10 min)"
    assert d.value == "95.0%" and d.target == "≥100%" and d.place.startswith("武汉 Wuhan")
    soft = describe_alert(_row(strength="aspirational", state="resolved",
                               resolved_at_ms=_ms("2026-12-05 15:05")))
    assert soft.mark == "✓" and soft.since == "14:35 CST (30 min, resolved 15:05 CST)"
    assert describe_alert(_row(strength="aspirational")).mark == "△"
