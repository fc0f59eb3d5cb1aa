"""Complaint figures as cohorts: each complaint with all its stages in the cell it was filed.

A complaint (company, complaint_id) has stages FILED, ACCEPTED (受理) and RESOLVED, often
days apart. Counting each stage in the period of its own event let a share pass 100 %
(2 accepted of 1 filed in an hour). The rule (docs/semantics.md, "Cohorts"):

- a complaint counts in the cell (city, company, period) of its earliest FILED stage, and
  only once it has one; its later ACCEPTED and RESOLVED count there too, whenever they
  come, so every numerator is a subset of its denominator;
- its channel (申诉 appeal or 投诉 company complaint) is the one named by its earliest stage
  that names one (absent everywhere: an appeal); stages naming different channels are a
  conflict (warehouse.conflicts.channel_conflicts, listed by `courierwatch conflicts`);
- its satisfied flag is that of its earliest RESOLVED stage (its valid flag counts per
  parcel: warehouse.parcel_rates).

Computed at query time from the archive (complaints are a small share of the events), so
the ingest path does no extra work and an old database gets these figures from its
`events` as they stand. Late events (beyond the allowed lateness) are not counted; of a
conflicting re-send (warehouse.conflicts) only the counting version is read.
"""

from __future__ import annotations

from courierwatch.kpi import COMPLAINT_COHORT_COUNTS
from warehouse.client import Warehouse
from warehouse.conflicts import winner_filter, winners
from warehouse.filters import CellFilter, period_sql, where_clause

Key = tuple[str, str, str]

_ORDER = "(ts, event_id)"
# Per complaint: the cell of its earliest FILED, its channel, whether later stages came.
_PER_COMPLAINT = f"""
    SELECT company, complaint_id,
           argMinIf(city, {_ORDER}, stage = 'FILED') AS f_city,
           minIf(ts, stage = 'FILED') AS f_ts,
           argMinIf(channel, {_ORDER}, channel != '') != 'COMPANY' AS appeal,
           countIf(stage = 'ACCEPTED') > 0 AS accepted,
           countIf(stage = 'RESOLVED') > 0 AS resolved,
           argMinIf(satisfied, {_ORDER}, stage = 'RESOLVED') AS satisfied
    FROM {{db}}.events
    WHERE type = 'COMPLAINT' AND late = 0 AND {{counting}}
      AND (company, complaint_id) IN (
          SELECT company, complaint_id FROM {{db}}.events
          WHERE type = 'COMPLAINT' AND stage = 'FILED' AND late = 0 AND {{counting}}
            AND {{filed}})
    GROUP BY company, complaint_id
    HAVING countIf(stage = 'FILED') > 0"""


def complaint_counts(wh: Warehouse, f: CellFilter) -> dict[Key, dict[str, int]]:
    """Per cell of filing: the counts of `courierwatch.kpi.COMPLAINT_COHORT_COUNTS`."""
    params: dict[str, object] = {}
    filed = where_clause(f, "ts", params)
    # The earliest FILED itself must be in the read (another FILED of it may be inside).
    cohort = where_clause(f, "f_ts", params, city_col="f_city")
    counting = winner_filter(winners(wh))
    params |= counting.params
    inner = _PER_COMPLAINT.format(db=wh.db, counting=counting.sql, filed=filed)
    rows = wh.query(f"""
        SELECT f_city, company, {period_sql('f_ts', f.by)} AS p,
               countIf(appeal), countIf(appeal AND accepted), countIf(appeal AND resolved),
               countIf(appeal AND resolved AND satisfied),
               countIf(NOT appeal AND resolved), countIf(NOT appeal AND resolved AND satisfied)
        FROM ({inner})
        WHERE {cohort}
        GROUP BY f_city, company, p""", params)
    names = ("complaint_filed", "complaint_accepted", "complaint_resolved",
             "complaint_satisfied", "company_complaint_resolved", "company_complaint_satisfied")
    assert set(names) == set(COMPLAINT_COHORT_COUNTS), "kpi.COUNTS changed: update this query"
    return {(str(r[0]), str(r[1]), str(r[2])): dict(zip(names, map(int, r[3:]), strict=True))
            for r in rows}
