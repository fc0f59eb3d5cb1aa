"""Grafana alert rules generated from the catalog: one per event-measurable target, valid
uids, and a threshold expression that fires exactly when the catalog calls a breach."""

from __future__ import annotations

import pytest

from courierwatch.catalog import PolicyTarget, load_catalog
from dashboards.alert_rules import alert_rules, rule_uid

CATALOG = load_catalog()
EVENT_TARGETS = [t for t in CATALOG.targets if t.measurable_by == "events"]
RULES = {r["labels"]["policy_id"]: r for r in alert_rules(CATALOG)}


def _grafana_fires(evaluator: dict[str, object], value: float) -> bool:
    """Grafana's threshold expression semantics (docs: gt, lt, within/outside range)."""
    kind, params = evaluator["type"], evaluator["params"]
    assert isinstance(params, list)
    if kind == "gt":
        return value > params[0]
    if kind == "lt":
        return value < params[0]
    if kind == "outside_range":
        return value < params[0] or value > params[1]
    raise AssertionError(f"unexpected evaluator {kind}")


def test_one_rule_per_event_target_with_unique_short_uids() -> None:
    """Every event-measurable target has exactly one rule; uids are unique and at most 40
    characters (Grafana's limit)."""
    assert set(RULES) == {t.id for t in EVENT_TARGETS}
    uids = [r["uid"] for r in RULES.values()]
    assert len(set(uids)) == len(uids) and max(map(len, uids)) <= 40
    assert rule_uid("x" * 60) != rule_uid("x" * 59) and len(rule_uid("x" * 60)) == 40


@pytest.mark.parametrize("target", EVENT_TARGETS, ids=lambda t: t.id)
def test_rule_fires_where_the_catalog_judges_a_breach(target: PolicyTarget) -> None:
    """For values 1 % and 10 % either side of the threshold (and 0), the rule's threshold
    expression fires exactly when the catalog's own judge says breach."""
    evaluator = RULES[target.id]["data"][1]["model"]["conditions"][0]["evaluator"]
    base = target.threshold or 1.0
    for value in (0.0, target.threshold - base * 0.1, target.threshold - base * 0.01,
                  target.threshold + base * 0.01, target.threshold + base * 0.1):
        assert _grafana_fires(evaluator, value) == (not target.judge(value)), value


@pytest.mark.parametrize("target", EVENT_TARGETS, ids=lambda t: t.id)
def test_rule_labels_carry_strength_and_company_scope(target: PolicyTarget) -> None:
    """Aspirational targets page nobody (severity info); company-scoped targets label
    their alerts per company, the others per city only."""
    rule = RULES[target.id]
    assert rule["labels"]["strength"] == target.strength
    assert rule["labels"]["severity"] == ("info" if target.aspirational else "page")
    sql = rule["data"][0]["model"]["rawSql"]
    assert sql.startswith("SELECT city, company, value" if target.companies
                          else "SELECT city, value")
