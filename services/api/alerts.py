"""GET /api/alerts?active=1&city=&company= -> {"rows": [...]}: the `alerts list` objects;
POST /api/grafana-alerts: the receiver of Grafana's webhook contact point (the default of
`courierwatch provision grafana`).

Served by the worker that owns ClickHouse; read in a thread so ingest keeps going.
Grafana's notifications are logged, one line per alert (status, labels, startsAt) and
counted in `courierwatch_grafana_notifications_total`: the built-in evaluator stays the
reference (docs/alerting.md), Grafana's rules are the dashboards' view of the same catalog.
The caller needs the national scope (a token in the contact point's Authorization header
once tokens exist); a body that is not Grafana's webhook JSON is refused with 400.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
import orjson
from faust.web import View

from courierwatch.alert_format import alert_row
from services.access.guard import request_filter, request_scope
from streams import metrics
from warehouse.alert_store import load_alerts
from warehouse.client import Warehouse
from warehouse.filters import CellFilter


def alert_rows(wh: Warehouse, flt: CellFilter, active: bool) -> list[dict[str, Any]]:
    """The `alerts list` objects of the alerts inside `flt` (its scope first)."""
    return [alert_row(a) for a in load_alerts(wh, flt, active)]


log = logging.getLogger(__name__)
MAX_WEBHOOK_BYTES = 1 << 20


def grafana_alerts(body: bytes) -> list[dict[str, Any]]:
    """The alerts of one Grafana webhook message; ValueError with a one-line reason when
    the body is not one (JSON object with an `alerts` list of objects with `labels`)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    alerts = doc.get("alerts") if isinstance(doc, dict) else None
    if not isinstance(alerts, list) or not all(
            isinstance(a, dict) and isinstance(a.get("labels"), dict) for a in alerts):
        raise ValueError("not a Grafana webhook message: needs an 'alerts' list of objects "
                         "with 'labels'")
    return alerts


class GrafanaAlerts(View):
    """POST /api/grafana-alerts (see the module docstring)."""

    async def post(self, request: Any) -> Any:
        if not request_scope(request).is_national:
            return self.json({"error": "Grafana's notifications need the national scope"},
                             status=403)
        body = await request.content.read(MAX_WEBHOOK_BYTES + 1)
        if len(body) > MAX_WEBHOOK_BYTES:
            return self.json({"error": f"body over {MAX_WEBHOOK_BYTES} bytes"}, status=413)
        try:
            alerts = grafana_alerts(body)
        except ValueError as exc:
            return self.json({"error": str(exc)}, status=400)
        for a in alerts:
            status = str(a.get("status", ""))[:16]
            metrics.GRAFANA_NOTIFICATIONS.labels(status if status in (
                "firing", "resolved") else "other").inc()
            log.warning("grafana alert %s %s since %s", status,
                        orjson.dumps(a["labels"], option=orjson.OPT_SORT_KEYS).decode()[:2000],
                        str(a.get("startsAt", ""))[:40])
        return self.json({"received": len(alerts)})


def register_alert_views(app: faust.App, wh: Warehouse) -> None:
    app.page("/api/grafana-alerts")(GrafanaAlerts)

    @app.page("/api/alerts")
    async def alerts(web: Any, request: Any) -> Any:
        flt = request_filter(request)
        active = request.query.get("active", "") in ("1", "true", "yes")
        rows = await asyncio.get_running_loop().run_in_executor(
            None, lambda: alert_rows(wh, flt, active))
        return web.json({"rows": rows})
