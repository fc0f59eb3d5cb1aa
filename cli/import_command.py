"""`courierwatch import FILE --mapping MAPPING.yaml`: the handler and its summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from cli.commands import UserError
from courierwatch.import_mapping import MappingError
from runtime.settings import load_settings


def import_file(args: argparse.Namespace) -> int:
    from services.importer import ImportFileError, run_import

    path, mapping = Path(args.file), Path(args.mapping)
    for p in (path, mapping):
        if not p.is_file():
            raise UserError(f"no such file: {p}")
    try:
        summary = run_import(load_settings(), path, mapping, Console(stderr=True),
                             Path(args.rejects) if args.rejects else None,
                             check_only=args.check)
    except (MappingError, ImportFileError) as exc:
        raise UserError(str(exc)) from exc
    if args.format == "json":
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    console = Console()
    console.print(f"rows {summary['rows']:,}: mapped {summary['rows_mapped']:,}, rejected "
                  f"{summary['rows_rejected']:,} (see {summary['rejects_file']}); "
                  f"events {summary['events']:,}")
    for reason, n in summary["rejected_by_reason"].items():
        console.print(f"  {n:>7,}  {reason}", markup=False)
    if summary["processed"]:
        console.print(" ".join(f"{k}={v}" for k, v in summary["processed"].items()))
    return 0
