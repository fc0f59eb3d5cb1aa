"""`courierwatch provision grafana --url URL`: folder, data sources, dashboards, the contact
point and the alert rules in a Grafana, through its HTTP API (grafana-client).

Idempotent: every object has a fixed uid and is upserted by it (read; create when absent,
otherwise overwrite), so a second run sends the same bodies as updates and creates nothing.
Dashboards go through POST /api/dashboards/db with `overwrite: true`, which is Grafana's
own upsert by uid. Nothing is deleted: objects of ours that the code no longer has are
left for an operator to remove.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import urlparse

from grafana_client.client import GrafanaClientError

from courierwatch.catalog import Catalog
from dashboards.alert_rules import CONTACT_POINT_NAME, alert_rules, contact_point
from dashboards.build import render
from dashboards.common import FOLDER_TITLE, FOLDER_UID
from dashboards.sources import (
    CLICKHOUSE_TYPE,
    CLICKHOUSE_UID,
    DATABASE,
    PROMETHEUS_TYPE,
    PROMETHEUS_UID,
)
from services.grafana.targets import Targets


@dataclass
class Summary:
    actions: list[tuple[str, str, str]] = field(default_factory=list)  # kind, uid, action

    def add(self, kind: str, uid: str, action: str) -> None:
        self.actions.append((kind, uid, action))


def datasources(t: Targets) -> list[dict[str, Any]]:
    ch = urlparse(t.clickhouse_url)
    return [
        {"uid": CLICKHOUSE_UID, "name": "courierwatch ClickHouse", "type": CLICKHOUSE_TYPE,
         "access": "proxy", "isDefault": False,
         "jsonData": {"host": ch.hostname or "clickhouse", "port": ch.port or 8123,
                      "protocol": "http", "secure": ch.scheme == "https",
                      "defaultDatabase": DATABASE, "username": t.clickhouse_user}},
        {"uid": PROMETHEUS_UID, "name": "courierwatch Prometheus", "type": PROMETHEUS_TYPE,
         "access": "proxy", "url": t.prometheus_url, "isDefault": False,
         "jsonData": {"httpMethod": "POST"}},
    ]


def _missing(get: Callable[[str], Any], uid: str) -> bool:
    """True when `get(uid)` answers 404 (absent); other errors propagate."""
    try:
        get(uid)
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return True
        raise
    return False


def _upsert(s: Summary, kind: str, uid: str, get: Callable[[str], Any],
            create: Callable[[], Any], update: Callable[[], Any]) -> None:
    """Create the object when Grafana has none of that uid, else update it; note which."""
    if _missing(get, uid):
        create()
        s.add(kind, uid, "created")
    else:
        update()
        s.add(kind, uid, "updated")


def provision(api: Any, catalog: Catalog, targets: Targets,
              progress: Callable[[str], None] = lambda _: None) -> Summary:
    """Upsert everything through `api` (a grafana_client.GrafanaApi, whose methods are
    untyped); returns what was created and what was updated."""
    s = Summary()
    if _missing(api.folder.get_folder, FOLDER_UID):
        api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
        s.add("folder", FOLDER_UID, "created")
    else:
        api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        s.add("folder", FOLDER_UID, "updated")
    progress("folder")
    for ds in datasources(targets):
        _upsert(s, "datasource", str(ds["uid"]), api.datasource.get_datasource_by_uid,
                partial(api.datasource.create_datasource, ds),
                partial(api.datasource.update_datasource_by_uid, ds["uid"], ds))
        progress("datasource")
    for uid, model in render(catalog).items():
        api.dashboard.update_dashboard({"dashboard": model, "folderUid": FOLDER_UID,
                                        "overwrite": True,
                                        "message": "courierwatch provision grafana"})
        s.add("dashboard", uid, "upserted")
        progress("dashboard")
    cp = contact_point(targets.webhook_url)
    existing = api.alertingprovisioning.get_contactpoints(name=CONTACT_POINT_NAME) or []
    if any(c.get("uid") == cp["uid"] for c in existing):
        api.alertingprovisioning.update_contactpoint(cp["uid"], cp)
        s.add("contact point", cp["uid"], "updated")
    else:
        api.alertingprovisioning.create_contactpoint(cp)
        s.add("contact point", cp["uid"], "created")
    progress("contact point")
    for rule in alert_rules(catalog):
        _upsert(s, "alert rule", str(rule["uid"]), api.alertingprovisioning.get_alertrule,
                partial(api.alertingprovisioning.create_alertrule, rule),
                partial(api.alertingprovisioning.update_alertrule, rule["uid"], rule))
        progress("alert rule")
    return s


def total_steps(catalog: Catalog) -> int:
    return 1 + 2 + len(render(catalog)) + 1 + len(alert_rules(catalog))
