"""Grafana dashboards as code: the committed JSON is what the code generates, UIDs are
stable, and every dashboard uses the fixed data sources and the agreed variables."""

from __future__ import annotations

import json

import pytest

from courierwatch.catalog import load_catalog
from dashboards.build import JSON_DIR, render, to_text
from dashboards.sources import CLICKHOUSE_UID, PROMETHEUS_UID

EXPECTED_UIDS = {"courierwatch-overview", "courierwatch-city", "courierwatch-league",
                 "courierwatch-green-security", "courierwatch-alerts", "courierwatch-pipeline"}
MODELS = render(load_catalog())


def test_committed_json_is_up_to_date() -> None:
    """dashboards/json/ holds exactly the generated dashboards, byte for byte; run
    `python -m dashboards.build` after changing dashboards/ or the catalog."""
    committed = {p.stem: p.read_text("utf-8") for p in JSON_DIR.glob("*.json")}
    assert set(committed) == EXPECTED_UIDS
    for uid, model in MODELS.items():
        assert committed[uid] == to_text(model), f"{uid}.json is stale"


@pytest.mark.parametrize("uid", sorted(EXPECTED_UIDS))
def test_dashboard_uses_only_the_fixed_data_sources(uid: str) -> None:
    """Every datasource reference in a dashboard is one of the two fixed uids, so the
    provisioned data sources and the dashboards always meet."""
    text = json.dumps(MODELS[uid])
    refs = {(d["type"], d["uid"]) for d in _datasources(MODELS[uid])}
    assert refs <= {("grafana-clickhouse-datasource", CLICKHOUSE_UID),
                    ("prometheus", PROMETHEUS_UID)}, refs
    assert MODELS[uid]["uid"] == uid and '"id": ' not in text.replace('"id": "', "")


def test_template_variables_city_company_route_class() -> None:
    """The drill-down has city (one), company (many, All) and route class variables."""
    names = {v["name"]: v for v in MODELS["courierwatch-city"]["templating"]["list"]}
    assert set(names) == {"city", "company", "route_class"}
    assert names["company"]["multi"] and names["company"]["includeAll"]
    assert not names["city"].get("multi")
    assert set(names["route_class"]["query"].split(",")) == {
        "yrd_key_12h", "yrd_24h", "national_key_48h", "changzhou_key_12h", "changzhou_24h",
        "changzhou_national_key_48h"}


def test_drill_down_draws_every_target_of_each_kpi_as_a_line() -> None:
    """Each KPI panel of the drill-down has a query B listing the catalog targets of its
    KPI: the count of distinct policy ids quoted in the B queries equals the catalog's
    count of event-measurable targets of those KPIs."""
    catalog = load_catalog()
    sql = " ".join(t["rawSql"] for p in MODELS["courierwatch-city"]["panels"]
                   for t in p["targets"] if t["refId"] == "B")
    ids = {t.id for t in catalog.targets if t.measurable_by == "events"}
    assert {i for i in ids if f"'{i}'" in sql} == ids


def _datasources(node: object) -> list[dict[str, str]]:
    out = []
    if isinstance(node, dict):
        if isinstance(node.get("datasource"), dict):
            out.append(node["datasource"])
        for v in node.values():
            out += _datasources(v)
    elif isinstance(node, list):
        for v in node:
            out += _datasources(v)
    return out
