"""Grafana alert rules generated from the catalog: one per event-measurable target, valid
uids, and a threshold expression that fires exactly when the catalog calls a breach."""

from __future__ import annotations

import operator
import re
from dataclasses import replace
from typing import Any

import pytest

from courierwatch.catalog import PolicyTarget, load_catalog
from dashboards.alert_rules import alert_rule, alert_rules, rule_uid

CATALOG = load_catalog()
EVENT_TARGETS = [t for t in CATALOG.targets if t.measurable_by == "events"]
RULES = {r["labels"]["policy_id"]: r for r in alert_rules(CATALOG)}


_MATH = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
         "==": operator.eq, "!=": operator.ne}
_THRESHOLD = {"gt": operator.gt, "lt": operator.lt}


def _grafana_fires(rule: dict[str, Any], value: float) -> bool:
    """Grafana's semantics for the rule's expressions with query A giving `value`: the math
    expression `$A <op> <number>` (1 or 0), then the threshold expression on it."""
    data = {d["refId"]: d["model"] for d in rule["data"]}
    assert rule["condition"] == "C"
    m = re.fullmatch(r"\$A (<=|>=|==|!=|<|>) (\S+)", data["B"]["expression"])
    assert m, data["B"]["expression"]
    b = 1.0 if _MATH[m.group(1)](value, float(m.group(2))) else 0.0
    assert data["C"]["expression"] == "B" and data["B"]["type"] == "math"
    evaluator = data["C"]["conditions"][0]["evaluator"]
    return bool(_THRESHOLD[evaluator["type"]](b, evaluator["params"][0]))


def test_one_rule_per_event_target_with_unique_short_uids() -> None:
    """Every event-measurable target has exactly one rule; uids are unique and at most 40
    characters (Grafana's limit)."""
    assert set(RULES) == {t.id for t in EVENT_TARGETS}
    uids = [r["uid"] for r in RULES.values()]
    assert len(set(uids)) == len(uids) and max(map(len, uids)) <= 40
    assert rule_uid("x" * 60) != rule_uid("x" * 59) and len(rule_uid("x" * 60)) == 40


@pytest.mark.parametrize("target", EVENT_TARGETS, ids=lambda t: t.id)
def test_rule_fires_where_the_catalog_judges_a_breach(target: PolicyTarget) -> None:
    """At the threshold itself, 1 % and 10 % either side of it and 0, the rule fires
    exactly when the catalog's own judge says breach (at exactly 95 % a `> 95 %` target
    is breached: Grafana's strict `lt` alone did not fire there)."""
    base = target.threshold or 1.0
    for value in (0.0, target.threshold, target.threshold - base * 0.1,
                  target.threshold - base * 0.01, target.threshold + base * 0.01,
                  target.threshold + base * 0.1):
        assert _grafana_fires(RULES[target.id], value) == (not target.judge(value)), value


@pytest.mark.parametrize("comparator", [">=", ">", "<=", "<", "=="])
def test_every_comparator_agrees_at_the_threshold(comparator: str) -> None:
    """Each comparator, also those no target uses today, at 0.95 and either side of it."""
    target = replace(EVENT_TARGETS[0], comparator=comparator, threshold=0.95)
    rule = alert_rule(target)
    for value in (0.95, 0.9499, 0.9501):
        assert _grafana_fires(rule, value) == (not target.judge(value)), (comparator, value)


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
