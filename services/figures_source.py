"""Fetch figures from whoever owns ClickHouse: a live worker over HTTP, or the store itself.

Through the API the caller's token (COURIERWATCH_TOKEN) decides the scope. Opening the
store directly (no worker running) needs file access to the data directory, which is
access to everything; still, a token given there is honoured, so the command answers the
same rows either way.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from courierwatch.catalog import load_catalog
from courierwatch.cities import CITIES
from courierwatch.companies import load_company_lists
from courierwatch.routes import load_route_table
from courierwatch.scope import Scope
from runtime.settings import Settings
from services.access.tokens import TokenStore
from services.owner import ApiRefused, get_json, running_api
from warehouse.client import Warehouse
from warehouse.conflicts import list_conflicts
from warehouse.dead_letters import count_dead_letters, list_dead_letters
from warehouse.filters import unknown_values
from warehouse.queries import CellFilter, restatements
from warehouse.report import kpi_report


def api_base(settings: Settings) -> str | None:
    """COURIERWATCH_API_URL if set, else the live worker of the data directory, if any."""
    return settings.api_url or running_api(settings.data_dir)


def local_scope(settings: Settings) -> Scope:
    """The scope of a command that opens the store itself: its token's, or national."""
    if not settings.api_token:
        return Scope.national()
    record = TokenStore(settings.data_dir).lookup(settings.api_token)
    if record is None:
        raise ApiRefused(401, "COURIERWATCH_TOKEN is not a token of this data directory")
    return record.parsed_scope


def known_companies() -> frozenset[str]:
    """The registered brand codes: every code of a named company list (companies.yaml)."""
    return frozenset(c for codes in load_company_lists().values() for c in codes)


def check_known(wh: Warehouse, flt: CellFilter) -> None:
    """UnknownValue when the filter names a city or company neither registered nor in the
    store (warehouse.filters.unknown_values): the API and the command line refuse it."""
    unknown_values(wh, flt, CITIES, known_companies())


def _params(city: str | None, company: str | None, start: datetime | None,
            end: datetime | None) -> dict[str, str]:
    return {"city": city or "", "company": company or "",
            "from": start.isoformat() if start else "", "to": end.isoformat() if end else ""}


def fetch_kpi_rows(settings: Settings, city: str | None, company: str | None,
                   start: datetime | None, end: datetime | None,
                   by: str) -> list[dict[str, Any]]:
    base = api_base(settings)
    if base:
        params = _params(city, company, start, end) | {"by": by}
        return list(get_json(base, "/api/kpi", params, token=settings.api_token)["rows"])
    flt = CellFilter(city, company, start, end, by, scope=local_scope(settings))
    wh = Warehouse(settings.clickhouse, settings.database, cluster=settings.clickhouse_cluster)
    try:
        check_known(wh, flt)
        return [r.to_json() for r in kpi_report(wh, flt, load_route_table(), load_catalog(),
                                                settings.min_sample)]
    finally:
        wh.close()


def fetch_restatements(settings: Settings, city: str | None, company: str | None,
                       start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    base = api_base(settings)
    if base:
        return list(get_json(base, "/api/restatements", _params(city, company, start, end),
                             token=settings.api_token)["rows"])
    flt = CellFilter(city, company, start, end, scope=local_scope(settings))
    wh = Warehouse(settings.clickhouse, settings.database, cluster=settings.clickhouse_cluster)
    try:
        check_known(wh, flt)
        return restatements(wh, flt)
    finally:
        wh.close()


def fetch_conflicts(settings: Settings) -> list[dict[str, Any]]:
    """Versions of conflicting event ids (warehouse.conflicts.list_conflicts), within the
    caller's scope."""
    base = api_base(settings)
    if base:
        return list(get_json(base, "/api/conflicts", token=settings.api_token)["rows"])
    flt = CellFilter(scope=local_scope(settings))
    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        return list_conflicts(wh, flt)
    finally:
        wh.close()


def fetch_dead_letters(settings: Settings, city: str | None, company: str | None,
                       start: datetime | None, end: datetime | None,
                       reason: str | None, limit: int = 1000
                       ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Dead letters (warehouse.dead_letters.list_dead_letters), newest `limit` of them, and
    the count of all of them by reason, within the caller's scope."""
    base = api_base(settings)
    if base:
        params = _params(city, company, start, end) | {"limit": str(limit)} | (
            {"reason": reason} if reason else {})
        body = get_json(base, "/api/dead-letters", params, token=settings.api_token)
        rows = list(body["rows"])
        return rows, dict(body.get("by_reason") or Counter(str(r["reason"]) for r in rows))
    flt = CellFilter(city, company, start, end, scope=local_scope(settings))
    wh = Warehouse(settings.clickhouse, settings.database, cluster=settings.clickhouse_cluster)
    try:
        check_known(wh, flt)
        return (list_dead_letters(wh, flt, reason, limit),
                count_dead_letters(wh, flt, reason))
    finally:
        wh.close()
