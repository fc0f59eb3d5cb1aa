"""Grafana organisations per scope (services.grafana.scopes) against a stand-in Grafana
HTTP API: no Grafana can run on these machines, so a real http.server on loopback answers
the organisation and data-source endpoints as Grafana 11 documents them (404 for an unknown
name or uid, X-Grafana-Org-Id selecting the organisation)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from courierwatch.scope import parse_scope
from services.grafana.scopes import CLICKHOUSE_UID, api_factory, provision_scope_org
from warehouse.row_policies import scope_access

pytestmark = pytest.mark.integration


class OrgStub:
    def __init__(self) -> None:
        self.orgs: dict[str, int] = {"Main Org.": 1}
        self.sources: dict[int, dict[str, Any]] = {}
        self.log: list[tuple[str, str, str | None]] = []  # method, path, org header
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _do(self, method: str) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n)) if n else None
                org = self.headers.get("X-Grafana-Org-Id")
                stub.log.append((method, self.path, org))
                status, answer = stub.route(method, self.path, int(org or 1), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._do("GET")

            def do_POST(self) -> None:
                self._do("POST")

            def do_PUT(self) -> None:
                self._do("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, method: str, path: str, org: int, body: Any) -> tuple[int, Any]:
        if m := re.fullmatch(r"/api/orgs/name/([^/]+)", path):
            oid = self.orgs.get(m.group(1))
            return (200, {"id": oid, "name": m.group(1)}) if oid else (404, {"message": "nf"})
        if path == "/api/orgs" and method == "POST":
            self.orgs[body["name"]] = len(self.orgs) + 1
            return 200, {"orgId": self.orgs[body["name"]], "message": "Organization created"}
        if path == "/api/datasources" and method == "POST":
            self.sources.setdefault(org, {})[body["uid"]] = body
            return 200, {"datasource": body}
        if m := re.fullmatch(r"/api/datasources/uid/([^/]+)", path):
            found = self.sources.get(org, {}).get(m.group(1))
            if found is None:
                return 404, {"message": "Data source not found"}
            if method == "PUT":
                self.sources[org][m.group(1)] = body
            return 200, self.sources[org][m.group(1)]
        return 404, {"message": f"no route {method} {path}"}


@pytest.fixture
def grafana() -> Iterator[OrgStub]:
    stub = OrgStub()
    thread = threading.Thread(target=stub.server.serve_forever, daemon=True)
    thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def test_each_scope_gets_its_own_organisation_and_reader(grafana: OrgStub) -> None:
    """Two scopes: two new organisations, each with the ClickHouse data source logging in as
    that scope's reader; every data-source call names its organisation; a second run
    creates nothing and updates the data sources (new passwords)."""
    api_for = api_factory(grafana.url, "admin:admin")
    scopes = [parse_scope("city:331000"), parse_scope("city:420100")]
    first = [provision_scope_org(api_for, s, scope_access(s).user, f"pw-{i}",
                                 "https://ch.example:8443", "courierwatch")
             for i, s in enumerate(scopes)]
    assert [(o.created, o.datasource) for o in first] == [(True, "created")] * 2
    assert len({o.org_id for o in first}) == 2 and 1 not in {o.org_id for o in first}
    for o, s, i in zip(first, scopes, range(2), strict=True):
        ds = grafana.sources[o.org_id][CLICKHOUSE_UID]
        assert ds["jsonData"]["username"] == scope_access(s).user
        assert ds["secureJsonData"]["password"] == f"pw-{i}"
        assert (ds["jsonData"]["host"], ds["jsonData"]["port"], ds["jsonData"]["secure"]) == (
            "ch.example", 8443, True)
    assert 1 not in grafana.sources  # nothing in the main organisation
    assert all(org is not None for m, p, org in grafana.log if "/datasources" in p)
    assert all(org is None for m, p, org in grafana.log if p.startswith("/api/orgs"))
    second = [provision_scope_org(api_for, s, scope_access(s).user, "new",
                                  "https://ch.example:8443", "courierwatch") for s in scopes]
    assert [(o.org_id, o.created, o.datasource) for o in second] == [
        (o.org_id, False, "updated") for o in first]
    assert len(grafana.orgs) == 3
