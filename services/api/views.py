"""HTTP API of the process that owns ClickHouse, served by the faust worker's web server.

- GET /                                                  -> the live dashboard (HTML)
- GET /api/kpi?city=&company=&from=&to=&by=hour|day  -> {"rows": [...], "min_sample": n}: the
  rows of `courierwatch kpi`; a rate on fewer than `min_sample` is `too_few` (the
  dashboard reads the number from here)
- GET /api/restatements?city=&company=&from=&to=          -> changes to published figures
- GET /api/conflicts                                  -> versions of re-sent event ids
- GET /api/dead-letters?city=&company=&from=&to=&reason= -> dead letters, redacted copies
- GET /api/status                                     -> ingest counters, watermark, and
  whether this worker is the deployment's publisher (streams.leader)
- GET /api/probe?city=&prefix=                        -> {"cells": {company: accepted}} of the
  city's cells whose company starts with prefix (the benchmark's latency markers)
- GET /metrics                                        -> Prometheus exposition
- GET /api/series, GET /api/policies (services/api/series.py), GET /api/board
  (services/api/board.py), GET /openapi.json
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
from courierwatch.filter_values import FilterError, kpi_matches, parse_kpis
from courierwatch.routes import load_route_table
from runtime.settings import Settings
from services.access.guard import ScopedRegistry, access_middleware, request_filter, request_scope
from services.api.board import register_board_view
from services.api.openapi import spec
from services.api.series import register_series_views
from services.api.static_assets import register_assets
from services.figures_source import check_known
from warehouse.client import Warehouse
from warehouse.conflicts import list_conflicts
from warehouse.dead_letters import count_dead_letters, list_dead_letters
from warehouse.filters import UnknownValue
from warehouse.queries import probe_cells, restatements
from warehouse.report import kpi_report

# Every /api route reads through the caller's scope, or is listed here with the reason it
# needs none (it still needs a token once tokens exist).
SCOPED_ROUTES = frozenset({"/api/kpi", "/api/restatements", "/api/probe", "/api/status",
                           "/api/conflicts", "/api/dead-letters",
                           "/api/audit", "/api/replay",  # audit, replay: national only
                           "/api/series", "/api/alerts", "/api/board",
                           "/api/grafana-alerts"})  # grafana-alerts: national only
SCOPE_FREE_ROUTES: dict[str, str] = {
    "/api/policies": "the policy catalog: targets quoted from the five public seed plans, "
                     "no figures (a city outside the scope is still refused by the middleware)",
}
_PREFIX = re.compile(r"[A-Za-z0-9_]{1,32}")
MAX_DEAD_LETTERS = 100_000  # rows one /api/dead-letters answer may hold


def register_views(app: faust.App, settings: Settings, wh: Warehouse) -> None:
    """Every route of this module, by group: the page and its assets, the figures, and the
    operations routes (the audit and alert routes: services.api.audit and .alerts)."""
    # faust's aiohttp driver: its Application is `web_app`; middlewares freeze at start-up.
    cast(Any, app.web).web_app.middlewares.append(access_middleware(settings))
    register_page_views(app)
    register_figure_views(app, settings, wh)
    register_operations_views(app, wh)


def register_page_views(app: faust.App) -> None:
    """The dashboard page, its static assets and the API's OpenAPI description."""
    dashboard = resources.files("services.api").joinpath("static/dashboard.html").read_text("utf-8")

    @app.page("/")
    async def index(web: Any, request: Any) -> Any:
        return web.html(dashboard)

    register_assets(app)

    @app.page("/openapi.json")
    async def openapi(web: Any, request: Any) -> Any:
        return web.json(spec())


async def rows_of(web: Any, read: Callable[[], list[Any] | dict[str, Any]],
                  check: Callable[[], None] | None = None) -> Any:
    """`{"rows": read()}` (or the body `read` gives), the store read run off the event
    loop; `check` first (for example that a city or company named is registered or in the
    store), its UnknownValue answered with 400."""
    def checked() -> dict[str, Any]:
        if check is not None:
            check()
        out = read()
        return out if isinstance(out, dict) else {"rows": out}
    try:
        body = await asyncio.get_running_loop().run_in_executor(None, checked)
    except UnknownValue as exc:
        return web.json({"error": str(exc)}, status=400)
    return web.json(body)


def register_figure_views(app: faust.App, settings: Settings, wh: Warehouse) -> None:
    """The figures and what stands behind them, each read within the caller's scope: KPI
    rows, series and policies, restatements, conflicting re-sends, dead letters."""
    catalog = load_catalog()
    routes = load_route_table()
    register_series_views(app, wh, catalog, routes, request_filter, settings.min_sample)
    register_board_view(app, wh, catalog, routes, request_filter, settings.min_sample)

    @app.page("/api/kpi")
    async def kpi(web: Any, request: Any) -> Any:
        flt = request_filter(request)
        try:
            wanted = parse_kpis(request.query["kpi"]) if request.query.get("kpi") else None
        except FilterError as exc:
            return web.json({"error": str(exc)}, status=400)

        def read() -> list[Any]:
            check_known(wh, flt)
            return [r.to_json() for r in kpi_report(wh, flt, routes, catalog,
                                                    settings.min_sample)
                    if wanted is None or kpi_matches(r.figure.kpi, wanted)]
        try:
            rows = await asyncio.get_running_loop().run_in_executor(None, read)
        except UnknownValue as exc:
            return web.json({"error": str(exc)}, status=400)
        return web.json({"rows": rows, "min_sample": settings.min_sample})

    @app.page("/api/restatements")
    async def restated(web: Any, request: Any) -> Any:
        flt = request_filter(request)
        return await rows_of(web, lambda: restatements(wh, flt), lambda: check_known(wh, flt))

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
        limit_text = request.query.get("limit") or "1000"
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_DEAD_LETTERS:
            return web.json({"error": f"limit: 1..{MAX_DEAD_LETTERS}"}, status=400)

        return await rows_of(web, lambda: {
            "rows": list_dead_letters(wh, flt, reason, int(limit_text)),
            "by_reason": count_dead_letters(wh, flt, reason)}, lambda: check_known(wh, flt))


def register_operations_views(app: faust.App, wh: Warehouse) -> None:
    """What operators and the benchmark read: the benchmark's probe, the worker's status,
    Prometheus metrics."""

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
        published = ing.publisher.published_until_ms if ing.publisher else 0
        return web.json({"archived": ing.archived, "late": ing.late,
                         "dead_lettered": ing.dead, "watermark_ms": ing.watermark_ms,
                         "publisher": app.leadership.leading,  # type: ignore[attr-defined]
                         "published_until_ms": published})

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        """Per-city samples only for the national scope (which local mode is)."""
        registry = REGISTRY if request_scope(request).is_national else ScopedRegistry()
        return web.bytes(generate_latest(registry),
                         content_type=CONTENT_TYPE_LATEST.split(";")[0])
