"""Conflicting re-sends: one event id, several contents. Which one counts, and the record.

A courier system bug can re-send an event id with other contents (another city, another
time, another type). Counting each content in the cell it claims would count the event
twice, and a city's figure would disagree with its region's. The rule (docs/reliability.md):

    Of an event id's versions (distinct contents, by the sipHash64 of the canonical text
    ClickHouse parsed: schema.events.content_hash), the one with the smallest
    (ts, city, company, type, content_hash) counts, in its own cell; the others count
    nowhere.

It depends only on the set of versions, never on their arrival order. The aggregate tables
hold distinct-id sets per cell that cannot forget a loser, so the figures queries subtract,
per cell and count, the conflicting ids that only a losing version put there
(`count_corrections`); the DELIVERED join reads the winner's row only (`winner_filter`).
Conflicts are few; the id list is read from `event_versions` (one row per event id).
A complaint whose stages name different channels (申诉 / 投诉) is listed here too
(`channel_conflicts`, rows with `kind` "channel"); which channel counts is decided at query
time by warehouse.complaints.
Known limit: the acceptance side of the on-time join (`accepts`, earliest ACCEPTED per parcel)
may still take its time from a losing ACCEPTED version.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from courierwatch.kpi import COUNTS, TAPE_MM_SUM
from courierwatch.periods import CST_ZONE
from warehouse.client import Warehouse
from warehouse.filters import CellFilter, where_clause
from warehouse.scoping import system_read

Key = tuple[str, str, str]

_CONFLICT_IDS = ("SELECT event_id FROM {db}.event_versions GROUP BY event_id "
                 "HAVING min(lo) != max(hi)")
WINNER_KEY = "(ts, city, company, type, content_hash)"


def conflict_ids_sql(db: str) -> str:
    return _CONFLICT_IDS.format(db=db)


# event_versions is sorted by event_id: aggregating in that order streams through it in
# constant memory instead of holding a hash table of every event id ever stored.
IN_ORDER = " SETTINGS optimize_aggregation_in_order = 1"


@system_read("which version of a conflicting id counts: an input of the scoped figure "
             "queries (each version counts in its own city's cells), never served as such")
def winners(wh: Warehouse) -> dict[str, int]:
    """Conflicting event id -> content hash of the version that counts."""
    rows = wh.query(f"""SELECT event_id, argMin(content_hash, {WINNER_KEY}) FROM {wh.db}.events
        WHERE late = 0 AND content_hash != 0 AND event_id IN ({conflict_ids_sql(wh.db)})
        GROUP BY event_id""" + IN_ORDER)
    return {str(e): int(h) for e, h in rows}


VERSION_FIELDS = ("event_id", "content_hash", "counts", "ts", "city", "company", "type",
                  "parcel_id", "topic", "partition", "offset")


def list_conflicts(wh: Warehouse, flt: CellFilter,
                   limit: int = 10_000) -> list[dict[str, object]]:
    """Every version of every conflicting event id, the counting one marked, for auditors:
    one row per (event id, content) with where it was first read from. Only versions whose
    scan lies inside `flt` (its scope first: a city officer sees their city's versions)."""
    won = winners(wh)
    params: dict[str, object] = {}
    where = where_clause(flt, "ts", params)
    rows = wh.query(f"""SELECT event_id, content_hash, toString(min(ts)), any(city),
            any(company), any(type), any(parcel_id), any(topic),
            argMin(partition, (partition, offset)), min(offset)
        FROM {wh.db}.events
        WHERE content_hash != 0 AND event_id IN ({conflict_ids_sql(wh.db)}) AND {where}
        GROUP BY event_id, content_hash ORDER BY event_id, content_hash LIMIT {int(limit)}"""
        + IN_ORDER, params)
    versions = [dict(zip(VERSION_FIELDS, (r[0], str(r[1]), won.get(r[0]) == r[1], *r[2:]),
                         strict=True)) | {"kind": "content"} for r in rows]
    return versions + channel_conflicts(wh, flt, limit)


CHANNEL_CONFLICT_FIELDS = ("event_id", "content_hash", "counts", "ts", "city", "company",
                           "type", "parcel_id", "topic", "partition", "offset")


def channel_conflicts(wh: Warehouse, flt: CellFilter,
                      limit: int = 10_000) -> list[dict[str, object]]:
    """Every stage of every complaint whose stages name different channels: one row per
    stage (the fields of `list_conflicts` plus `kind` = "channel", `channel` and
    `complaint_id`), `counts` true on the stages that name the counting channel or none:
    a complaint's channel is the one its earliest naming stage names (warehouse.complaints).
    Only stages whose scan lies inside `flt`."""
    params: dict[str, object] = {}
    where = where_clause(flt, "e.ts", params, city_col="e.city", company_col="e.company")
    rows = wh.query(f"""
        WITH contradicting AS (
            SELECT company, complaint_id, argMinIf(channel, (ts, event_id), channel != '') AS chosen
            FROM {wh.db}.events WHERE type = 'COMPLAINT' AND late = 0
            GROUP BY company, complaint_id HAVING uniqExactIf(channel, channel != '') > 1)
        SELECT e.event_id, e.content_hash, e.channel = c.chosen OR e.channel = '',
               toString(min(e.ts)), any(e.city), e.company, any(e.stage), any(e.parcel_id),
               any(e.topic), argMin(e.partition, (e.partition, e.offset)), min(e.offset),
               any(e.channel), e.complaint_id
        FROM {wh.db}.events AS e INNER JOIN contradicting AS c
          ON e.company = c.company AND e.complaint_id = c.complaint_id
        WHERE e.type = 'COMPLAINT' AND e.late = 0 AND {where}
        GROUP BY e.event_id, e.content_hash, e.company, e.complaint_id, e.channel, c.chosen
        ORDER BY e.complaint_id, e.event_id LIMIT {int(limit)}""", params)
    out = []
    for r in rows:
        row = dict(zip(CHANNEL_CONFLICT_FIELDS, (r[0], str(r[1]), bool(r[2]), *r[3:11]),
                       strict=True))
        row["type"] = f"COMPLAINT {r[6]}"
        row |= {"kind": "channel", "channel": r[11] or "(none)", "complaint_id": r[12]}
        out.append(row)
    return out


@dataclass(frozen=True, slots=True)
class WinnerFilter:
    """A SQL condition keeping, of conflicting ids, only the counting version's rows."""

    sql: str
    params: dict[str, object]


def winner_filter(won: dict[str, int]) -> WinnerFilter:
    if not won:
        return WinnerFilter("1", {})
    ids = sorted(won)
    return WinnerFilter(
        "(indexOf({conflict_ids:Array(String)}, event_id) = 0 OR content_hash = "
        "arrayElement({conflict_hashes:Array(UInt64)}, "
        "indexOf({conflict_ids:Array(String)}, event_id)))",
        {"conflict_ids": ids, "conflict_hashes": [won[i] for i in ids]})


@system_read("a part of cell_counts: runs with that read's WHERE, built by where_clause "
             "from its scoped filter")
def count_corrections(wh: Warehouse, where: str, params: dict[str, object], period_sql: str,
                      won: dict[str, int]) -> dict[Key, dict[str, int]]:
    """Per cell, how much each count (and `tape_mm_sum`) of schema.COUNTS over-counts
    because of losing versions. `where` filters events as the cell_counts query filters
    cells (on `hour` = the CST hour of ts); `period_sql` gives the cell's period string."""
    if not won:
        return {}
    flags = ", ".join(f"({c.condition})" for c in COUNTS)
    rows = wh.query(f"""SELECT DISTINCT event_id, content_hash, city, company, {period_sql},
            type = 'ACCEPTED', tape_mm, {flags}
        FROM (SELECT *, toStartOfHour(ts, '{CST_ZONE}') AS hour FROM {wh.db}.events
              WHERE late = 0 AND content_hash != 0 AND has({{won_ids:Array(String)}}, event_id))
        WHERE {where}""", params | {"won_ids": sorted(won)})
    by_id: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    for r in rows:
        by_id[str(r[0])].append(r)
    out: dict[Key, dict[str, int]] = {}
    for event_id, versions in by_id.items():
        winner = won.get(event_id)
        cells: dict[Key, list[tuple[object, ...]]] = defaultdict(list)
        for v in versions:
            cells[(str(v[2]), str(v[3]), str(v[4]))].append(v)
        for cell, vs in cells.items():
            win = [v for v in vs if v[1] == winner]
            fix = out.setdefault(cell, defaultdict(int))
            for i, c in enumerate(COUNTS):
                if any(v[7 + i] for v in vs) and not any(v[7 + i] for v in win):
                    fix[c.name] += 1
            tapes = {int(v[6]) for v in vs if v[5]}  # type: ignore[call-overload]
            kept = {int(v[6]) for v in win if v[5]}  # type: ignore[call-overload]
            fix[TAPE_MM_SUM] += sum(tapes) - sum(kept)
    return out
