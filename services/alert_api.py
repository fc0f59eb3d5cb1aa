"""GET /api/alerts?active=1&city=&company= -> {"rows": [...]}: the `alerts list` objects.

Served by the worker that owns ClickHouse; read in a thread so ingest keeps going.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from courierwatch.alert_format import alert_row
from warehouse.alert_store import load_alerts
from warehouse.client import Warehouse


def alert_rows(wh: Warehouse, active: bool, city: str | None = None,
               company: str | None = None) -> list[dict[str, Any]]:
    return [alert_row(a) for a in load_alerts(wh, active, city, company)]


def register_alert_views(app: faust.App, wh: Warehouse) -> None:
    @app.page("/api/alerts")
    async def alerts(web: Any, request: Any) -> Any:
        q = request.query
        active = q.get("active", "") in ("1", "true", "yes")
        rows = await asyncio.get_running_loop().run_in_executor(
            None, lambda: alert_rows(wh, active, q.get("city") or None,
                                     q.get("company") or None))
        return web.json({"rows": rows})
