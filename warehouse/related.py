"""The events outside a read's own cells and period that its figures also read.

A replay copies the period's events of the selected cities into an isolated database and
recomputes them (services.audit.replay); since issue 20 some figures of a cell read events
that lie elsewhere or later (docs/semantics.md, "Which city a figure counts in"):

- the join counts a parcel at both ends of its route: deliveries in the period made in
  other cities, of parcels with an end in the selected cities, and their acceptances;
- complaint shares are cohorts of their FILED stage: the later stages (any time, any city)
  of complaints filed in the cells;
- per-parcel rates are cohorts of the ACCEPTED: the exceptions and complaints (any time,
  any city) of parcels accepted in the cells.

`related_events_condition` is the SQL condition selecting exactly those (over `events`),
with every value bound in `params`; the caller adds its own pinning and excludes what it
copied already.
"""

from __future__ import annotations

from dataclasses import replace

from courierwatch.scope import Scope
from warehouse.filters import CellFilter, where_clause


def related_events_condition(db: str, flt: CellFilter, params: dict[str, object],
                             pinned: str) -> str:
    """Events (of `db`.events, as of `pinned`) that the figures of `flt`'s cells read besides
    the cells' own events in the period."""
    own = where_clause(flt, "ts", params)
    place = replace(flt, company=None, start=None, end=None)
    ends = (f"({where_clause(place, 'ts', params, city_col='city')}) OR "
            f"({where_clause(place, 'ts', params, city_col='dest_city')})")
    # The period and company of a delivery, wherever it was made (the scope applies to ends).
    when = where_clause(replace(flt, city=None, scope=Scope.national()), "ts", params)
    with_an_end_here = (f"SELECT parcel_id FROM {db}.events "
                        f"WHERE type = 'ACCEPTED' AND {pinned} AND ({ends})")
    delivered = (f"SELECT parcel_id FROM {db}.events WHERE type = 'DELIVERED' AND {pinned} "
                 f"AND {when} AND parcel_id IN ({with_an_end_here})")
    return f"""(
        (type = 'DELIVERED' AND {when} AND parcel_id IN ({with_an_end_here}))
        OR (type = 'ACCEPTED' AND parcel_id IN ({delivered}))
        OR (type = 'COMPLAINT' AND (company, complaint_id) IN (
              SELECT company, complaint_id FROM {db}.events
              WHERE type = 'COMPLAINT' AND stage = 'FILED' AND {pinned} AND {own}))
        OR (type IN ('EXCEPTION', 'COMPLAINT') AND parcel_id IN (
              SELECT parcel_id FROM {db}.events
              WHERE type = 'ACCEPTED' AND {pinned} AND {own})))"""
