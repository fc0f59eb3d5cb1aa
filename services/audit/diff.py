"""Differences between a replay and the live or the published figures, each explained.

A replay reads the archive as it stood at its snapshot (the latest `ingested_at` when it
began), so it can differ from:
- the live figures, when events of the cell arrived after the snapshot (late data: live
  processing went on during the replay);
- the published figures (`kpi_published`, fixed when the period closed), when the figure
  was later restated (`restatements`), or events of the cell arrived after its publication
  without a recorded restatement (late data);
and from both when an event id was re-sent with conflicting content (another type, city,
company, time...): the figures count the id in each cell its versions fall in.
A difference none of these explains is reported as `unexplained`, never dropped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from courierwatch.catalog import Catalog
from courierwatch.cities import YRD_PROVINCE_PREFIXES, YRD_REGION, city_label
from courierwatch.periods import CST_ZONE as CST
from courierwatch.verdicts import judged, verdict_changed
from warehouse.client import Warehouse
from warehouse.queries import CellFilter, where_clause
from warehouse.scoping import system_read

Cell = tuple[str, str, str, str]  # city, company, period_start 'YYYY-MM-DD HH:MM:SS' (CST), kpi
Counts = tuple[float, float]       # numerator, denominator

# The fields whose disagreement between two arrivals of one event id moves a figure.
_CONTENT = ("type, city, company, ts, parcel_id, dest_city, promised_by, mode, kind, stage, "
            "valid, satisfied, ecommerce, pkg_standard, pkg_e_waybill, pkg_secondary, "
            "pkg_recycled_bag, tape_mm, sec_real_name, sec_inspected, sec_xray")


def published(wh: Warehouse, flt: CellFilter) -> dict[Cell, tuple[Counts, Counts, str]]:
    """Per published cell in the filter: the counts as first published, as published now,
    and when last published. A restatement re-publishes the new figure (ReplacingMergeTree
    keeps only the latest), so the first publication is the earliest restatement's `old`
    counts when there is one, the current publication otherwise."""
    params: dict[str, object] = {"by": flt.by}
    where = where_clause(flt, "period_start", params)
    rows = wh.query(f"""SELECT city, company, toString(period_start), kpi,
            argMax(numerator, published_at), argMax(denominator, published_at),
            toString(max(published_at))
        FROM {wh.db}.kpi_published WHERE period = {{by:String}} AND {where}
        GROUP BY city, company, period_start, kpi""", params)
    first = {(r[0], r[1], r[2], r[3]): (r[4], r[5]) for r in wh.query(f"""SELECT city, company,
            toString(period_start), kpi, argMin(old_numerator, restated_at),
            argMin(old_denominator, restated_at)
        FROM {wh.db}.restatements WHERE period = {{by:String}} AND {where}
        GROUP BY city, company, period_start, kpi""", params)}
    out: dict[Cell, tuple[Counts, Counts, str]] = {}
    for r in rows:
        cell = (r[0], r[1], r[2], r[3])
        out[cell] = (first.get(cell, (r[4], r[5])), (r[4], r[5]), r[6])
    return out


def _cell_where(city: str, company: str, period_start: str, by: str,
                params: dict[str, object]) -> str:
    conds = [f"ts >= toDateTime64({{ps:String}}, 3, '{CST}')",
             f"ts < toDateTime64({{ps:String}}, 3, '{CST}') + INTERVAL 1 {by.upper()}"]
    params["ps"] = period_start
    if city == YRD_REGION:
        conds.append("substring(city, 1, 2) IN ("
                     + ", ".join(f"'{p}'" for p in YRD_PROVINCE_PREFIXES) + ")")
    elif city != "*":
        params["c_city"] = city
        conds.append("city = {c_city:String}")
    if company != "*":
        params["c_company"] = company
        conds.append("company = {c_company:String}")
    return " AND ".join(conds)


@system_read("explains one cell of the scoped replay: the cells come from reads through "
             "the replay's filter (kpi_report, published)")
def _causes(wh: Warehouse, cell: Cell, by: str, after: str) -> list[dict[str, Any]]:
    """Why this cell may differ: restatements, arrivals after `after` (UTC text), and ids
    re-sent with conflicting content."""
    city, company, period_start, kpi = cell
    params: dict[str, object] = {"after": after}
    where = _cell_where(city, company, period_start, by, params)
    out: list[dict[str, Any]] = []
    restated = wh.query(f"""SELECT count(), groupArray(cause) FROM {wh.db}.restatements
        WHERE city = {{r_city:String}} AND company = {{r_company:String}} AND period = {{by:String}}
          AND period_start = toDateTime({{ps:String}}, '{CST}') AND kpi = {{kpi:String}}""",
                        {"r_city": city, "r_company": company, "by": by, "ps": period_start,
                         "kpi": kpi})[0]
    if restated[0]:
        out.append({"cause": "restatement", "count": int(restated[0]),
                    "detail": "; ".join(sorted(set(restated[1])))[:500]})
    late = wh.query(f"""SELECT count() FROM {wh.db}.events WHERE {where} AND late = 0
        AND ingested_at > toDateTime64({{after:String}}, 3, 'UTC')""", params)[0][0]
    if late:
        out.append({"cause": "late_data", "count": int(late),
                    "detail": f"{int(late)} arrivals of this cell were archived after {after} "
                    "UTC"})
    conflicting = wh.query(f"""SELECT count() FROM (SELECT event_id FROM {wh.db}.events
        WHERE event_id IN (SELECT event_id FROM {wh.db}.events WHERE {where})
        GROUP BY event_id HAVING uniqExact(tuple({_CONTENT})) > 1)""", params)[0][0]
    if conflicting:
        out.append({"cause": "conflicting_resend", "count": int(conflicting),
                    "detail": f"{int(conflicting)} event ids of this cell were re-sent with "
                    "different content"})
    return out or [{"cause": "unexplained", "count": 0, "detail": "no restatement, late "
                    "arrival or conflicting re-send found for this cell"}]


def _counts(c: Counts | None) -> dict[str, float] | None:
    return None if c is None else {"numerator": c[0], "denominator": c[1]}


def _entry(cell: Cell, name: str, theirs: Counts | None, mine: Counts | None,
           causes: list[dict[str, Any]], catalog: Catalog, min_sample: int) -> dict[str, Any]:
    """One difference: counts either side, each also judged (value in its unit, status)
    against the cell's targets, and whether the verdict changed (pass <-> breach)."""
    def judge_counts(c: Counts | None) -> dict[str, Any] | None:
        return None if c is None else judged(catalog, cell[0], cell[1], cell[2], cell[3],
                                             c[0], c[1], min_sample)
    theirs_j, mine_j = judge_counts(theirs), judge_counts(mine)
    before = theirs_j["status"] if theirs_j else "no_data"
    after = mine_j["status"] if mine_j else "no_data"
    return {"city": cell[0], "city_name": city_label(cell[0]), "company": cell[1],
            "period_start": f"{cell[2].replace(' ', 'T')}+08:00", "kpi": cell[3],
            name: _counts(theirs), "replayed": _counts(mine), "causes": causes,
            f"{name}_judged": theirs_j, "replayed_judged": mine_j,
            "targets": (mine_j or theirs_j or {"targets": []})["targets"],
            "verdict_changed": verdict_changed(before, after)}


