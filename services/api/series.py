"""API for the dashboard's charts and the catalog: GET /api/series and GET /api/policies.

- GET /api/series?city=C[&company=X,Y][&kpi=K,L][&from=T][&to=T][&by=hour|day]
  -> {"city", "city_name", "by", "min_sample", "series": [{"kpi", "unit", "company",
     "points": [{"t", "value", "numerator", "denominator", "status"}]}], "targets": [...]}
  One series per KPI x company of the city (company '*' = all companies, always included),
  points in time order, the same figures and judgements as `courierwatch kpi --by hour`;
  a series whose hours are too small to judge (most below `min_sample`) is summed into the
  smallest CST-aligned window that reaches it (3, 6, 12 h or the day: `window_h`, which the
  chart states) and judged again, so a company's breach stays visible; a share above 100 %
  is not a figure: its point has value null and `invalid` true;
  `targets` lists every target that judged a point (a chart's target lines), with its
  strength (binding, or aspirational for 力争/基本 sentences) and the companies it judges
  (null: every company and the all-companies row).
- GET /api/policies[?city=C] -> {"policies": [...]}: the catalog as `policies export`
  prints it, optionally only the targets that cover one city.

Reports run in a thread (the warehouse serialises them with ingest).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import faust

from courierwatch.board import coarsen, smallest_judgeable_window, window_figures
from courierwatch.catalog import Catalog
from courierwatch.cities import city_label, resolve_city
from courierwatch.periods import CST
from courierwatch.routes import RouteTable
from warehouse.client import Warehouse
from warehouse.queries import CellFilter
from warehouse.report import kpi_report


def _split(text: str | None) -> set[str] | None:
    items = {s.strip() for s in (text or "").split(",") if s.strip()}
    return items or None


def series_payload(rows: Iterable[dict[str, Any]], city: str, by: str, catalog: Catalog,
                   min_sample: int, kpis: set[str] | None = None,
                   companies: set[str] | None = None) -> dict[str, Any]:
    """Group report rows (`ReportRow.to_json()` dicts of one city) into chart series.

    Keeps the rows of `kpis` (all when None) and of `companies` plus '*' (all when None).
    `min_sample` (COURIERWATCH_MIN_SAMPLE) tells the page which rates are too few to judge.
    Pure: the same rows give the same payload.
    """
    series: dict[tuple[str, str], dict[str, Any]] = {}
    targets: dict[tuple[str, str], dict[str, Any]] = {}
    raw: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if kpis is not None and r["kpi"] not in kpis:
            continue
        if companies is not None and r["company"] not in companies | {"*"}:
            continue
        series.setdefault((r["kpi"], r["company"]), {
            "kpi": r["kpi"], "unit": r["unit"], "company": r["company"], "points": []})
        raw.setdefault((r["kpi"], r["company"]), []).append(r)
        for t in r["thresholds"]:
            targets.setdefault((r["kpi"], t["policy_id"]), {
                "kpi": r["kpi"], "policy_id": t["policy_id"], "comparator": t["comparator"],
                "threshold": t["threshold"], "unit": t["unit"], "source": t["source"],
                "strength": _strength(catalog, t), "companies": _companies(catalog, t)})
    for key, s in series.items():
        hours = smallest_judgeable_window(raw[key], min_sample)
        s["window_h"] = hours
        if hours == 1:
            s["points"] = [_point(r["period_start"], r) for r in raw[key]]
        else:
            s["points"] = [_point(datetime.fromtimestamp(start / 1000, CST).isoformat(),
                                  window_figures(group, catalog, min_sample)[0].to_json())
                           for start, group in coarsen(raw[key], hours)]
        s["points"].sort(key=lambda p: p["t"])
    return {"city": city, "city_name": city_label(city), "by": by, "min_sample": min_sample,
            "series": sorted(series.values(), key=lambda s: (s["kpi"], s["company"] != "*",
                                                             s["company"])),
            "targets": sorted(targets.values(), key=lambda t: (t["kpi"], t["policy_id"]))}


def _point(t: str, r: dict[str, Any]) -> dict[str, Any]:
    """A chart point; a share above 100 % cannot be true and is flagged, not drawn."""
    invalid = r["unit"] == "ratio" and r["value"] is not None and r["value"] > 1 + 1e-9
    return {"t": t, "value": None if invalid else r["value"], "numerator": r["numerator"],
            "denominator": r["denominator"], "status": "invalid" if invalid else r["status"],
            "invalid": invalid}


def _strength(catalog: Catalog, threshold: dict[str, Any]) -> str:
    if threshold.get("strength"):
        return str(threshold["strength"])
    try:
        return catalog.by_id(threshold["policy_id"]).strength
    except KeyError:
        return "binding"


def _companies(catalog: Catalog, threshold: dict[str, Any]) -> list[str] | None:
    """The companies a target judges (None: every company, and the all-companies row)."""
    try:
        companies = catalog.by_id(threshold["policy_id"]).companies
    except KeyError:
        return None
    return None if companies is None else list(companies)


def policies_payload(catalog: Catalog, city: str | None) -> dict[str, Any]:
    return {"policies": [t.to_json() for t in catalog.targets
                         if city is None or t.covers_city(city)]}


def register_series_views(app: faust.App, wh: Warehouse, catalog: Catalog, routes: RouteTable,
                          parse_filter: Any, min_sample: int) -> None:
    """`parse_filter(request) -> CellFilter` is services.access.guard.request_filter: the
    request's filter within the caller's scope, checked by the access middleware;
    `min_sample` the setting COURIERWATCH_MIN_SAMPLE (the figures' one judgement rule)."""

    @app.page("/api/series")
    async def series(web: Any, request: Any) -> Any:
        q = request.query
        try:
            if not q.get("city"):
                raise ValueError("city is required (a 6-digit code, a name, or YRD)")
            city = resolve_city(q["city"])
            flt: CellFilter = parse_filter(request)
            by = q.get("by") or "hour"
            if by not in ("hour", "day"):
                raise ValueError(f"by must be hour or day, not {by!r}")
        except ValueError as exc:
            return web.json({"error": str(exc)}, status=400)
        flt = CellFilter(city=city, start=flt.start, end=flt.end, by=by, scope=flt.scope)
        rows = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [r.to_json() for r in kpi_report(wh, flt, routes, catalog,
                                                           min_sample)])
        return web.json(series_payload(rows, city, flt.by, catalog, min_sample,
                                       _split(q.get("kpi")), _split(q.get("company"))))

    @app.page("/api/policies")
    async def policies(web: Any, request: Any) -> Any:
        city = request.query.get("city")
        try:
            code = resolve_city(city) if city else None
        except ValueError as exc:
            return web.json({"error": str(exc)}, status=400)
        return web.json(policies_payload(catalog, code))
