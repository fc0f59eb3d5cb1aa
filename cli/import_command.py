"""`courierwatch import FILE --mapping MAPPING.yaml`: the handler and its summary."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from cli.commands import UserError, print_run_summary
from courierwatch.import_mapping import MappingError
from runtime.settings import load_settings


def import_file(args: argparse.Namespace) -> int:
    from services.importer import ImportFileError, run_import
    from services.process import InputRejected

    path, mapping = Path(args.file), Path(args.mapping)
    for p in (path, mapping):
        if not p.is_file():
            raise UserError(f"no such file: {p}")
    try:
        summary = run_import(load_settings(), path, mapping, Console(stderr=True),
                             Path(args.rejects) if args.rejects else None,
                             check_only=args.check)
    except (MappingError, ImportFileError, InputRejected) as exc:
        raise UserError(str(exc)) from exc
    if args.format == "json":
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return _verdict(summary)
    console = Console()
    console.print(f"rows {summary['rows']:,}: mapped {summary['rows_mapped']:,}, rejected "
                  f"{summary['rows_rejected']:,} (see {summary['rejects_file']}); "
                  f"events {summary['events']:,}")
    for reason, n in summary["rejected_by_reason"].items():
        console.print(f"  {n:>7,}  {reason}", markup=False)
    if summary["processed"]:
        print_run_summary(summary["processed"])
    return _verdict(summary)


def _verdict(summary: dict[str, Any]) -> int:
    """1 with the reason on stderr when every row, or more than the allowed share
    (COURIERWATCH_PROCESS_MAX_REJECTED_SHARE), was rejected, or the processing of the
    mapped events rejected too many; 0 otherwise."""
    from services.process import rejection_verdict

    share = load_settings().process_max_rejected_share
    rows, rejected = summary["rows"], summary["rows_rejected"]
    if rows == 0:
        print(f"courierwatch: {summary['file']} holds no data rows", file=sys.stderr)
        return 1
    if rejected == rows or rejected > share * rows:
        what = "every row" if rejected == rows else f"{rejected:,} of {rows:,} rows"
        first = "; ".join(f"{n:,} x {r}" for r, n in
                          list(summary["rejected_by_reason"].items())[:3])
        print(f"courierwatch: {what} rejected (more than {share:.0%} allowed): {first}; "
              f"the rows are in {summary['rejects_file']}", file=sys.stderr)
        return 1
    processed = summary["processed"]
    verdict = processed and rejection_verdict(processed, share, tabular=False)
    if verdict:
        print(f"courierwatch: {verdict}", file=sys.stderr)
        return 1
    return 0
