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
- GET /api/series, GET /api/policies (services/api_series.py), GET /openapi.json
  (services/openapi.py), GET /static/... (services/static_assets.py)

Queries run in a thread (the warehouse serialises them with ingest) so the event loop
keeps consuming while a report is computed.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from importlib import resources
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from courierwatch.catalog import load_catalog
from courierwatch.periods import as_cst
from courierwatch.routes import load_route_table
from runtime.settings import Settings
from services.api_series import register_series_views
from services.openapi import spec
from services.static_assets import register_assets
from warehouse.client import Warehouse
from warehouse.conflicts import list_conflicts
from warehouse.queries import CellFilter, restatements
from warehouse.report import kpi_report


def filter_from_query(q: Any) -> CellFilter:
    def when(name: str) -> datetime | None:
        v = q.get(name)
        return as_cst(datetime.fromisoformat(v)) if v else None

    return CellFilter(city=q.get("city") or None, company=q.get("company") or None,
                      start=when("from"), end=when("to"), by=q.get("by", "day"))


def register_views(app: faust.App, settings: Settings, wh: Warehouse) -> None:
    catalog = load_catalog()
    routes = load_route_table()

    dashboard = resources.files("services").joinpath("static/dashboard.html").read_text("utf-8")

    @app.page("/")
    async def index(web: Any, request: Any) -> Any:
        return web.html(dashboard)

    register_assets(app)
    register_series_views(app, wh, catalog, routes, filter_from_query, settings.min_sample)

    @app.page("/openapi.json")
    async def openapi(web: Any, request: Any) -> Any:
        return web.json(spec())

    @app.page("/api/kpi")
    async def kpi(web: Any, request: Any) -> Any:
        try:
            flt = filter_from_query(request.query)
        except ValueError as exc:
            return web.json({"error": str(exc)}, status=400)
        rows = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [r.to_json() for r in kpi_report(wh, flt, routes, catalog,
                                                           settings.min_sample)])
        return web.json({"rows": rows, "min_sample": settings.min_sample})

    @app.page("/api/restatements")
    async def restated(web: Any, request: Any) -> Any:
        flt = filter_from_query(request.query)
        rows = await asyncio.get_running_loop().run_in_executor(
            None, lambda: restatements(wh, flt))
        return web.json({"rows": rows})

    @app.page("/api/conflicts")
    async def conflicting(web: Any, request: Any) -> Any:
        """Versions of event ids re-sent with other contents (warehouse.conflicts)."""
        rows = await asyncio.get_running_loop().run_in_executor(None, lambda: list_conflicts(wh))
        return web.json({"rows": rows})

    @app.page("/api/probe")
    async def probe(web: Any, request: Any) -> Any:
        """For `courierwatch bench`: is each marker (an ACCEPTED alone in its cell, company
        <prefix><i>) counted in the KPI store yet? Read from cell_counts, as the KPIs are.

        A marker's cell exists in cell_counts only once its state holds the marker, so the
        probe reads the key columns alone: merging the states of every cell in the range
        (the first version) held the store's lock for 45 % of a saturated run at 4 polls a
        second and slowed the very ingest it measured."""
        city, prefix = request.query.get("city", ""), request.query.get("prefix", "")
        if not city or not prefix:
            return web.json({"error": "city and prefix are required"}, status=400)
        rows = await asyncio.get_running_loop().run_in_executor(None, lambda: wh.query(
            f"SELECT DISTINCT company, 1 FROM {wh.db}.cell_counts "
            "WHERE city = {city:String} AND startsWith(company, {prefix:String})",
            {"city": city, "prefix": prefix}))
        return web.json({"cells": {c: int(n) for c, n in rows}})

    @app.page("/api/status")
    async def status(web: Any, request: Any) -> Any:
        ing = app.ingestor  # type: ignore[attr-defined]
        return web.json({"archived": ing.archived, "late": ing.late,
                         "dead_lettered": ing.dead, "watermark_ms": ing.watermark_ms,
                         "publisher": app.leadership.leading})  # type: ignore[attr-defined]

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])
