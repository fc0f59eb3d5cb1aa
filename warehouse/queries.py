"""KPI queries: per-cell counts from the aggregate tables and the DELIVERED x ACCEPTED join.

Everything is read by event time in China Standard Time; a period is an hour or a day.
Results are plain counts keyed by (city, company, period_start); turning them into KPIs
is the core's job (courierwatch.figures).
"""

from __future__ import annotations

from dataclasses import dataclass

from courierwatch.cities import YRD_PROVINCE_PREFIXES
from courierwatch.kpi import COUNT_NAMES, TAPE_MM_SUM
from courierwatch.periods import CST_ZONE
from courierwatch.routes import UNCLASSIFIED, RouteTable
from warehouse.client import Warehouse
from warehouse.conflicts import count_corrections, winner_filter, winners

# The filter and its WHERE builder live in warehouse.filters (conflicts needs them too);
# re-exported here, where the reads are.
from warehouse.filters import CellFilter as CellFilter
from warehouse.filters import OutsideScope as OutsideScope
from warehouse.filters import where_clause as where_clause
from warehouse.scoping import system_read

Key = tuple[str, str, str]  # city, company, period_start 'YYYY-MM-DD HH:MM:SS' (CST)


@dataclass(frozen=True, slots=True)
class OnTimeCounts:
    route_class: str
    joined: int        # DELIVERED with a known ACCEPTED on this route class
    on_time: int
    promised: int      # DELIVERED whose parcel has promised_by
    kept: int


# `5min`: the alert evaluator's slices of the on-time join (services.alerts.runner).
_PERIOD_FN = {"hour": "toStartOfHour", "day": "toStartOfDay", "5min": "toStartOfFiveMinutes"}


def _period(col: str, by: str) -> str:
    if by not in _PERIOD_FN:
        raise ValueError(f"period must be hour or day, not {by!r}")
    return f"toString({_PERIOD_FN[by]}({col}, '{CST_ZONE}'))"


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """What the archive holds of one partition, seen from the offset a worker resumes at
    (streams.stream_time): the latest in-figure event time before that offset and over the
    whole partition (None when there is none), and the event ids stored at that offset."""

    before_ms: int | None
    latest_ms: int | None
    ids_at_offset: tuple[str, ...]


@system_read("the stream time of one partition (timestamps) the worker resumes lateness from")
def stored_resume_point(wh: Warehouse, topic: str, partition: int, offset: int) -> ResumePoint:
    """The archive's times of (`topic`, `partition`) before `offset` and in all, and the
    event ids stored at `offset` (at most 16: enough to recognise the message)."""
    rows = wh.query(f"""SELECT
  toUnixTimestamp64Milli(maxIf(ts, late = 0 AND offset < {{o:UInt64}})),
  countIf(late = 0 AND offset < {{o:UInt64}}),
  toUnixTimestamp64Milli(maxIf(ts, late = 0)), countIf(late = 0),
  groupUniqArrayIf(16)(event_id, offset = {{o:UInt64}})
FROM {wh.db}.events WHERE topic = {{t:String}} AND partition = {{p:UInt32}}""",
                    {"o": offset, "t": topic, "p": partition})
    before, n_before, latest, n_latest, ids = rows[0]
    return ResumePoint(int(before) if n_before else None, int(latest) if n_latest else None,
                       tuple(sorted(str(i) for i in ids)))


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
    _correct_for_conflicts(wh, out, where, params, _period("hour", f.by))
    return out


def _correct_for_conflicts(wh: Warehouse, out: dict[Key, dict[str, int]], where: str,
                           params: dict[str, object], period_sql: str) -> None:
    """Count an event id re-sent with other contents once, in its counting version's cell
    (warehouse.conflicts)."""
    for key, fix in count_corrections(wh, where, params, period_sql, winners(wh)).items():
        if key in out:
            for name, n in fix.items():
                out[key][name] -= n


def _route_class_sql(routes: RouteTable) -> tuple[str, str]:
    """(class-name expression, hours expression) over the joined acceptance `a`."""
    yrd = ", ".join(f"'{p}'" for p in YRD_PROVINCE_PREFIXES)
    branches, hours = [], []
    for rc in routes.classes:
        if rc.same_city:
            cond = "a.city = a.dest_city"
        elif rc.endpoints is None:
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

    On a cluster the deliveries are sharded by cell and the acceptances by parcel
    (warehouse.migrations): `GLOBAL IN` sends the delivered parcel ids to every shard once,
    where a plain IN over two Distributed tables is refused (distributed_product_mode).
    On one node it is a plain IN.
    """
    params: dict[str, object] = {}
    where = where_clause(f, "ts", params)
    rc_expr, hours_expr = _route_class_sql(routes)
    counting = winner_filter(winners(wh))  # of a conflicting id, its counting version only
    params |= counting.params
    delivered = (f"SELECT event_id, any(parcel_id) AS d_parcel, any(city) AS d_city, "
                 f"any(company) AS d_company, any(ts) AS d_ts FROM {wh.db}.events "
                 f"WHERE type = 'DELIVERED' AND late = 0 AND {where} AND {counting.sql} "
                 "GROUP BY event_id")
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
            WHERE parcel_id GLOBAL IN (SELECT d_parcel FROM ({delivered}))
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
