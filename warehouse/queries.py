"""KPI queries: per-cell counts from the aggregate tables and the DELIVERED x ACCEPTED join.

Everything is read by event time in China Standard Time; a period is an hour or a day.
Results are plain counts keyed by (city, company, period_start); turning them into KPIs
is the core's job (courierwatch.figures).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from courierwatch.cities import YRD_PROVINCE_PREFIXES, YRD_REGION
from courierwatch.figures import ClassCount, JoinedCell
from courierwatch.kpi import (
    CELL_COUNT_NAMES,
    COMPLAINT_COHORT_COUNTS,
    COUNT_NAMES,
    PARCEL_COHORT_COUNTS,
    TAPE_MM_SUM,
)
from courierwatch.routes import UNCLASSIFIED, RouteClass, RouteTable
from courierwatch.scope import Scope
from warehouse.client import Warehouse
from warehouse.complaints import complaint_counts
from warehouse.conflicts import count_corrections, winner_filter, winners

# The filter and its WHERE builder live in warehouse.filters (conflicts needs them too);
# re-exported here, where the reads are.
from warehouse.filters import CellFilter as CellFilter
from warehouse.filters import OutsideScope as OutsideScope
from warehouse.filters import period_sql
from warehouse.filters import where_clause as where_clause
from warehouse.parcel_rates import parcel_rate_counts
from warehouse.scoping import system_read

Key = tuple[str, str, str]  # city, company, period_start 'YYYY-MM-DD HH:MM:SS' (CST)


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
        rows = wh.query(f"""SELECT city, company, {period_sql('hour', f.by)} AS p, {merges}
            FROM {wh.db}.cell_counts WHERE {where} GROUP BY city, company, p""", params)
        for r in rows:
            counts = out.setdefault((r[0], r[1], r[2]), dict.fromkeys(COUNT_NAMES, 0))
            counts.update(zip(names, map(int, r[3:]), strict=True))
    tape = wh.query(f"""SELECT city, company, p, sum(tape_mm * n) FROM (
          SELECT city, company, {period_sql('hour', f.by)} AS p, tape_mm,
                 uniqExactMerge(parcels) AS n
          FROM {wh.db}.tape_cells WHERE {where} GROUP BY city, company, p, tape_mm)
        GROUP BY city, company, p""", params)
    for city, company, p, total in tape:
        counts = out.setdefault((city, company, p), dict.fromkeys(COUNT_NAMES, 0))
        counts[TAPE_MM_SUM] = int(total)
    for counts in out.values():
        counts.setdefault(TAPE_MM_SUM, 0)
    _correct_for_conflicts(wh, out, where, params, period_sql("hour", f.by))
    # Complaint shares and per-parcel rates are cohorts (warehouse.complaints,
    # warehouse.parcel_rates), not the per-event states of the same names.
    for counts in out.values():
        counts.update(dict.fromkeys(COMPLAINT_COHORT_COUNTS + PARCEL_COHORT_COUNTS, 0))
    for cohorts in (complaint_counts(wh, f), parcel_rate_counts(wh, f)):
        for key, cohort in cohorts.items():
            out.setdefault(key, dict.fromkeys(CELL_COUNT_NAMES, 0)).update(cohort)
    return out


def _correct_for_conflicts(wh: Warehouse, out: dict[Key, dict[str, int]], where: str,
                           params: dict[str, object], period_sql: str) -> None:
    """Count an event id re-sent with other contents once, in its counting version's cell
    (warehouse.conflicts)."""
    for key, fix in count_corrections(wh, where, params, period_sql, winners(wh)).items():
        if key in out:
            for name, n in fix.items():
                out[key][name] -= n


def _route_sql(rc: RouteClass) -> str:
    """The class's route condition over the joined parcel's origin `o`, destination `dst`
    and company `co` (courierwatch.routes.RouteClass.route_meets, in SQL)."""
    yrd = ", ".join(f"'{p}'" for p in YRD_PROVINCE_PREFIXES)
    conds = []
    if rc.companies is not None:
        conds.append("has([" + ", ".join(f"'{c}'" for c in sorted(rc.companies)) + "], co)")
    if rc.same_city:
        conds.append("o = dst")
    else:
        conds.append("o != dst")
        if rc.endpoints is None:
            conds.append(f"substring(o, 1, 2) IN ({yrd}) AND substring(dst, 1, 2) IN ({yrd})")
        else:
            arr = "[" + ", ".join(f"'{c}'" for c in sorted(rc.endpoints)) + "]"
            conds.append(f"has({arr}, o) AND has({arr}, dst)")
    conds += [f"NOT ({_route_sql(x)})" for x in rc.except_classes]
    return "(" + " AND ".join(conds) + ")"


def _class_arrays(routes: RouteTable) -> dict[str, str]:
    """SQL literals of the classes: names, route conditions, hours in ms, plan cities,
    judged flags (names and codes come from the route table's validated YAML)."""
    def q(xs: Iterable[str]) -> str:
        return "[" + ", ".join(f"'{x}'" for x in xs) + "]"

    return {
        "names": q(rc.name for rc in routes.classes),
        "hits": "[" + ", ".join(_route_sql(rc) for rc in routes.classes) + "]",
        "limits": "[" + ", ".join(f"toInt64({rc.hours * 3_600_000})"
                                  for rc in routes.classes) + "]",
        "plans": "[" + ", ".join(q(sorted(rc.plan_cities or ())) + "::Array(String)"
                                 for rc in routes.classes) + "]",
        "judged": "[" + ", ".join("1" if rc.judged else "0" for rc in routes.classes) + "]",
    }


def _cell_condition(f: CellFilter, params: dict[str, object]) -> str:
    """Which cells (`cell`: a city code or YRD) the read keeps: the scope first, then the
    filter's city; the YRD row only when the scope covers the whole region."""
    if f.city == YRD_REGION:
        return "cell = 'YRD'" if f.scope.covers(YRD_REGION) else "0"
    cities = where_clause(replace(f, company=None, start=None, end=None), "ts", params,
                          city_col="cell")
    if f.city is None and f.scope.covers(YRD_REGION):
        return f"(cell = 'YRD' OR ({cities}))"
    return f"(cell != 'YRD' AND {cities})"


def _ends_prefilter(wh: Warehouse, f: CellFilter, params: dict[str, object]) -> str:
    """Deliveries worth joining: those of parcels with an end in the filter's cities (all
    of them for a national read without a city)."""
    if f.city is None and f.scope.is_national:
        return "1"
    place = replace(f, city=None if f.city == YRD_REGION else f.city, company=None, start=None,
                    end=None)
    by_origin = where_clause(place, "ts", params, city_col="city")
    by_dest = where_clause(place, "ts", params, city_col="dest_city")
    if f.city == YRD_REGION:
        yrd = ", ".join(f"'{p}'" for p in YRD_PROVINCE_PREFIXES)
        by_origin += f" AND substring(city, 1, 2) IN ({yrd})"
        by_dest += f" AND substring(dest_city, 1, 2) IN ({yrd})"
    return (f"parcel_id GLOBAL IN (SELECT parcel_id FROM {wh.db}.accepts "
            f"WHERE ({by_origin}) OR ({by_dest}))")


def on_time_counts(wh: Warehouse, f: CellFilter, routes: RouteTable) -> dict[Key, JoinedCell]:
    """Join each distinct DELIVERED with its parcel's earliest ACCEPTED; count per cell and
    route class.

    A joined parcel counts at both ends of its route (courierwatch.routes.cells_of): in the
    cell of its origin city (the acceptance's city), of its destination city (the
    acceptance's `dest_city`; once when the same) and once in the YRD row when either end
    is in the YRD; the cell's company and period are the delivery's. In each cell it counts
    in every route class whose route condition it meets and that reports there (nested
    limits; a class of one city's own plan only in that city's cells). DELIVERED events
    whose parcel has no ACCEPTED yet are not in any denominator; they join when it arrives.

    On a cluster the deliveries are sharded by cell and the acceptances by parcel
    (warehouse.migrations): `GLOBAL IN` sends the delivered parcel ids to every shard once,
    where a plain IN over two Distributed tables is refused (distributed_product_mode).
    On one node it is a plain IN.
    """
    params: dict[str, object] = {}
    # The deliveries' company and time; the scope and city apply to the cells below.
    when = where_clause(replace(f, city=None, scope=Scope.national()), "ts", params)
    cells = _cell_condition(f, params)
    ends = _ends_prefilter(wh, f, params)
    counting = winner_filter(winners(wh))  # of a conflicting id, its counting version only
    params |= counting.params
    k = _class_arrays(routes)
    yrd = ", ".join(f"'{p}'" for p in YRD_PROVINCE_PREFIXES)
    delivered = (f"SELECT event_id, any(parcel_id) AS d_parcel, any(company) AS d_company, "
                 f"any(ts) AS d_ts FROM {wh.db}.events "
                 f"WHERE type = 'DELIVERED' AND late = 0 AND {when} AND {ends} "
                 f"AND {counting.sql} GROUP BY event_id")
    joined = f"""
        SELECT d.d_company AS company, {period_sql('d.d_ts', f.by)} AS p,
               toUnixTimestamp64Milli(d.d_ts) - toUnixTimestamp64Milli(a.ts) AS elapsed,
               a.promised_by IS NOT NULL AS has_promise,
               a.promised_by IS NOT NULL AND d.d_ts <= a.promised_by AS kept,
               a.city AS o, a.dest_city AS dst, a.company AS co
        FROM ({delivered}) AS d
        INNER JOIN (
            SELECT parcel_id, argMax(ts, version) AS ts, argMax(city, version) AS city,
                   argMax(dest_city, version) AS dest_city,
                   argMax(company, version) AS company,
                   argMax(promised_by, version) AS promised_by
            FROM {wh.db}.accepts
            WHERE parcel_id GLOBAL IN (SELECT d_parcel FROM ({delivered}))
            GROUP BY parcel_id) AS a ON d.d_parcel = a.parcel_id"""
    per_cell = f"""
        SELECT cell, company, p, elapsed, has_promise, kept,
               arrayFilter((n, h, pc) -> h AND (empty(pc) OR has(pc, cell)),
                           {k['names']}, hits, {k['plans']}) AS classes,
               arrayMap(n -> transform(n, {k['names']}, {k['limits']}, toInt64(0)),
                        arrayFilter(n -> transform(n, {k['names']}, {k['judged']}, 0) = 1,
                                    classes)) AS limits
        FROM (SELECT *, {k['hits']} AS hits FROM ({joined}))
        ARRAY JOIN arrayConcat(if(o = dst, [o], [o, dst]),
                               if(substring(o, 1, 2) IN ({yrd}) OR substring(dst, 1, 2) IN ({yrd}),
                                  ['{YRD_REGION}'], [])) AS cell
        WHERE {cells}"""
    rows = wh.query(f"""
        SELECT cell, company, p, rc, count(),
               countIf(elapsed <= transform(rc, {k['names']}, {k['limits']}, toInt64(-1))),
               countIf(notEmpty(limits)), countIf(notEmpty(limits) AND elapsed <= arrayMin(limits)),
               countIf(has_promise), countIf(kept)
        FROM ({per_cell})
        ARRAY JOIN arrayConcat(['*'], if(empty(classes), ['{UNCLASSIFIED}'], classes)) AS rc
        GROUP BY cell, company, p, rc""", params)
    totals: dict[Key, list[int]] = {}
    classes: dict[Key, list[ClassCount]] = {}
    for cell, company, p, rc, n, on_time, judged, judged_on_time, promised, kept in rows:
        key = (str(cell), str(company), str(p))
        if rc == "*":
            totals[key] = [int(n), int(judged), int(judged_on_time), int(promised), int(kept)]
        else:
            classes.setdefault(key, []).append(ClassCount(str(rc), int(n), int(on_time)))
    out: dict[Key, JoinedCell] = {}
    for key, (n, judged, judged_on_time, promised, kept) in totals.items():
        per = sorted(classes.get(key, []), key=lambda c: c.route_class)
        unclassified = sum(c.joined for c in per if c.route_class == UNCLASSIFIED)
        out[key] = JoinedCell(n, unclassified, judged, judged_on_time, promised, kept,
                              tuple(c for c in per if c.route_class != UNCLASSIFIED))
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
