"""Fetch figures from whoever owns ClickHouse: a live worker over HTTP, or the store itself.

Through the API the caller's token (COURIERWATCH_TOKEN) decides the scope. Opening the
store directly (no worker running) needs file access to the data directory, which is
access to everything; still, a token given there is honoured, so the command answers the
same rows either way.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
from warehouse.filters import CellFilter, unknown_values
from warehouse.queries import restatements
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


Params = Mapping[str, str]
Read = Callable[[Warehouse, CellFilter, Settings, Params], list[dict[str, Any]]]
Extra = Callable[[Warehouse, CellFilter, Settings, Params], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RowSource:
    """Rows one API endpoint serves: its path, and how the store gives the same rows to a
    command that opens it itself (the filter already bound to the caller's scope; `params`
    are the endpoint's own parameters beyond the filter, e.g. `reason`); `extra`, what the
    endpoint's body holds beside its rows (e.g. dead letters' counts by reason)."""

    path: str
    read: Read
    extra: Extra | None = None


def fetch_body(settings: Settings, source: RowSource, city: str | None = None,
               company: str | None = None, start: datetime | None = None,
               end: datetime | None = None, by: str | None = None,
               **params: str) -> dict[str, Any]:
    """The body of `source` (`{"rows": [...], ...}`): from the live worker's API when one
    runs (its token decides the scope), else read from the store opened here (cluster
    included) within `local_scope`, after refusing a city or company that is neither
    registered nor in the store (UnknownValue). `by` and `params` are sent only when given."""
    base = api_base(settings)
    if base:
        query = _params(city, company, start, end) | ({"by": by} if by else {}) | params
        return dict(get_json(base, source.path, query, token=settings.api_token))
    flt = CellFilter(city, company, start, end, by or "day", scope=local_scope(settings))
    wh = Warehouse(settings.clickhouse, settings.database, cluster=settings.clickhouse_cluster)
    try:
        check_known(wh, flt)
        body = {"rows": source.read(wh, flt, settings, params)}
        return body | (source.extra(wh, flt, settings, params) if source.extra else {})
    finally:
        wh.close()


def fetch_rows(settings: Settings, source: RowSource, city: str | None = None,
               company: str | None = None, start: datetime | None = None,
               end: datetime | None = None, by: str | None = None,
               **params: str) -> list[dict[str, Any]]:
    """The rows of `source` (fetch_body's)."""
    return list(fetch_body(settings, source, city, company, start, end, by, **params)["rows"])


KPI_ROWS = RowSource("/api/kpi", lambda wh, flt, s, _: [
    r.to_json() for r in kpi_report(wh, flt, load_route_table(), load_catalog(), s.min_sample)])
RESTATEMENT_ROWS = RowSource("/api/restatements", lambda wh, flt, _s, _p: restatements(wh, flt))
CONFLICT_ROWS = RowSource(  # versions of conflicting event ids (warehouse.conflicts)
    "/api/conflicts", lambda wh, flt, _s, _p: list_conflicts(wh, flt))
DEAD_LETTER_ROWS = RowSource(  # `reason` narrows to one reason, `limit` the newest shown
    "/api/dead-letters",
    lambda wh, flt, _s, p: list_dead_letters(wh, flt, p.get("reason") or None,
                                             int(p.get("limit") or 1000)),
    lambda wh, flt, _s, p: {"by_reason": count_dead_letters(wh, flt, p.get("reason") or None)})


def fetch_dead_letters(settings: Settings, city: str | None, company: str | None,
                       start: datetime | None, end: datetime | None,
                       reason: str | None, limit: int = 1000
                       ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Dead letters (warehouse.dead_letters.list_dead_letters), the newest `limit` of them,
    and the count of all of them by reason, within the caller's scope."""
    body = fetch_body(settings, DEAD_LETTER_ROWS, city, company, start, end,
                      limit=str(limit), **({"reason": reason} if reason else {}))
    rows = list(body["rows"])
    return rows, dict(body.get("by_reason") or Counter(str(r["reason"]) for r in rows))