def explained_differences(wh: Warehouse, flt: CellFilter, replayed: dict[Cell, Counts],
                          live: dict[Cell, Counts], snapshot: str, catalog: Catalog,
                          min_sample: int) -> dict[str, Any]:
    """{"from_live": [...], "from_published": [...]}, each entry with its causes, in cell
    order. Live: every cell either side holds with other counts. Published: every published
    cell whose first-published counts the replay does not reproduce (`published`: as first
    published; `published_now`: after restatements; open periods are not published yet)."""
    pub = published(wh, flt)
    from_live = [_entry(c, "live", live.get(c), replayed.get(c),
                        _causes(wh, c, flt.by, snapshot), catalog, min_sample)
                 for c in sorted(set(live) | set(replayed)) if live.get(c) != replayed.get(c)]
    from_pub = [_entry(c, "published", pub[c][0], replayed.get(c),
                       _causes(wh, c, flt.by, pub[c][2]), catalog, min_sample)
                | {"published_now": _counts(pub[c][1])}
                for c in sorted(pub) if pub[c][0] != replayed.get(c)]
    return {"from_live": from_live, "from_published": from_pub}


@system_read("the archive's latest ingest time (one timestamp) a replay pins")
def snapshot_of(wh: Warehouse) -> str:
    """The archive's latest ingest time (UTC text, ms): what a replay pins as its input."""
    value = wh.query(f"SELECT toString(max(ingested_at)) FROM {wh.db}.events")[0][0]
    return str(value) if value else datetime(1970, 1, 1).strftime("%Y-%m-%d %H:%M:%S.000")
