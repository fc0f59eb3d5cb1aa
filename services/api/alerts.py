"""GET /api/alerts?active=1&city=&company= -> {"rows": [...]}: the `alerts list` objects.

Served by the worker that owns ClickHouse; read in a thread so ingest keeps going.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from courierwatch.alert_format import alert_row
from services.access.guard import request_filter
from warehouse.alert_store import load_alerts
from warehouse.client import Warehouse
from warehouse.filters import CellFilter


def alert_rows(wh: Warehouse, flt: CellFilter, active: bool) -> list[dict[str, Any]]:
    """The `alerts list` objects of the alerts inside `flt` (its scope first)."""
    return [alert_row(a) for a in load_alerts(wh, flt, active)]


def register_alert_views(app: faust.App, wh: Warehouse) -> None:
    @app.page("/api/alerts")
    async def alerts(web: Any, request: Any) -> Any:
        flt = request_filter(request)
        active = request.query.get("active", "") in ("1", "true", "yes")
        rows = await asyncio.get_running_loop().run_in_executor(
            None, lambda: alert_rows(wh, flt, active))
        return web.json({"rows": rows})
