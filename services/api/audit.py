"""`GET /api/audit` on the worker that owns ClickHouse: the audit log as the store holds it;
`GET /api/replay`: a replay run by that worker, so an auditor replays while `serve` or the
demo runs (chDB lets one process own the data directory).

The worker syncs the journal into `audit_log` first (services.audit.log.sync), so a CLI that
cannot open chDB while the worker runs still lists and verifies the ClickHouse copy.
Answers `{"records": [...]}` in seq order, each record as sealed.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import faust

from runtime.settings import Settings
from services.access.guard import request_filter, request_scope
from services.audit import log as audit_log
from services.audit.replay import run_replay
from warehouse.client import Warehouse

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
REPLAYS_DIR = "replays"  # under the data directory: where the worker writes a replay


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

    @app.page("/api/replay")
    async def replay(web: Any, request: Any) -> Any:
        """Replay `from`..`to` (with `city`, `company`, `by`) in this worker, which owns the
        store: the same run_replay as `courierwatch replay` with nothing running, so its
        kpis.json is byte-identical. The files go to <data dir>/replays/<name>/ (`name`:
        letters, digits, - and _), which the command copies to its --out. National scope
        only: a replay reads every figure of its range and writes the audit log."""
        if not request_scope(request).is_national:
            return web.json({"error": "replays are for the national scope only"}, status=403)
        flt, name = request_filter(request), request.query.get("name", "")
        if flt.start is None or flt.end is None:
            return web.json({"error": "from and to are required"}, status=400)
        if not _NAME.fullmatch(name):
            return web.json({"error": "name: 1-64 letters, digits, - or _"}, status=400)
        out = settings.data_dir / REPLAYS_DIR / name
        summary = await asyncio.get_running_loop().run_in_executor(
            None, lambda: run_replay(settings, flt, out, wh=wh))
        return web.json(summary)
