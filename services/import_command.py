"""`courierwatch import FILE --mapping MAPPING.yaml`: argument handling and the summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from courierwatch.import_mapping import MappingError
from runtime.settings import load_settings
from services.commands import UserError


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


def add_import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help="turn a company's CSV/xlsx export into scan.v1 events "
                       "and process them",
                       description="Validate MAPPING.yaml (errors name its line), map each "
                       "row of FILE (CSV, or Excel .xlsx) to scan.v1 events (deterministic ids: "
                       "importing the same file again changes no figure), write rows that "
                       "cannot be mapped to a reject file with the reason, then run the events "
                       "through the real pipeline as `process` does. See examples/olist/.")
    p.add_argument("file", metavar="FILE", help="the export: .csv or .xlsx")
    p.add_argument("--mapping", required=True, metavar="MAPPING.yaml",
                   help="the declarative column mapping")
    p.add_argument("--rejects", metavar="FILE.csv", help="where rejected rows go (default "
                   "<data dir>/imports/<source>-<file hash>.rejects.csv)")
    p.add_argument("--check", action="store_true",
                   help="validate and map only: write events and rejects, process nothing")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="format of the summary")
    p.set_defaults(func=import_file)
