"""GET /api/board: the breach board, company x KPI per city over a window, judged.

- GET /api/board?[city=C][&company=X][&from=T][&to=T]
  -> {"from", "to", "min_sample", "kpis": [{"kpi", "zh", "en", "unit", "denominator"}],
      "cities": [{"city", "city_name", "breaching": [company...], "aspirational": [...]}],
      "cells": [{"city", "company", "kpi", "value", "unit", "text", "numerator",
                 "denominator", "status", "breach_strength", "targets": [...]}]}
  Each cell is the window's figure (courierwatch.board.window_figures) with every target
  that applies to it: a company-scoped target (the major brands) judges those companies'
  cells only. `status` adds `invalid` to the figures' statuses: a share above 100 % cannot
  be true (its cause is upstream) and is never shown or judged as a figure. Each target
  carries its quote, section and source for the page's hover. Read within the caller's scope.
- GET /api/board?latest=1 -> {"data_up_to_ms"}: the latest event time stored within the
  caller's scope (the page's "data up to" when no live watermark exists, e.g. `serve` after
  a `process` run), null without data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import faust

from courierwatch.board import window_figures
from courierwatch.catalog import Catalog
from courierwatch.cities import city_label
from courierwatch.judgement import BREACH, ReportRow
from courierwatch.kpi_names import KPI_LABELS, denominator_name
from courierwatch.periods import CST
from courierwatch.routes import RouteTable
from courierwatch.units import fmt_figure, fmt_target
from warehouse.client import Warehouse
from warehouse.filters import CellFilter, where_clause
from warehouse.report import kpi_report

INVALID = "invalid"
HOURLY_UP_TO = timedelta(days=8)  # longer windows (or none) are summed from days


def _cell(row: ReportRow, catalog: Catalog) -> dict[str, Any]:
    out = row.to_json()
    out.pop("period_start", None)
    value, unit = out["value"], out["unit"]
    if unit == "ratio" and value is not None and value > 1 + 1e-9:
        out["status"], out["breach_strength"], out["value"] = INVALID, None, None
        out["invalid_value"] = value
    out["text"] = fmt_figure(value, unit)
    out["denominator_name"] = denominator_name(out["kpi"])
    for t in out["thresholds"]:
        policy = catalog.by_id(t["policy_id"])
        t["text"] = fmt_target(t["comparator"], t["threshold"], t["unit"])
        t["quote"], t["section"] = policy.quote, policy.section
        if out["status"] == INVALID:
            t["status"] = INVALID
    return out


def board_payload(rows: Iterable[ReportRow], catalog: Catalog, min_sample: int,
                  start: str | None, end: str | None) -> dict[str, Any]:
    """Pure: the judged window rows as the page's board."""
    cells = [_cell(r, catalog) for r in rows]
    cities: dict[str, dict[str, Any]] = {}
    for c in cells:
        city = cities.setdefault(c["city"], {"city": c["city"], "city_name": city_label(c["city"]),
                                             "breaching": [], "aspirational": []})
        if c["company"] == "*" or c["status"] != BREACH:
            continue
        which = "aspirational" if c["breach_strength"] == "aspirational" else "breaching"
        if c["company"] not in city[which]:
            city[which].append(c["company"])
    for city in cities.values():
        city["aspirational"] = [x for x in city["aspirational"] if x not in city["breaching"]]
    units = {c["kpi"]: c["unit"] for c in cells}
    kpis = [{"kpi": k, "zh": zh, "en": en, "unit": units[k],
             "denominator": denominator_name(k)} for k, (zh, en) in KPI_LABELS.items()
            if k in units]
    return {"from": start, "to": end, "min_sample": min_sample, "kpis": kpis,
            "cities": sorted(cities.values(), key=lambda c: c["city"]), "cells": cells}


def board_filter(flt: CellFilter) -> CellFilter:
    """Hours for a window up to 8 days, days beyond (and for all data)."""
    short = (flt.start is not None and (flt.end or datetime.now(CST)) - flt.start
             <= HOURLY_UP_TO)
    return CellFilter(city=flt.city, company=flt.company, start=flt.start, end=flt.end,
                      by="hour" if short else "day", scope=flt.scope)


def register_board_view(app: faust.App, wh: Warehouse, catalog: Catalog, routes: RouteTable,
                        parse_filter: Any, min_sample: int) -> None:
    """`parse_filter` is services.access.guard.request_filter (the caller's scope)."""

    @app.page("/api/board")
    async def board(web: Any, request: Any) -> Any:
        flt = board_filter(parse_filter(request))
        if request.query.get("latest"):
            latest = await asyncio.get_running_loop().run_in_executor(
                None, lambda: latest_event_ms(wh, flt))
            return web.json({"data_up_to_ms": latest})

        def read() -> dict[str, Any]:
            rows = [r.to_json() for r in kpi_report(wh, flt, routes, catalog, min_sample)]
            return board_payload(window_figures(rows, catalog, min_sample), catalog,
                                 min_sample, _iso(flt.start), _iso(flt.end))

        return web.json(await asyncio.get_running_loop().run_in_executor(None, read))


def latest_event_ms(wh: Warehouse, flt: CellFilter) -> int | None:
    """The latest event time (epoch ms) in the archive within the filter's scope and city."""
    params: dict[str, object] = {}
    where = where_clause(CellFilter(city=flt.city, scope=flt.scope), "ts", params)
    rows = wh.query(f"SELECT count(), toUnixTimestamp64Milli(max(ts)) FROM {wh.db}.events "
                    f"WHERE {where}", params)
    return int(rows[0][1]) if rows and int(rows[0][0]) else None


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(CST).isoformat(timespec="seconds")
