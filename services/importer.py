"""`courierwatch import FILE --mapping MAPPING.yaml`: a company's export into the pipeline.

1. The mapping is validated (courierwatch.import_mapping) before any row is read, and the
   file's header must hold every column the mapping reads.
2. Each row is mapped (courierwatch.import_rows) and its events checked by the scan.v1
   contract (the same decoder the workers use). A row is taken whole or not at all: a row
   that cannot be mapped, or whose events the contract refuses, goes to the reject file
   with the reason; rows = mapped + rejected, always.
3. The events (JSON lines under `<data dir>/imports/`) go through `courierwatch process`'s
   code (services.process): broker, worker, ClickHouse. An import is a backfill of history,
   so it runs with an allowed lateness of 100 years: the watermark does not make old rows
   late. Event ids are deterministic, so importing the same file again changes no figure.
4. The import is appended to the audit log with the file's, the mapping's, the events' and
   the rejects' SHA-256.

Only the columns the mapping names are read; others (customer ids, zip codes, names...)
are never copied anywhere, not even to the reject file.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from courierwatch.contract import decode_events
from courierwatch.import_mapping import Mapping, load_mapping
from courierwatch.import_rows import RowMapper, RowRejected
from runtime.settings import Settings
from services.audit import log as audit_log
from services.progress import rate_progress

HISTORICAL_LATENESS_S = 100 * 365 * 24 * 3600.0


class ImportFileError(ValueError):
    """The file cannot be read with this mapping (missing columns, unreadable sheet)."""


def _excel_text(value: object) -> str:
    """xlsx cells as text: date-times as `YYYY-MM-DD HH:MM:SS`, dates as `YYYY-MM-DD`."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_rows(path: Path, m: Mapping) -> tuple[list[str], int, Iterator[dict[str, str]]]:
    """(header, number of data rows, rows as {column: text}) of a CSV or xlsx file."""
    fmt = m.source.format or ("xlsx" if path.suffix.lower() == ".xlsx" else "csv")
    if fmt == "xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        if m.source.sheet and m.source.sheet not in wb.sheetnames:
            raise ImportFileError(f"no sheet {m.source.sheet!r} in {path} "
                                  f"(sheets: {', '.join(wb.sheetnames)})")
        ws = wb[m.source.sheet] if m.source.sheet else wb.worksheets[0]
        rows = ws.iter_rows(values_only=True)
        header = [_excel_text(v) for v in next(rows, ())]
        total = max(0, (ws.max_row or 1) - 1)
        return header, total, (dict(zip(header, map(_excel_text, r), strict=False))
                               for r in rows if any(v is not None for v in r))
    with open(path, encoding=m.source.encoding, newline="") as fh:
        total = max(0, sum(1 for _ in csv.reader(fh, delimiter=m.source.delimiter)) - 1)
    fh = open(path, encoding=m.source.encoding, newline="")  # noqa: SIM115 - closed by the generator
    reader = csv.DictReader(fh, delimiter=m.source.delimiter)

    def rows_of() -> Iterator[dict[str, str]]:
        with fh:
            yield from reader
    return list(reader.fieldnames or []), total, rows_of()


def _contract_check(events: list[dict[str, Any]], now: datetime) -> None:
    """RowRejected naming the contract's reason when any of the row's events is refused."""
    decoded = decode_events(orjson.dumps(events), now)
    if decoded.rejections:
        r = decoded.rejections[0]
        etype = events[r.index]["type"] if 0 <= r.index < len(events) else "row"
        raise RowRejected(f"{etype}: scan.v1 contract: {r.reason}: {r.detail}")


def _reason_kind(reason: str) -> str:
    """The reason with its quoted values elided, for counting rejections by kind; the
    column a reason names stays (`column 'order_id' is empty`)."""
    return re.sub(r"(?<!column )(?<!column\(s\) )'[^']*'", "'…'", reason)


def map_file(path: Path, m: Mapping, events_path: Path, rejects_path: Path,
             console: Console) -> dict[str, Any]:
    """Map every row; write events (JSON lines) and rejects (CSV: row, reason, mapped
    columns); return the counts."""
    header, total, rows = read_rows(path, m)
    missing = sorted(m.columns_read() - set(header))
    if missing:
        raise ImportFileError(f"{path}: the mapping reads column(s) {', '.join(missing)}, "
                              f"which the file does not have (it has: {', '.join(header)})")
    mapper, now = RowMapper(m), datetime.now(UTC)
    cols = sorted(m.columns_read())
    counts = {"rows": 0, "rows_mapped": 0, "rows_rejected": 0, "events": 0}
    reasons: Counter[str] = Counter()
    with open(events_path, "wb") as out, open(rejects_path, "w", newline="",
                                                  encoding="utf-8") as rej, \
            rate_progress(console) as bar:
        writer = csv.writer(rej)
        writer.writerow(["row", "reason", *cols])
        task = bar.add_task("import: mapping rows", total=total)
        for n, row in enumerate(rows, start=1):
            counts["rows"] += 1
            try:
                events = mapper.map_row(row, n)
                _contract_check(events, now)
            except RowRejected as exc:
                counts["rows_rejected"] += 1
                reasons[_reason_kind(str(exc))] += 1
                writer.writerow([n, str(exc), *(row.get(c, "") for c in cols)])
            else:
                counts["rows_mapped"] += 1
                counts["events"] += len(events)
                out.write(b"".join(orjson.dumps(e) + b"\n" for e in events))
            if n % 500 == 0:
                bar.update(task, completed=n)
        bar.update(task, completed=counts["rows"], total=counts["rows"])
    return counts | {"rejected_by_reason": dict(sorted(reasons.items()))}


def run_import(settings: Settings, path: Path, mapping_path: Path, console: Console,
               rejects_path: Path | None = None, check_only: bool = False) -> dict[str, Any]:
    """Validate, map, process (unless `check_only`), record in the audit log; summary."""
    from services.process import run_process

    m = load_mapping(mapping_path.read_text("utf-8"))
    file_info = audit_log.file_digest(path)
    stem = f"{m.source.name}-{file_info['sha256'][:12]}"
    work = settings.data_dir / "imports"
    work.mkdir(parents=True, exist_ok=True)
    events_path = work / f"{stem}.jsonl"
    rejects_path = rejects_path or work / f"{stem}.rejects.csv"
    summary = map_file(path, m, events_path, rejects_path, console)
    summary |= {"file": str(path), "events_file": str(events_path),
                "rejects_file": str(rejects_path)}
    if check_only or summary["events"] == 0:
        return summary | {"processed": None}
    processed = run_process(settings.with_(allowed_lateness_s=HISTORICAL_LATENESS_S),
                            events_path, console)
    summary["processed"] = processed
    from warehouse.client import Warehouse

    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        rec = audit_log.append(
            audit_log.current_actor(), "import",
            {"file": file_info, "mapping": audit_log.file_digest(mapping_path),
             "source": m.source.name},
            {k: summary[k] for k in ("rows", "rows_mapped", "rows_rejected", "events")}
            | {"events_sha256": audit_log.file_digest(events_path)["sha256"],
               "rejects_sha256": audit_log.file_digest(rejects_path)["sha256"],
               "rejected_by_reason": summary["rejected_by_reason"],
               "distinct_events_in_store": processed["distinct_events"],
               "dead_letters_in_store": processed["dead_letters"]},
            settings=settings, wh=wh)
    finally:
        wh.close()
    return summary | {"audit_seq": rec.seq}
