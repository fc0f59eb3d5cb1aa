"""`courierwatch provision grafana` against a local stub of Grafana's HTTP API (no Grafana
can run here): request shape, authentication, and idempotence."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from courierwatch.catalog import load_catalog
from dashboards.build import JSON_DIR
from tests.conftest import Cli
from tests.grafana_stub import GrafanaStub

pytestmark = pytest.mark.integration


def _run(cli: Cli, stub: GrafanaStub) -> list[dict[str, str]]:
    out = cli.run("provision", "grafana", "--url", stub.url, "--format", "json",
                  "--clickhouse-url", "http://ch.example:8123", timeout=120).stdout
    return list(json.loads(out))


def test_provision_creates_everything_once_and_a_second_run_only_overwrites(cli: Cli) -> None:
    """First run: one folder, both data sources (fixed uids, ClickHouse with
    defaultDatabase courierwatch), every committed dashboard JSON as is, one contact
    point and one alert rule per event-measurable catalog target. Second run: no create
    request at all, the same bodies as updates, and the stub holds the same objects. Both
    runs are on the audit log, without the token."""
    cli.env["COURIERWATCH_GRAFANA_TOKEN"] = "test-token"
    n_rules = sum(1 for t in load_catalog().targets if t.measurable_by == "events")
    committed = {p.stem: json.loads(p.read_text("utf-8")) for p in JSON_DIR.glob("*.json")}
    with GrafanaStub() as stub:
        first = _run(cli, stub)
        assert Counter((a["kind"], a["action"]) for a in first) == Counter({
            ("folder", "created"): 1, ("datasource", "created"): 2,
            ("dashboard", "upserted"): len(committed), ("contact point", "created"): 1,
            ("alert rule", "created"): n_rules})
        assert all(h.get("Authorization") == "Bearer test-token"
                   for _, _, _, h in stub.requests)
        ch = stub.store["datasources"]["courierwatch-clickhouse"]
        assert ch["type"] == "grafana-clickhouse-datasource"
        assert ch["jsonData"]["defaultDatabase"] == "courierwatch"
        assert ch["jsonData"]["host"] == "ch.example"
        assert {uid: b["dashboard"] for uid, b in stub.store["dashboards"].items()} == committed
        assert all(b["overwrite"] and b["folderUid"] == "courierwatch"
                   for b in stub.store["dashboards"].values())
        rule = next(iter(stub.store["alertrules"].values()))
        assert rule["condition"] == "C" and rule["folderUID"] == "courierwatch"
        assert rule["data"][0]["datasourceUid"] == "courierwatch-clickhouse"
        snapshot = json.dumps(stub.store, sort_keys=True)
        created_rules = {b["uid"]: b for m, p, b, _ in stub.requests
                         if m == "POST" and p == "/api/v1/provisioning/alert-rules"}
        n_first = len(stub.requests)

        second = _run(cli, stub)
        assert {a["uid"] for a in second} == {a["uid"] for a in first}
        assert not [a for a in second if a["action"] == "created"]
        writes = [(m, p, b) for m, p, b, _ in stub.requests[n_first:] if m != "GET"]
        assert not [w for w in writes if w[0] == "POST" and w[1] != "/api/dashboards/db"]
        updated_rules = {p.rsplit("/", 1)[1]: b for m, p, b in writes
                         if p.startswith("/api/v1/provisioning/alert-rules/")}
        assert updated_rules == created_rules  # each update carries what its create carried
        assert json.dumps(stub.store, sort_keys=True) == snapshot
    audit = json.loads(cli.run("audit", "list", "--format", "json").stdout)
    runs = [r for r in audit if r["action"] == "provision_grafana"]
    assert len(runs) == 2 and runs[0]["inputs"]["url"] == stub.url
    assert "test-token" not in json.dumps(audit)  # the token is never recorded


def test_provision_without_a_token_is_refused_before_any_request(cli: Cli) -> None:
    """No COURIERWATCH_GRAFANA_TOKEN and no credentials in the URL: exit status 2 with a
    message naming the variable, and the stub sees no request."""
    cli.env.pop("COURIERWATCH_GRAFANA_TOKEN", None)
    with GrafanaStub() as stub:
        with pytest.raises(AssertionError, match="COURIERWATCH_GRAFANA_TOKEN"):
            _run(cli, stub)
        assert stub.requests == []
