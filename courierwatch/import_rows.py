"""One row of an export -> its scan.v1 events, or the reason it cannot be mapped. Pure.

Event ids are deterministic: `imp` + the first 40 hex digits of SHA-256 over the source's
name, the row's key (its `key_columns` values, or its row number) and the event type. So a
second import of the same rows yields the same ids, and the pipeline's distinct-event
counts leave every figure as it was. (No separator after `imp`: a digest that starts with
eleven digits after a `:` would read as a phone number to the contract's personal-data
screen, which ignores digit runs glued to a letter.)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from courierwatch.contract import EventType
from courierwatch.import_mapping import ColumnSpec, Mapping, TimeSpec, is_date_only

END_OF_DAY = time(23, 59, 59, 999_000)
_STRING_FIELDS = frozenset({"parcel_id", "company", "city", "site_id", "dest_city",
                            "complaint_id"})


class RowRejected(ValueError):
    """The row cannot be mapped; the message is the reason written to the reject file."""


@dataclass(frozen=True, slots=True)
class RowMapper:
    """A validated mapping, ready to map rows (time zones resolved once)."""

    mapping: Mapping

    def zone(self, spec: TimeSpec) -> tzinfo:
        return ZoneInfo(spec.timezone or self.mapping.source.timezone)

    def row_key(self, row: dict[str, str], row_number: int) -> str:
        keys = self.mapping.source.key_columns
        if not keys:
            return f"row:{row_number}"
        values = [_cell(row, k) for k in keys]
        if not all(values):
            raise RowRejected(f"key column(s) {', '.join(keys)} empty")
        return "|".join(values)

    def event_types(self, row: dict[str, str]) -> list[EventType]:
        status = self.mapping.status
        if status is None:
            return list(self.mapping.events)
        value = _cell(row, status.column)
        if value not in status.values:
            raise RowRejected(f"status {value!r} in column {status.column!r} is not in the "
                              "mapping")
        types = list(status.values[value])
        if not types:
            raise RowRejected(f"status {value!r} yields no scan event")
        return types

    def parse_time(self, row: dict[str, str], spec: TimeSpec, deadline: bool) -> str:
        """RFC 3339 with offset and milliseconds; a date-only deadline -> end of that day."""
        text = _cell(row, spec.column)
        if not text:
            raise RowRejected(f"column {spec.column!r} is empty")
        for fmt in spec.formats:
            try:
                t = datetime.strptime(text, fmt)
            except ValueError:
                continue
            if deadline and is_date_only(spec, fmt):
                t = datetime.combine(t.date(), END_OF_DAY)
            if t.tzinfo is None:
                t = t.replace(tzinfo=self.zone(spec))
            return t.isoformat(timespec="milliseconds")
        raise RowRejected(f"column {spec.column!r}: {text!r} matches none of the formats "
                          f"{spec.formats}")

    def _fields(self, row: dict[str, str], columns: dict[str, str | ColumnSpec]
                ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, spec in columns.items():
            col = spec if isinstance(spec, str) else spec.column
            value = _cell(row, col)
            if not value:
                raise RowRejected(f"column {col!r} ({field}) is empty")
            if isinstance(spec, ColumnSpec) and spec.values is not None:
                if value not in spec.values:
                    raise RowRejected(f"column {col!r}: {value!r} has no {field} in the "
                                      "mapping")
                out[field] = spec.values[value]
            else:
                out[field] = value if isinstance(spec, str) else spec.prefix + value
        return out

    def map_row(self, row: dict[str, str], row_number: int) -> list[dict[str, Any]]:
        """The row's events (JSON-ready dicts), or RowRejected with the reason."""
        m = self.mapping
        key = self.row_key(row, row_number)
        common = {**m.constants, **self._fields(row, m.columns)}
        events = []
        for etype in self.event_types(row):
            spec = m.events[etype]
            try:
                ev: dict[str, Any] = {"schema": "scan.v1", **common, **spec.fields,
                                      **self._fields(row, spec.columns), "type": etype,
                                      "ts": self.parse_time(row, spec.ts, deadline=False)}
                if spec.promised_by is not None:
                    ev["promised_by"] = self.parse_time(row, spec.promised_by, deadline=True)
            except RowRejected as exc:
                raise RowRejected(f"{etype}: {exc}") from exc
            ev["event_id"] = event_id(m.source.name, key, etype)
            events.append({k: str(v) if k in _STRING_FIELDS and isinstance(v, int | float)
                           and not isinstance(v, bool) else v for k, v in ev.items()})
        return events


def _cell(row: dict[str, str], column: str) -> str:
    if column not in row:
        raise RowRejected(f"no column {column!r} in the file")
    value = row[column]
    return "" if value is None else str(value).strip()


def event_id(source: str, row_key: str, event_type: str) -> str:
    digest = hashlib.sha256(f"{source}\x1f{row_key}\x1f{event_type}".encode()).hexdigest()
    return f"imp{digest[:40]}"
