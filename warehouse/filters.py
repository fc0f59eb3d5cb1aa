"""What a read selects, and the one builder of its WHERE: the caller's scope always first.

`CellFilter` cannot be built without a scope (Snuba's required tenant filter); every read
of figures, restatements, conflicts and the like builds its condition with `where_clause`,
which binds every value as a query parameter.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from courierwatch.cities import YRD_PROVINCE_PREFIXES, YRD_REGION
from courierwatch.periods import CST_ZONE
from courierwatch.scope import Scope


class OutsideScope(PermissionError):
    """The filter asks for a city (or region) its scope does not cover."""


@dataclass(frozen=True, slots=True)
class CellFilter:
    """What a read selects. `scope` is required (keyword-only, no default): the tenant
    condition of Snuba's datasets. A filter cannot be built without saying whose figures
    these are; `Scope.national()` is an explicit choice, never a default.
    """

    city: str | None = None       # a code, or YRD for every Shanghai/Jiangsu/Zhejiang city
    company: str | None = None
    start: datetime | None = None  # aware; inclusive
    end: datetime | None = None    # aware; exclusive
    by: str = "day"               # hour | day
    scope: Scope = field(kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.scope, Scope):
            raise TypeError(f"CellFilter needs a Scope, not {type(self.scope).__name__}")
        if self.city is not None and not self.scope.covers(self.city):
            raise OutsideScope(f"city {self.city} is outside the scope {self.scope}")


def where_clause(f: CellFilter, time_col: str, params: dict[str, object],
                 city_col: str = "city", company_col: str = "company") -> str:
    """The filter as a SQL condition; every value is a bound parameter in `params`.

    The scope's condition comes first and is always there: this is the one place reads
    are restricted to the caller's cities (courierwatch.scope).
    """
    conds = [f.scope.sql_condition(city_col, params)]
    if f.city == YRD_REGION:
        prefixes = ", ".join(f"'{p}'" for p in YRD_PROVINCE_PREFIXES)
        conds.append(f"substring({city_col}, 1, 2) IN ({prefixes})")
    elif f.city:
        params["city"] = f.city
        conds.append(f"{city_col} = {{city:String}}")
    if f.company:
        params["company"] = f.company
        conds.append(f"{company_col} = {{company:String}}")
    if f.start:
        params["start"] = int(f.start.timestamp())
        conds.append(f"{time_col} >= toDateTime({{start:Int64}})")
    if f.end:
        params["end"] = int(f.end.timestamp())
        conds.append(f"{time_col} < toDateTime({{end:Int64}})")
    return " AND ".join(conds)




class UnknownValue(ValueError):
    """The filter names a city or company that neither the registry nor the store knows."""


def unknown_values(wh: Any, f: CellFilter, known_cities: Collection[str],
                   known_companies: Collection[str]) -> None:
    """Raise UnknownValue when `f` names a city or company that is not registered
    (`known_*`) and has no figure in the store within the scope: such a filter can only
    give an empty answer, which would read as "no data". An unregistered code with data
    (an import's city 990000, company OLIST) is known."""
    checks = []
    if f.city and f.city != YRD_REGION and f.city not in known_cities:
        checks.append(("city", f.city))
    if f.company and f.company != "*" and f.company not in known_companies:
        checks.append(("company", f.company))
    for column, value in checks:
        params: dict[str, object] = {"v": value}
        scope = f.scope.sql_condition("city", params)
        found = wh.query(f"SELECT count() FROM (SELECT 1 FROM {wh.db}.cell_counts "
                         f"WHERE {scope} AND {column} = {{v:String}} LIMIT 1)", params)[0][0]
        if not found:
            hint = ("a city of the registry (courierwatch policies list names them), by "
                    "code or name" if column == "city" else ", ".join(sorted(known_companies)))
            raise UnknownValue(f"unknown {column} {value!r}: not registered and no data for "
                               f"it; known: {hint}")


def period_sql(col: str, by: str) -> str:
    """The start of the period holding `col`, as text in CST. week: from Monday; month:
    from the 1st; range: the filter's start (one period for the whole range; the query
    binds {start:Int64} through where_clause)."""
    if by == "range":
        return f"toString(toDateTime({{start:Int64}}, '{CST_ZONE}'))"
    # `5min`: the alert evaluator's slices of the on-time join (services.alerts.runner).
    fn = {"hour": "toStartOfHour", "day": "toStartOfDay", "5min": "toStartOfFiveMinutes"}.get(by)
    if fn:
        return f"toString({fn}({col}, '{CST_ZONE}'))"
    fn = {"week": "toMonday", "month": "toStartOfMonth"}.get(by)
    if fn is None:
        raise ValueError(f"period must be hour, day, week, month or range, not {by!r}")
    return f"toString(toDateTime({fn}({col}, '{CST_ZONE}'), '{CST_ZONE}'))"
