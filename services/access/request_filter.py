"""Query parameters of a read (`city`, `company`, `from`, `to`, `by`) -> a scoped CellFilter.

Every value is checked against its exact shape before anything else sees it, so a hostile
value is refused with 400 and never reaches SQL (where values are bound parameters anyway):
a city is a 6-digit code, a known name or YRD; a company a brand code as in scan.v1 (any
case) or * (courierwatch.filter_values, the rules of the command line too); a time
ISO 8601 (China Standard Time unless it has an offset) within MIN_YEAR..MAX_YEAR; a range
at most MAX_RANGE_DAYS long. A city outside the caller's scope raises OutsideScope (403),
decided from the scope alone, before any query, so the answer is the same whether or not
that city has data.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from courierwatch.filter_values import (
    PERIODS,
    FilterError,
    check_range,
    parse_city,
    parse_company,
)
from courierwatch.periods import as_cst
from courierwatch.scope import Scope
from warehouse.queries import CellFilter, OutsideScope

MAX_VALUE_CHARS = 64
MAX_RANGE_DAYS = 400          # a year of day rows and some; longer reads go through replay
MIN_YEAR, MAX_YEAR = 2000, 2100

__all__ = ["BadRequest", "OutsideScope", "parse_filter"]


class BadRequest(ValueError):
    """A parameter of the wrong shape; the message names it and the expected form."""


def _time(name: str, text: str) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: not an ISO 8601 date or time") from None
    t = as_cst(t)
    if not MIN_YEAR <= t.year <= MAX_YEAR:
        raise BadRequest(f"{name}: year outside {MIN_YEAR}..{MAX_YEAR}")
    return t


def _city(text: str) -> str:
    try:
        return parse_city(text)
    except FilterError as exc:
        raise BadRequest(str(exc)) from None


def parse_filter(query: Mapping[str, str], scope: Scope) -> CellFilter:
    """The filter the request asks for, restricted to `scope`. Raises BadRequest or
    OutsideScope; an absent or empty parameter means "no restriction" (within the scope)."""
    values = {k: (query.get(k) or "").strip() for k in ("city", "company", "from", "to", "by")}
    for k, v in values.items():
        if len(v) > MAX_VALUE_CHARS:
            raise BadRequest(f"{k}: longer than {MAX_VALUE_CHARS} characters")
    city = _city(values["city"]) if values["city"] else None
    try:
        companies = ([parse_company(c) for c in values["company"].split(",")]
                     if values["company"] else [])
    except FilterError as exc:
        raise BadRequest(f"{exc}, or several separated by commas") from None
    # One company filters the read; a list (the dashboard's series) is narrowed by the
    # handler, within the same scope.
    company = companies[0] if len(companies) == 1 else None
    start = _time("from", values["from"]) if values["from"] else None
    end = _time("to", values["to"]) if values["to"] else None
    if start and end:
        try:
            check_range(start, end)
        except FilterError as exc:
            raise BadRequest(str(exc).replace("--", "")) from None
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise BadRequest(f"from..to spans more than {MAX_RANGE_DAYS} days")
    by = values["by"] or "day"
    if by not in PERIODS:
        raise BadRequest(f"by: one of {', '.join(PERIODS)}")
    if by == "range" and not (start and end):
        raise BadRequest("by=range needs from and to")
    return CellFilter(city, company, start, end, by, scope=scope)
