"""Import mappings: validation with YAML line numbers, rows -> scan.v1 events, rejects."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest
from rich.console import Console

from courierwatch.contract import decode_events
from courierwatch.import_mapping import MappingError, load_mapping
from courierwatch.import_rows import RowMapper, RowRejected, event_id
from services.importer import map_file

MAPPING = """\
version: 1
source:
  name: acme-export
  timezone: America/Sao_Paulo
  key_columns: [waybill]
constants:
  company: ACME
  city: "990000"
columns:
  parcel_id: {column: waybill, prefix: AC}
status:
  column: state
  values:
    done: [ACCEPTED, DELIVERED]
    sent: [ACCEPTED]
    void: []
events:
  ACCEPTED:
    ts: {column: picked_up, formats: ["%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S"]}
    promised_by: {column: due, formats: ["%Y-%m-%d"]}
    fields:
      dest_city: "990000"
      ecommerce: true
      packaging: {standard: true, e_waybill: true, secondary_packaging: false,
                  recycled_bag: false, tape_mm: 0, degradable: false}
      security: {real_name: true, inspected: true, xray: false}
  DELIVERED:
    ts: {column: delivered, formats: ["%d/%m/%Y %H:%M"]}
    columns:
      mode: {column: how, values: {door: DOOR, box: LOCKER}}
