"""The declarative mapping of `courierwatch import`: a company's export -> scan.v1 events.

A mapping is YAML (see examples/olist/mapping.yaml)::

    version: 1
    source:
      name: olist-orders          # identity of the source: part of every event id
      timezone: America/Sao_Paulo # zone of every time without an offset (IANA name)
      key_columns: [order_id]     # what identifies a row (default: its row number)
      format: csv                 # csv | xlsx (default: from the file's extension)
      delimiter: ","              # csv only
      encoding: utf-8             # csv only
      sheet: Orders               # xlsx only (default: the first sheet)
    constants: {company: OLIST, city: "990000"}   # fields equal on every event
    columns:                      # fields read from a column on every event
      parcel_id: {column: order_id, prefix: OL}          # with a prefix
      site_id: {column: hub, values: {"Hub A": HUB-A}}   # with a value translation
    status:                       # optional: which events a row yields
      column: order_status
      values: {delivered: [ACCEPTED, DELIVERED], shipped: [ACCEPTED], canceled: []}
    events:                       # per event type: its time, deadline, own fields
      ACCEPTED:
        ts: {column: order_delivered_carrier_date, formats: ["%Y-%m-%d %H:%M:%S"]}
        promised_by: {column: order_estimated_delivery_date, formats: ["%Y-%m-%d"]}
        fields: {ecommerce: true}
      DELIVERED:
        ts: {column: order_delivered_customer_date, formats: ["%Y-%m-%d %H:%M:%S"]}
        fields: {mode: DOOR}

Without `status`, every row yields every event type under `events`. A time is parsed by
the first of its `formats` (Python strptime) that matches; a format with its own offset
(%z) keeps it, otherwise the time is in `timezone` (the source's unless the spec names
one). A deadline given as a date without a time of day (a format without %H, or
`date_only: true`, which ignores a time part such as Olist's constant 00:00:00) means the
end of that day in that zone (23:59:59.999).

`load_mapping` validates the whole mapping before any row is read and raises MappingError
naming the line of the YAML where the problem is. Pure: text in, a Mapping out.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from courierwatch.contract import EventType

SCAN_FIELDS = frozenset({"parcel_id", "company", "city", "site_id", "dest_city", "ecommerce",
                         "packaging", "security", "mode", "kind", "complaint_id", "stage",
                         "valid", "satisfied"})  # settable by a mapping; ids and times are not
_TIME_DIRECTIVE = re.compile(r"%[HIMSfpXc]")


class MappingError(ValueError):
    """A mapping that cannot be used; `line` is 1-based in the YAML (0: unknown)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"mapping line {line}: {message}" if line else f"mapping: {message}")
        self.line = line


class TimeSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    column: str
    formats: list[str]
    timezone: str | None = None
    date_only: bool = False


class ColumnSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A column with a value translation (`values`: source value -> field value; a value
    not listed rejects the row) or a `prefix` put before the value (an id that starts with
    eleven digits reads as a phone number to the contract: `OL` + id does not)."""

    column: str
    values: dict[str, Any] | None = None
    prefix: str = ""


class EventSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    ts: TimeSpec
    promised_by: TimeSpec | None = None
    fields: dict[str, Any] = {}
    columns: dict[str, str | ColumnSpec] = {}


class StatusSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    column: str
    values: dict[str, list[EventType]]


class SourceSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    timezone: str
    key_columns: list[str] = []
    format: Literal["csv", "xlsx"] | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    sheet: str | None = None


class Mapping(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: Literal[1]
    source: SourceSpec
    events: dict[EventType, EventSpec]
    constants: dict[str, Any] = {}
    columns: dict[str, str | ColumnSpec] = {}
    status: StatusSpec | None = None

    def columns_read(self) -> set[str]:
        """Every source column the mapping reads: all others (personal data) are ignored."""
        cols = set(self.source.key_columns)
        cols |= {c if isinstance(c, str) else c.column for c in self.columns.values()}
        if self.status:
            cols.add(self.status.column)
        for ev in self.events.values():
            cols.add(ev.ts.column)
            if ev.promised_by:
                cols.add(ev.promised_by.column)
            cols |= {c if isinstance(c, str) else c.column for c in ev.columns.values()}
        return cols


def is_date_only(spec: TimeSpec, fmt: str) -> bool:
    return spec.date_only or not _TIME_DIRECTIVE.search(fmt)


def _deepest(root: yaml.Node, path: list[str | int]) -> tuple[yaml.Node, int]:
    """The deepest node of `path` that exists in the YAML tree, and its 1-based line."""
    node, line = root, root.start_mark.line + 1
    for part in path:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part):
                    line, nxt = k.start_mark.line + 1, v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            nxt = node.value[part]
            line = nxt.start_mark.line + 1
        if nxt is None:
            break
        node = nxt
    return node, line


def _find_scalar(node: yaml.Node, text: str) -> yaml.Node | None:
    """The first scalar (key or value) under `node` whose text is `text`."""
    if isinstance(node, yaml.ScalarNode):
        return node if node.value == text else None
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [n for kv in node.value for n in kv]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    for child in children:
        found = _find_scalar(child, text)
        if found is not None:
            return found
    return None


def _line_of(root: yaml.Node | None, path: list[str | int], culprit: str | None = None) -> int:
    """1-based line of `path` in the YAML; with `culprit` (a value or key the error quotes),
    the line of that scalar under the deepest node found, when there is one (msgspec
    names dict entries `[...]`, without their key)."""
    if root is None:
        return 0
    node, line = _deepest(root, path)
    found = _find_scalar(node, culprit) if culprit else None
    return found.start_mark.line + 1 if found is not None else line


def _culprit(message: str) -> str | None:
    """The value or field name an error message quotes: 'LOST', `colour`."""
    m = re.search(r"(?:value|field) [`']([^`']+)[`']", message)
    return m.group(1) if m else None


def _path(text: str) -> list[str | int]:
    """`$.events.ACCEPTED.ts[0]` (msgspec's error path) -> ['events', 'ACCEPTED', 'ts', 0]."""
    m = re.search(r"at `\$([^`]*)`", text)
    parts: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+|'[^']*'|\"[^\"]*\")\]",
                                  m.group(1) if m else ""):
        parts.append(name if name else (int(index) if index.isdigit() else index[1:-1]))
    return parts


def _check_zone(name: str, root: yaml.Node, path: list[str | int]) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(_line_of(root, path), f"unknown time zone {name!r}") from exc


def _check_fields(fields: dict[str, Any], root: yaml.Node, path: list[str | int]) -> None:
    for name in fields:
        if name not in SCAN_FIELDS:
            raise MappingError(_line_of(root, [*path, name]),
                               f"{name!r} is not a scan.v1 field a mapping may set "
                               f"(one of {', '.join(sorted(SCAN_FIELDS))})")


def _semantic_checks(m: Mapping, root: yaml.Node) -> None:
    _check_zone(m.source.timezone, root, ["source", "timezone"])
    _check_fields(m.constants, root, ["constants"])
    _check_fields(m.columns, root, ["columns"])
    for etype, ev in m.events.items():
        for kind in ("ts", "promised_by"):
            spec: TimeSpec | None = getattr(ev, kind)
            if spec is None:
                continue
            if not spec.formats:
                raise MappingError(_line_of(root, ["events", etype, kind]),
                                   f"events.{etype}.{kind}: formats must not be empty")
            if spec.timezone:
                _check_zone(spec.timezone, root, ["events", etype, kind, "timezone"])
        if ev.promised_by is not None and etype != "ACCEPTED":
            raise MappingError(_line_of(root, ["events", etype, "promised_by"]),
                               "promised_by (a deadline) belongs on ACCEPTED only")
        _check_fields(ev.fields, root, ["events", etype, "fields"])
        _check_fields(ev.columns, root, ["events", etype, "columns"])
    for value, types in (m.status.values.items() if m.status else ()):
        for t in types:
            if t not in m.events:
                raise MappingError(_line_of(root, ["status", "values", value]),
                                   f"status {value!r} yields {t}, which has no entry under "
                                   "events")
    has_parcel = "parcel_id" in m.columns or "parcel_id" in m.constants
    if not has_parcel:
        raise MappingError(_line_of(root, ["columns"]), "columns must map parcel_id")


def load_mapping(text: str) -> Mapping:
    """Parse and validate a mapping; MappingError (with the YAML line) on any problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.context_mark or exc.problem_mark  # where the broken construct starts
        line = mark.line + 1 if mark else 0
        raise MappingError(line, f"not valid YAML: {exc.problem}") from exc
    if root is None or not isinstance(raw, dict):
        raise MappingError(1, "expected a mapping (version, source, events, ...)")
    try:
        mapping = msgspec.convert(raw, Mapping)
    except msgspec.ValidationError as exc:
        raise MappingError(_line_of(root, _path(str(exc)), _culprit(str(exc))),
                           str(exc)) from exc
    _semantic_checks(mapping, root)
    return mapping
