"""One Grafana organisation per scope, whose ClickHouse data source reads as that scope's
restricted reader (docs/access.md, issue 14 "At scale").

Open-source Grafana lets a viewer who can open Explore send any query a data source's user
may run; folder permissions only hide dashboards. So each scope gets its own organisation
(`courierwatch-<scope slug>`), and in it the data source the dashboards use (fixed uid
`courierwatch-clickhouse`, so dashboards work unchanged in every organisation) logs in as
`courierwatch_reader_<scope>`, whose ClickHouse row policies admit only the scope's rows.

Idempotent: an organisation is found by name before it is created; the data source is
updated by uid when it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from grafana_client.api import GrafanaApi
from grafana_client.client import GrafanaClientError

from courierwatch.scope import Scope
from warehouse.row_policies import scope_slug

CLICKHOUSE_UID = "courierwatch-clickhouse"
CLICKHOUSE_TYPE = "grafana-clickhouse-datasource"
ApiFactory = Callable[[int | None], Any]  # organisation id (None: the admin's) -> GrafanaApi


@dataclass(frozen=True, slots=True)
class ScopeOrg:
    scope: str
    org_id: int
    created: bool
    datasource: str  # "created" | "updated"


def org_name(scope: Scope) -> str:
    """`courierwatch-c331000`, `courierwatch-p33`, `courierwatch-national` (URL-safe)."""
    return f"courierwatch-{scope_slug(scope)}"


def clickhouse_datasource(clickhouse_url: str, user: str, password: str,
                          database: str) -> dict[str, Any]:
    ch = urlparse(clickhouse_url)
    return {"uid": CLICKHOUSE_UID, "name": "courierwatch ClickHouse", "type": CLICKHOUSE_TYPE,
            "access": "proxy", "isDefault": True,
            "jsonData": {"host": ch.hostname or "clickhouse", "port": ch.port or 8123,
                         "protocol": "http", "secure": ch.scheme == "https",
                         "defaultDatabase": database, "username": user},
            "secureJsonData": {"password": password}}


def _missing(exc: GrafanaClientError) -> bool:
    return getattr(exc, "status_code", None) == 404


def provision_scope_org(api_for: ApiFactory, scope: Scope, user: str, password: str,
                        clickhouse_url: str, database: str) -> ScopeOrg:
    """Find or create the scope's organisation; upsert its ClickHouse data source."""
    admin = api_for(None)
    created = False
    try:
        org_id = int(admin.organization.find_organization(org_name(scope))["id"])
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        org_id = int(admin.organization.create_organization({"name": org_name(scope)})["orgId"])
        created = True
    api = api_for(org_id)
    body = clickhouse_datasource(clickhouse_url, user, password, database)
    try:
        api.datasource.get_datasource_by_uid(CLICKHOUSE_UID)
    except GrafanaClientError as exc:
        if not _missing(exc):
            raise
        api.datasource.create_datasource(body)
        return ScopeOrg(str(scope), org_id, created, "created")
    api.datasource.update_datasource_by_uid(CLICKHOUSE_UID, body)
    return ScopeOrg(str(scope), org_id, created, "updated")


def api_factory(url: str, token: str) -> ApiFactory:
    """GrafanaApi per organisation (X-Grafana-Org-Id), authenticated by a server-admin
    token or `user:password` (creating organisations needs a Grafana server admin)."""
    auth: Any = tuple(token.split(":", 1)) if ":" in token else token

    def make(org_id: int | None) -> Any:
        api = GrafanaApi.from_url(url, credential=auth)
        if org_id is not None:
            api.client.organization_id = org_id
            api.client.s.headers["X-Grafana-Org-Id"] = str(org_id)
        return api

    return make