"""
ROW = {"waybill": "123456789012", "state": "done", "picked_up": "05/11/2017 09:30",
       "due": "2017-11-10", "delivered": "09/11/2017 18:00", "how": "box",
       "customer_phone": "11987654321"}


def _mapper() -> RowMapper:
    return RowMapper(load_mapping(MAPPING))


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    pytest.param("  timezone: America/Sao_Paulo", "  timezone: Mars/Olympus", 4, "time zone",
                 id="unknown zone"),
    pytest.param("    sent: [ACCEPTED]", "    sent: [ACCEPTED, LOST]", 15, "LOST",
                 id="unknown event type in status"),
    pytest.param("    void: []", "    void: [EXCEPTION]", 16, "EXCEPTION",
                 id="status yields a type without an events entry"),
    pytest.param("      ecommerce: true", "      ecommerce: true\n      phone: x", 24, "phone",
                 id="field outside scan.v1"),
    pytest.param("version: 1", "version: 2", 1, "version", id="unknown version"),
    pytest.param("    promised_by: {column: due, formats: [\"%Y-%m-%d\"]}",
                 "    promised_by: {column: due, formats: []}", 20, "formats",
                 id="empty formats"),
    pytest.param("  key_columns: [waybill]", "  key_columns: [waybill]\n  colour: red", 6,
                 "colour", id="unknown key"),
    pytest.param("  DELIVERED:\n", "  DELIVERED:\n    promised_by: {column: due, formats: "
                 "[\"%Y\"]}\n", 28, "ACCEPTED only", id="deadline on DELIVERED"),
    pytest.param("  name: acme-export\n", "  name: [acme\n", 3, "YAML", id="broken YAML"),
])
def test_invalid_mapping_is_refused_naming_its_line(old: str, new: str, line: int,
                                                    words: str) -> None:
    """Every kind of mapping error is caught before a row is read, and the message names
    the 1-based line of the mapping where the offending key or value is."""
    assert old in MAPPING
    with pytest.raises(MappingError) as err:
        load_mapping(MAPPING.replace(old, new))
    assert err.value.line == line, str(err.value)
    assert words in str(err.value) and f"line {line}" in str(err.value)


def test_row_yields_contract_valid_events_with_end_of_day_deadline() -> None:
    """A 'done' row yields ACCEPTED and DELIVERED that the scan.v1 contract accepts: times
    in the source zone with its offset, the date-only deadline at 23:59:59.999 of that day
    in that zone, value translations applied, unmapped columns (a phone) not copied."""
    events = _mapper().map_row(ROW, 1)
    assert [e["type"] for e in events] == ["ACCEPTED", "DELIVERED"]
    acc, dlv = events
    sp = ZoneInfo("America/Sao_Paulo")
    assert datetime.fromisoformat(acc["ts"]) == datetime(2017, 11, 5, 9, 30, tzinfo=sp)
    assert datetime.fromisoformat(acc["promised_by"]) == datetime(
        2017, 11, 10, 23, 59, 59, 999000, tzinfo=sp)
    assert acc["ts"].endswith("-02:00")  # Brazil's summer time was in force in Nov 2017
    assert dlv["mode"] == "LOCKER" and acc["parcel_id"] == "AC123456789012"
    assert "11987654321" not in orjson.dumps(events).decode()
    decoded = decode_events(orjson.dumps(events), datetime(2026, 1, 1, tzinfo=sp))
    assert not decoded.rejections and len(decoded.events) == 2


def test_event_ids_depend_only_on_source_row_key_and_type() -> None:
    """The same row mapped twice (or at another position in the file, with the same key)
    yields the same ids; another type or key yields another id."""
    m = _mapper()
    first, again = m.map_row(ROW, 1), m.map_row(dict(ROW), 99)
    assert [e["event_id"] for e in first] == [e["event_id"] for e in again]
    assert first[0]["event_id"] == event_id("acme-export", "123456789012", "ACCEPTED")
    assert first[0]["event_id"] != first[1]["event_id"]
    other = m.map_row(ROW | {"waybill": "123456789013"}, 1)
    assert other[0]["event_id"] != first[0]["event_id"]


@pytest.mark.parametrize(("change", "reason"), [
    pytest.param({"state": "void"}, "yields no scan event", id="status without events"),
    pytest.param({"state": "lost"}, "not in the mapping", id="unknown status"),
    pytest.param({"delivered": ""}, "DELIVERED: column 'delivered' is empty", id="no time"),
    pytest.param({"picked_up": "5 Nov"}, "matches none of the formats", id="bad time"),
    pytest.param({"how": "drone"}, "has no mode", id="untranslated value"),
    pytest.param({"waybill": ""}, "key column", id="no key"),
])
def test_unmappable_row_is_rejected_with_its_reason(change: dict[str, str],
                                                    reason: str) -> None:
    """A row that cannot be mapped raises RowRejected whose message says why."""
    with pytest.raises(RowRejected, match=reason):
        _mapper().map_row(ROW | change, 7)


def test_map_file_accounts_for_every_row_csv_and_xlsx(tmp_path: Path) -> None:
    """rows = mapped + rejected for CSV and for the same rows in an .xlsx (openpyxl); the
    reject file lists each rejected row with its reason and only mapped columns, never
    the phone column; both formats give the same events."""
    import openpyxl

    rows = [ROW, ROW | {"waybill": "2", "state": "void"}, ROW | {"waybill": "3", "how": "x"},
            ROW | {"waybill": "4", "state": "sent", "delivered": ""}]
    header = list(ROW)
    csv_path = tmp_path / "export.csv"
    csv_path.write_text("\n".join(",".join(r[h] for h in header) for r in
                                  [dict(zip(header, header, strict=True)), *rows]) + "\n")
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(header)
    for r in rows:
        ws.append([r[h] for h in header])
    xlsx_path = tmp_path / "export.xlsx"
    wb.save(xlsx_path)
    m = load_mapping(MAPPING)
    results = {}
    for path in (csv_path, xlsx_path):
        events, rejects = tmp_path / f"{path.suffix}.jsonl", tmp_path / f"{path.suffix}.rej"
        counts = map_file(path, m, events, rejects, Console(quiet=True))
        assert (counts["rows"], counts["rows_mapped"], counts["rows_rejected"]) == (4, 2, 2)
        assert counts["events"] == 3
        text = rejects.read_text()
        assert "11987654321" not in text and "customer_phone" not in text
        assert text.count("\n") == 3
        results[path.suffix] = events.read_bytes()
    assert results[".csv"] == results[".xlsx"]
