"""HTTP API of the process that owns ClickHouse, served by the faust worker's web server.

- GET /                                                  -> the live dashboard (HTML)
- GET /api/kpi?city=&company=&from=&to=&by=hour|day  -> {"rows": [...], "min_sample": n}: the
  rows of `courierwatch kpi`; a rate on fewer than `min_sample` is `too_few` (the
  dashboard reads the number from here)
- GET /api/restatements?city=&company=&from=&to=          -> changes to published figures
- GET /api/conflicts                                  -> versions of re-sent event ids
- GET /api/status                                     -> ingest counters, watermark, and
  whether this worker is the deployment's publisher (streams.leader)
- GET /api/probe?city=&prefix=                        -> {"cells": {company: accepted}} of the
  city's cells whose company starts with prefix (the benchmark's latency markers)
- GET /metrics                                        -> Prometheus exposition
- GET /api/series, GET /api/policies (services/api/series.py), GET /openapi.json
  (services/api/openapi.py), GET /static/... (services/api/static_assets.py)

Every route but the page sits behind services.access.guard: the caller's token gives a scope,
the request's filter is parsed within it, and each handler reads with `request_filter`
(whose scope the data layer binds into every query). SCOPED_ROUTES and SCOPE_FREE_ROUTES
list every /api route; a test fails when a route is in neither.

Queries run in a thread (the warehouse serialises them with ingest) so the event loop
keeps consuming while a report is computed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from importlib import resources
from typing import Any, cast

import faust
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from runtime.settings import Settings
from services.access.guard import ScopedRegistry, access_middleware, request_filter, request_scope
from services.api.openapi import spec
from services.api.series import register_series_views
from services.api.static_assets import register_assets
from warehouse.client import Warehouse
from warehouse.conflicts import list_conflicts
from warehouse.dead_letters import list_dead_letters
from warehouse.queries import probe_cells, restatements
from warehouse.report import kpi_report

# Every /api route reads through the caller's scope, or is listed here with the reason it
# needs none (it still needs a token once tokens exist).
SCOPED_ROUTES = frozenset({"/api/kpi", "/api/restatements", "/api/probe", "/api/status",
                           "/api/conflicts", "/api/dead-letters",
                           "/api/audit",  # audit: national only
                           "/api/series", "/api/alerts",
                           "/api/grafana-alerts"})  # grafana-alerts: national only
SCOPE_FREE_ROUTES: dict[str, str] = {
    "/api/policies": "the policy catalog: targets quoted from the five public seed plans, "
                     "no figures (a city outside the scope is still refused by the middleware)",
}
_PREFIX = re.compile(r"[A-Za-z0-9_]{1,32}")


def register_views(app: faust.App, settings: Settings, wh: Warehouse) -> None:
    catalog = load_catalog()
    routes = load_route_table()

    dashboard = resources.files("services.api").joinpath("static/dashboard.html").read_text("utf-8")
    # faust's aiohttp driver: its Application is `web_app`; middlewares freeze at start-up.
    cast(Any, app.web).web_app.middlewares.append(access_middleware(settings))

    @app.page("/")
    async def index(web: Any, request: Any) -> Any:
        return web.html(dashboard)

    register_assets(app)
    register_series_views(app, wh, catalog, routes, request_filter, settings.min_sample)

    @app.page("/openapi.json")
    async def openapi(web: Any, request: Any) -> Any:
        return web.json(spec())

    @app.page("/api/kpi")
    async def kpi(web: Any, request: Any) -> Any:
        flt = request_filter(request)
        rows = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [r.to_json() for r in kpi_report(wh, flt, routes, catalog,
                                                           settings.min_sample)])
        return web.json({"rows": rows, "min_sample": settings.min_sample})

    async def rows_of(web: Any, read: Callable[[], list[Any]]) -> Any:
        """`{"rows": read()}`, the store read run off the event loop."""
        rows = await asyncio.get_running_loop().run_in_executor(None, read)
        return web.json({"rows": rows})

    @app.page("/api/restatements")
    async def restated(web: Any, request: Any) -> Any:
        flt = request_filter(request)
        return await rows_of(web, lambda: restatements(wh, flt))

    @app.page("/api/conflicts")
    async def conflicting(web: Any, request: Any) -> Any:
        """Versions of event ids re-sent with other contents (warehouse.conflicts)."""
        flt = request_filter(request)
        return await rows_of(web, lambda: list_conflicts(wh, flt))

    @app.page("/api/dead-letters")
    async def dead(web: Any, request: Any) -> Any:
        """Dead letters with their reasons and redacted copies (warehouse.dead_letters),
        within the caller's scope; `reason` narrows to one reason."""
        flt, reason = request_filter(request), request.query.get("reason") or None
        return await rows_of(web, lambda: list_dead_letters(wh, flt, reason))

    @app.page("/api/probe")
    async def probe(web: Any, request: Any) -> Any:
        """For `courierwatch bench`: is each marker (an ACCEPTED alone in its cell, company
        <prefix><i>) counted in the KPI store yet? Read from cell_counts, as the KPIs are.

        A marker's cell exists in cell_counts only once its state holds the marker, so the
        probe reads the key columns alone: merging the states of every cell in the range
        (the first version) held the store's lock for 45 % of a saturated run at 4 polls a
        second and slowed the very ingest it measured."""
        flt, prefix = request_filter(request), request.query.get("prefix", "")
        if not flt.city or not _PREFIX.fullmatch(prefix):
            return web.json({"error": "city and prefix (letters, digits, _) are required"},
                            status=400)
        cells = await asyncio.get_running_loop().run_in_executor(
            None, lambda: probe_cells(wh, flt, prefix))
        return web.json({"cells": cells})

    @app.page("/api/status")
    async def status(web: Any, request: Any) -> Any:
        """Counters of the whole stream: every city's events, so national scope only; any
        other scope sees the watermark (how current the figures are) alone."""
        ing = app.ingestor  # type: ignore[attr-defined]
        if not request_scope(request).is_national:
            return web.json({"watermark_ms": ing.watermark_ms})
        return web.json({"archived": ing.archived, "late": ing.late,
                         "dead_lettered": ing.dead, "watermark_ms": ing.watermark_ms,
                         "publisher": app.leadership.leading})  # type: ignore[attr-defined]

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        """Per-city samples only for the national scope (which local mode is)."""
        registry = REGISTRY if request_scope(request).is_national else ScopedRegistry()
        return web.bytes(generate_latest(registry),
                         content_type=CONTENT_TYPE_LATEST.split(";")[0])
