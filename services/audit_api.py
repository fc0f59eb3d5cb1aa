"""`GET /api/audit` on the worker that owns ClickHouse: the audit log as the store holds it.

The worker syncs the journal into `audit_log` first (services.audit_log.sync), so a CLI that
cannot open chDB while the worker runs still lists and verifies the ClickHouse copy.
Answers `{"records": [...]}` in seq order, each record as sealed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from runtime.settings import Settings
from services import audit_log
from warehouse.client import Warehouse


def register_audit_views(app: faust.App, settings: Settings, wh: Warehouse) -> None:
    def read() -> list[dict[str, Any]]:
        audit_log.sync(wh, settings.data_dir)
        return audit_log.store_records(wh)

    @app.page("/api/audit")
    async def audit(web: Any, request: Any) -> Any:
        rows = await asyncio.get_running_loop().run_in_executor(None, read)
        return web.json({"records": rows})
