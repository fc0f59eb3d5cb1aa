"""Dead letters as an operator or an auditor reads them, within the caller's scope.

A dead letter keeps the reason, where the bytes came from (topic, partition, offset, index
in the message), a redacted copy and the SHA-256 of the bytes as received, never the bytes
(courierwatch.redact; docs/reliability.md). Its city and company are read from the
redacted copy (a city code is not personal data: redaction leaves it), and the caller's
scope applies to that city like to any other read (courierwatch.scope): a dead letter whose
copy names no city (not JSON, cut off, a city field missing) is seen by the national scope
alone.
"""

from __future__ import annotations

from warehouse.client import Warehouse
from warehouse.filters import CellFilter, where_clause

FIELDS = ("received_at", "stage", "reason", "detail", "redacted", "raw_sha256", "raw_bytes",
          "topic", "partition", "offset", "msg_index", "source", "source_line",
          "source_position", "city", "company")
# A file's line, or a topic incarnation's partition/offset#index (warehouse.schema)
_POSITION = """multiIf(startsWith(source, 'file:'),
    concat(source, ':', toString(source_line + msg_index)),
    concat(source, '/', toString(partition), '/', toString(offset), '#', toString(msg_index)))"""
# the first "city"/"company" string of the redacted copy: a 6-digit code, a brand code
_CITY = """extract(raw, '"city" *: *"([0-9]{6})"')"""
_COMPANY = """extract(raw, '"company" *: *"([A-Za-z0-9_]{1,32})"')"""


def _where(flt: CellFilter, reason: str | None, params: dict[str, object]) -> str:
    where = where_clause(flt, "received_at", params)
    if reason:
        params["reason"] = reason
        where += " AND reason = {reason:String}"
    return where


def count_dead_letters(wh: Warehouse, flt: CellFilter,
                       reason: str | None = None) -> dict[str, int]:
    """{reason: dead letters} of everything `list_dead_letters` would list without a limit."""
    params: dict[str, object] = {}
    where = _where(flt, reason, params)
    rows = wh.query(f"""SELECT reason, count()
        FROM (SELECT *, {_CITY} AS city, {_COMPANY} AS company
              FROM {wh.db}.dead_letters FINAL)
        WHERE {where} GROUP BY reason ORDER BY reason""", params)
    return {str(r): int(n) for r, n in rows}


def list_dead_letters(wh: Warehouse, flt: CellFilter, reason: str | None = None,
                      limit: int = 1000) -> list[dict[str, object]]:
    """Dead letters received within `flt`'s time range (by arrival, `received_at`), of its
    city and company as their redacted copies name them, inside its scope; newest first."""
    params: dict[str, object] = {}
    where = _where(flt, reason, params)
    rows = wh.query(f"""SELECT toString(received_at), stage, reason, detail, raw, raw_sha256,
            raw_bytes, topic, partition, offset, msg_index, source, source_line, {_POSITION},
            city, company
        FROM (SELECT *, {_CITY} AS city, {_COMPANY} AS company
              FROM {wh.db}.dead_letters FINAL)
        WHERE {where}
        ORDER BY received_at DESC, topic, partition, offset, msg_index
        LIMIT {int(limit)}""", params)
    return [dict(zip(FIELDS, r, strict=True)) for r in rows]
