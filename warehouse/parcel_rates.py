"""Per-parcel rates as cohorts: of the parcels accepted in a cell, those with a delay,
damage or loss exception or a valid appeal, whenever and wherever that happened.

DESIGN.md's delay, damage, loss and valid-appeal rates divide by the ACCEPTED of a cell.
Counting each EXCEPTION or RESOLVED in its own cell (a destination hub's hour) set it
against acceptances it has nothing to do with: a hub city's night hour could show 1 delay
of 0 parcels. The rule (docs/semantics.md, "Cohorts"): a parcel counts in the cell of its
earliest ACCEPTED (the `accepts` table: city, company, CST period), once per kind however
many exceptions of that kind it has, so every numerator is a subset of the denominator's
parcels. A complaint's valid appeal is that of warehouse.complaints (the earliest naming
stage's channel is APPEAL or none; its earliest RESOLVED is valid).

Computed at query time from `events` and `accepts` (exceptions and complaints are a small
share of the events): the ingest path does no extra work and an old database gets these
figures from its archive as it stands. An exception or complaint whose parcel has no
ACCEPTED is in no cell until the acceptance arrives.
"""

from __future__ import annotations

from courierwatch.kpi import PARCEL_COHORT_COUNTS
from warehouse.client import Warehouse
from warehouse.conflicts import winner_filter, winners
from warehouse.filters import CellFilter, period_sql, where_clause

Key = tuple[str, str, str]

# The flags per parcel, in the order of PARCEL_COHORT_COUNTS.
_FLAGS = ("exc_delay", "exc_damage", "exc_loss", "complaint_valid")
_ORDER = "(ts, event_id)"


def parcel_rate_counts(wh: Warehouse, f: CellFilter) -> dict[Key, dict[str, int]]:
    """Per acceptance cell: the counts of `courierwatch.kpi.PARCEL_COHORT_COUNTS`."""
    assert _FLAGS == PARCEL_COHORT_COUNTS, "kpi.PARCEL_COHORT_COUNTS changed: update this query"
    params: dict[str, object] = {}
    on_acceptance = where_clause(f, "a.ts", params, city_col="a.city", company_col="a.company")
    counting = winner_filter(winners(wh))
    params |= counting.params
    # An exception or appeal cannot precede its parcel's acceptance by more than clock skew.
    since = "ts >= toDateTime({start:Int64}) - INTERVAL 1 DAY" if f.start else "1"
    troubles = f"""
        SELECT parcel_id, max(d) AS delay, max(g) AS damage, max(l) AS loss, max(v) AS valid
        FROM (
            SELECT parcel_id, kind = 'DELAY' AS d, kind = 'DAMAGE' AS g, kind = 'LOSS' AS l,
                   0 AS v
            FROM {wh.db}.events
            WHERE type = 'EXCEPTION' AND kind IN ('DELAY', 'DAMAGE', 'LOSS') AND late = 0
              AND {since} AND {counting.sql}
            UNION ALL
            SELECT any(parcel_id), 0, 0, 0,
                   argMinIf(channel, {_ORDER}, channel != '') != 'COMPANY'
                   AND countIf(stage = 'RESOLVED') > 0
                   AND argMinIf(valid, {_ORDER}, stage = 'RESOLVED') = 1
            FROM {wh.db}.events
            WHERE type = 'COMPLAINT' AND late = 0 AND {since} AND {counting.sql}
            GROUP BY company, complaint_id)
        GROUP BY parcel_id HAVING delay OR damage OR loss OR valid"""
    rows = wh.query(f"""
        SELECT a.city, a.company, {period_sql('a.ts', f.by)} AS p,
               countIf(t.delay = 1), countIf(t.damage = 1), countIf(t.loss = 1),
               countIf(t.valid = 1)
        FROM (
            SELECT parcel_id, argMax(ts, version) AS ts, argMax(city, version) AS city,
                   argMax(company, version) AS company
            FROM {wh.db}.accepts
            WHERE parcel_id GLOBAL IN (SELECT parcel_id FROM ({troubles}))
            GROUP BY parcel_id) AS a
        INNER JOIN ({troubles}) AS t ON a.parcel_id = t.parcel_id
        WHERE {on_acceptance}
        GROUP BY a.city, a.company, p""", params)
    return {(str(r[0]), str(r[1]), str(r[2])): dict(zip(_FLAGS, map(int, r[3:]), strict=True))
            for r in rows}

