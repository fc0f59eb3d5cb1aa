"""`GET /api/audit` on the worker that owns ClickHouse: the audit log as the store holds it.

The worker syncs the journal into `audit_log` first (services.audit.log.sync), so a CLI that
cannot open chDB while the worker runs still lists and verifies the ClickHouse copy.
Answers `{"records": [...]}` in seq order, each record as sealed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust

from runtime.settings import Settings
from services.access.guard import request_scope
from services.audit import log as audit_log
from warehouse.client import Warehouse


def register_audit_views(app: faust.App, settings: Settings, wh: Warehouse) -> None:
    def read() -> list[dict[str, Any]]:
        audit_log.sync(wh, settings.data_dir)
        return audit_log.store_records(wh)

    @app.page("/api/audit")
    async def audit(web: Any, request: Any) -> Any:
        """National scope only: the log names every office's replays, imports and tokens."""
        if not request_scope(request).is_national:
            return web.json({"error": "the audit log is visible to the national scope only"},
                            status=403)
        rows = await asyncio.get_running_loop().run_in_executor(None, read)
        return web.json({"records": rows})
