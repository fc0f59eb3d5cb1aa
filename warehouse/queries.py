"""KPI queries: per-cell counts from the aggregate tables and the DELIVERED x ACCEPTED join.

Everything is read by event time in China Standard Time; a period is an hour or a day.
Results are plain counts keyed by (city, company, period_start); turning them into KPIs
is the core's job (courierwatch.figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from courierwatch.cities import YRD_PROVINCE_PREFIXES, YRD_REGION
from courierwatch.kpi import COUNT_NAMES, TAPE_MM_SUM
from courierwatch.periods import CST_ZONE
from courierwatch.routes import UNCLASSIFIED, RouteTable
from courierwatch.scope import Scope
from warehouse.client import Warehouse
from warehouse.scoping import system_read

Key = tuple[str, str, str]  # city, company, period_start 'YYYY-MM-DD HH:MM:SS' (CST)


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


@dataclass(frozen=True, slots=True)
class OnTimeCounts:
    route_class: str
    joined: int        # DELIVERED with a known ACCEPTED on this route class
    on_time: int
    promised: int      # DELIVERED whose parcel has promised_by
    kept: int


def _period(col: str, by: str) -> str:
    if by not in ("hour", "day"):
        raise ValueError(f"period must be hour or day, not {by!r}")
    fn = "toStartOfHour" if by == "hour" else "toStartOfDay"
    return f"toString({fn}({col}, '{CST_ZONE}'))"


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


@system_read("the ingest watermark (one timestamp) the worker resumes from")
def stored_watermark_ms(wh: Warehouse) -> int:
    """The latest in-figure event time in the archive (0 when empty): survives restarts."""
    rows = wh.query(f"SELECT toUnixTimestamp64Milli(max(ts)), count() FROM {wh.db}.events "
                    "WHERE late = 0")
    return int(rows[0][0]) if rows and rows[0][1] else 0


COUNTS_PER_QUERY = 4


def cell_counts(wh: Warehouse, f: CellFilter) -> dict[Key, dict[str, int]]:
    """Distinct-event counts per cell: every name of `courierwatch.kpi.CELL_COUNT_NAMES`."""
    params: dict[str, object] = {}
    where = where_clause(f, "hour", params)
    out: dict[Key, dict[str, int]] = {}
    # A few counts per query: merging a state means holding its set of event ids, and nine
    # counts are subsets of the ACCEPTED ids, so merging all nineteen at once held nine
    # copies of the largest set (with 5 M parcels in an hour the query alone took ~1 GB).
    for i in range(0, len(COUNT_NAMES), COUNTS_PER_QUERY):
        names = COUNT_NAMES[i:i + COUNTS_PER_QUERY]
        merges = ", ".join(f"uniqExactMerge(`{n}`)" for n in names)
        rows = wh.query(f"""SELECT city, company, {_period('hour', f.by)} AS p, {merges}
            FROM {wh.db}.cell_counts WHERE {where} GROUP BY city, company, p""", params)
        for r in rows:
            counts = out.setdefault((r[0], r[1], r[2]), dict.fromkeys(COUNT_NAMES, 0))
            counts.update(zip(names, map(int, r[3:]), strict=True))
    tape = wh.query(f"""SELECT city, company, p, sum(tape_mm * n) FROM (
          SELECT city, company, {_period('hour', f.by)} AS p, tape_mm,
                 uniqExactMerge(parcels) AS n
          FROM {wh.db}.tape_cells WHERE {where} GROUP BY city, company, p, tape_mm)
        GROUP BY city, company, p""", params)
    for city, company, p, total in tape:
        counts = out.setdefault((city, company, p), dict.fromkeys(COUNT_NAMES, 0))
        counts[TAPE_MM_SUM] = int(total)
    for counts in out.values():
        counts.setdefault(TAPE_MM_SUM, 0)
    return out


def _route_class_sql(routes: RouteTable) -> tuple[str, str]:
    """(class-name expression, hours expression) over the joined acceptance `a`."""
    yrd = ", ".join(f"'{p}'" for p in YRD_PROVINCE_PREFIXES)
    branches, hours = [], []
    for rc in routes.classes:
        if rc.endpoints is None:
            cond = (f"substring(a.city, 1, 2) IN ({yrd}) AND "
                    f"substring(a.dest_city, 1, 2) IN ({yrd})")
        else:
            arr = "[" + ", ".join(f"'{c}'" for c in sorted(rc.endpoints)) + "]"
            cond = f"has({arr}, a.city) AND has({arr}, a.dest_city)"
        if rc.companies is not None:
            comp = "[" + ", ".join(f"'{c}'" for c in sorted(rc.companies)) + "]"
            cond += f" AND has({comp}, a.company)"
        branches.append(f"{cond}, '{rc.name}'")
        hours.append(f"rc = '{rc.name}', {rc.hours * 3_600_000}")
    return (f"multiIf({', '.join(branches)}, '{UNCLASSIFIED}')",
            f"multiIf({', '.join(hours)}, 0)")


def on_time_counts(wh: Warehouse, f: CellFilter,
                   routes: RouteTable) -> dict[Key, list[OnTimeCounts]]:
    """Join each distinct DELIVERED with its parcel's earliest ACCEPTED, per cell and class.

    The cell is the delivery's city, company and period; the route class comes from the
    acceptance (origin city, destination city, company). DELIVERED events whose parcel has
    no ACCEPTED yet are not in any denominator here; they join when it arrives.
    """
    params: dict[str, object] = {}
    where = where_clause(f, "ts", params)
    rc_expr, hours_expr = _route_class_sql(routes)
    delivered = (f"SELECT event_id, any(parcel_id) AS d_parcel, any(city) AS d_city, "
                 f"any(company) AS d_company, any(ts) AS d_ts FROM {wh.db}.events "
                 f"WHERE type = 'DELIVERED' AND late = 0 AND {where} GROUP BY event_id")
    rows = wh.query(f"""
        SELECT d.d_city, d.d_company, {_period('d.d_ts', f.by)} AS p, {rc_expr} AS rc,
               count() AS joined,
               countIf(toUnixTimestamp64Milli(d.d_ts) - toUnixTimestamp64Milli(a.ts)
                       <= {hours_expr}) AS on_time,
               countIf(a.promised_by IS NOT NULL) AS promised,
               countIf(a.promised_by IS NOT NULL AND d.d_ts <= a.promised_by) AS kept
        FROM ({delivered}) AS d
        INNER JOIN (
            SELECT parcel_id, argMax(ts, version) AS ts, argMax(city, version) AS city,
                   argMax(dest_city, version) AS dest_city,
                   argMax(company, version) AS company,
                   argMax(promised_by, version) AS promised_by
            FROM {wh.db}.accepts
            WHERE parcel_id IN (SELECT d_parcel FROM ({delivered}))
            GROUP BY parcel_id) AS a ON d.d_parcel = a.parcel_id
        GROUP BY d.d_city, d.d_company, p, rc""", params)
    out: dict[Key, list[OnTimeCounts]] = {}
    for city, company, p, rc, joined, on_time, promised, kept in rows:
        out.setdefault((city, company, p), []).append(
            OnTimeCounts(rc, int(joined), int(on_time), int(promised), int(kept)))
    return out


RESTATEMENT_FIELDS = ("city", "company", "period", "period_start", "kpi", "old_numerator",
                      "old_denominator", "old_value", "new_numerator", "new_denominator",
                      "new_value", "cause", "restated_at")


def restatements(wh: Warehouse, f: CellFilter) -> list[dict[str, object]]:
    """Recorded changes to already-published figures, newest first."""
    params: dict[str, object] = {}
    where = where_clause(f, "period_start", params)
    rows = wh.query(f"""SELECT city, company, period, toString(period_start), kpi,
            old_numerator, old_denominator, old_value, new_numerator, new_denominator,
            new_value, cause, toString(restated_at)
        FROM {wh.db}.restatements WHERE {where}
        ORDER BY restated_at DESC, city, company, kpi""", params)
    return [dict(zip(RESTATEMENT_FIELDS, r, strict=True)) for r in rows]


def probe_cells(wh: Warehouse, f: CellFilter, company_prefix: str) -> dict[str, int]:
    """{company: 1} for the cells of `f` whose company starts with `company_prefix`: the
    benchmark's latency markers. Reads the key columns of cell_counts only (merging the
    states of every cell held the store's lock for 45 % of a saturated run)."""
    params: dict[str, object] = {"prefix": company_prefix}
    where = where_clause(f, "hour", params)
    rows = wh.query(f"""SELECT DISTINCT company, 1 FROM {wh.db}.cell_counts
        WHERE {where} AND startsWith(company, {{prefix:String}})""", params)
    return {str(c): int(n) for c, n in rows}
