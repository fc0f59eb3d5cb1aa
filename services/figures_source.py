"""Fetch KPI rows from whoever owns ClickHouse: a live worker over HTTP, or the store itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from runtime.settings import Settings
from services.owner import get_json, running_api
from warehouse.client import Warehouse
from warehouse.conflicts import list_conflicts
from warehouse.queries import CellFilter, restatements
from warehouse.report import kpi_report


def fetch_kpi_rows(settings: Settings, city: str | None, company: str | None,
                   start: datetime | None, end: datetime | None,
                   by: str) -> list[dict[str, Any]]:
    base = running_api(settings.data_dir)
    if base:
        params = {"city": city or "", "company": company or "", "by": by,
                  "from": start.isoformat() if start else "",
                  "to": end.isoformat() if end else ""}
        return list(get_json(base, "/api/kpi", params)["rows"])
    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        flt = CellFilter(city, company, start, end, by)
        return [r.to_json() for r in kpi_report(wh, flt, load_route_table(), load_catalog(),
                                                settings.min_sample)]
    finally:
        wh.close()


def fetch_restatements(settings: Settings, city: str | None, company: str | None,
                       start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    base = running_api(settings.data_dir)
    if base:
        params = {"city": city or "", "company": company or "",
                  "from": start.isoformat() if start else "", "to": end.isoformat() if end else ""}
        return list(get_json(base, "/api/restatements", params)["rows"])
    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        return restatements(wh, CellFilter(city, company, start, end))
    finally:
        wh.close()


def fetch_conflicts(settings: Settings) -> list[dict[str, Any]]:
    """Versions of conflicting event ids (warehouse.conflicts.list_conflicts)."""
    base = running_api(settings.data_dir)
    if base:
        return list(get_json(base, "/api/conflicts")["rows"])
    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        return list_conflicts(wh)
    finally:
        wh.close()
