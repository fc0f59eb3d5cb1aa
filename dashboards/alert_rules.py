"""Grafana-managed alert rules and the contact point, generated from the policy catalog.

One rule per event-measurable target (Sloth/Pyrra style: the catalog is the spec; the
evaluator, the Prometheus rules and these rules are generated from it). Each rule queries
the figure per city for the cities the target covers and fires, per city, when the figure
breaches the target with at least MIN_JUDGED_DENOMINATOR in the denominator:
- count KPIs over the last hour of `cell_counts` (live);
- on-time and promise-kept figures over the last three published hours of `kpi_published`
  (a period is published an hour after the watermark passed it).
The breach is decided by a math expression (B) with the catalog's own comparison, negated
(`$A <= 0.95` for a target `> 95 %`: at exactly 95 % the catalog says breach, and so does
the rule), and the condition (C) fires when B is 1. Grafana's threshold expression alone
has only strict `gt`/`lt`, which disagreed with the catalog at the threshold itself for
`>` and `<` targets.
"""

from __future__ import annotations

import hashlib
from typing import Any

from courierwatch.catalog import Catalog, PolicyTarget
from dashboards.common import FOLDER_UID
from dashboards.sources import CLICKHOUSE_UID, DATABASE, FORMAT_TABLE
from dashboards.sql import (
    CELL_KPIS,
    MIN_JUDGED_DENOMINATOR,
    cell_figures,
    city_matches,
    figure_name,
    quote,
    strength_of,
)

RULE_GROUP = "courierwatch-targets"
CONTACT_POINT_UID = "courierwatch-duty-officer"
CONTACT_POINT_NAME = "courierwatch duty officer 值班"
# The figure breaches a target `v <cmp> x` when `v <BREACH_OPS[cmp]> x` (Grafana math
# expressions compare with ==, !=, <, <=, >, >= and give 1 or 0).
BREACH_OPS = {">=": "<", ">": "<=", "<=": ">", "<": ">=", "==": "!="}


def breach_expression(t: PolicyTarget) -> str:
    """The math expression over query A that is 1 exactly where the catalog says breach."""
    return f"$A {BREACH_OPS[t.comparator]} {t.threshold!r}"


def rule_uid(target_id: str) -> str:
    """`cw-<policy id>`, shortened with a hash past Grafana's 40-character limit."""
    uid = f"cw-{target_id}"
    if len(uid) <= 40:
        return uid
    return f"cw-{target_id[:28]}-{hashlib.sha1(target_id.encode()).hexdigest()[:8]}"


def rule_sql(t: PolicyTarget) -> str:
    """(city, value) of every covered city with enough data in the rule's window; for a
    company-scoped target (courierwatch.catalog: judged on each listed company's cells,
    never the all-companies row) (city, company, value) of the listed companies."""
    covered = city_matches("city", "[" + ", ".join(quote(c) for c in t.cities) + "]")
    labels = "city" if t.companies is None else "city, company"
    scope = ("company = '*'" if t.companies is None else
             "company IN (" + ", ".join(quote(c) for c in t.companies) + ")")
    if t.metric in CELL_KPIS:
        group = (("city", "city"),) if t.companies is None else (("city", "city"),
                                                                  ("company", "company"))
        inner = cell_figures(group, f"$__timeFilter(hour) AND {covered}"
                             + ("" if t.companies is None else f" AND {scope}"), (t.metric,))
    else:
        inner = f"""SELECT {labels}, kpi, n AS numerator, d AS denominator, n / d AS value
  FROM (SELECT {labels}, kpi, sum(numerator) AS n, sum(denominator) AS d
        FROM {DATABASE}.kpi_published FINAL
        WHERE period = 'hour' AND {scope} AND $__timeFilter(period_start) AND {covered}
        GROUP BY {labels}, kpi)"""
    return f"""SELECT {labels}, value FROM (
  {inner}
) WHERE kpi = {quote(figure_name(t))} AND denominator >= {MIN_JUDGED_DENOMINATOR}
ORDER BY {labels}"""


def alert_rule(t: PolicyTarget) -> dict[str, Any]:
    window_s = 3600 if t.metric in CELL_KPIS else 3 * 3600
    return {
        "uid": rule_uid(t.id), "orgID": 1, "folderUID": FOLDER_UID, "ruleGroup": RULE_GROUP,
        "title": f"{figure_name(t)} {t.comparator} {t.threshold:g} ({t.id})",
        "condition": "C", "for": "5m", "noDataState": "OK", "execErrState": "Error",
        "data": [
            {"refId": "A", "datasourceUid": CLICKHOUSE_UID,
             "relativeTimeRange": {"from": window_s, "to": 0},
             "model": {"refId": "A", "editorType": "sql", "format": FORMAT_TABLE,
                       "queryType": "table", "rawSql": rule_sql(t),
                       "datasource": {"type": "grafana-clickhouse-datasource",
                                      "uid": CLICKHOUSE_UID}}},
            {"refId": "B", "datasourceUid": "__expr__",
             "relativeTimeRange": {"from": 0, "to": 0},
             "model": {"refId": "B", "type": "math", "expression": breach_expression(t),
                       "datasource": {"type": "__expr__", "uid": "__expr__"}}},
            {"refId": "C", "datasourceUid": "__expr__",
             "relativeTimeRange": {"from": 0, "to": 0},
             "model": {"refId": "C", "type": "threshold", "expression": "B",
                       "datasource": {"type": "__expr__", "uid": "__expr__"},
                       "conditions": [{"evaluator": {"type": "gt", "params": [0.5]}}]}},
        ],
        "labels": {"courierwatch": "target", "policy_id": t.id, "kpi": figure_name(t),
                   "strength": strength_of(t),
                   # aspirational (力争/基本) targets are shown, but page nobody
                   "severity": "info" if t.aspirational else "page"},
        "annotations": {"summary": f"{figure_name(t)} breaches {t.comparator} {t.threshold:g}"
                                   f" in {{{{ $labels.city }}}}",
                        "description": f"{t.source} {t.section}: {t.quote}"},
    }


def alert_rules(catalog: Catalog) -> list[dict[str, Any]]:
    return [alert_rule(t) for t in catalog.targets if t.measurable_by == "events"]


def contact_point(webhook_url: str) -> dict[str, Any]:
    return {"uid": CONTACT_POINT_UID, "name": CONTACT_POINT_NAME, "type": "webhook",
            "settings": {"url": webhook_url, "httpMethod": "POST"},
            "disableResolveMessage": False}


def file_provisioning(catalog: Catalog, folder_title: str) -> dict[str, Any]:
    """The same rules in Grafana's file-provisioning format (deploy/grafana/provisioning/
    alerting/), so a Grafana started from files has them without the API."""
    rules = []
    for r in alert_rules(catalog):
        rules.append({k: v for k, v in r.items()
                      if k not in ("orgID", "folderUID", "ruleGroup")})
    return {"apiVersion": 1,
            "groups": [{"orgId": 1, "name": RULE_GROUP, "folder": folder_title,
                        "interval": "1m", "rules": rules}]}
