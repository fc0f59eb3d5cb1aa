"""`courierwatch audit list|verify|export`: read the log from whoever owns ClickHouse."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from courierwatch.audit_chain import canonical_json
from runtime.settings import load_settings
from services.audit import log as audit_log


def _summary(values: dict[str, Any], width: int = 70) -> str:
    text = ", ".join(f"{k}={v}" for k, v in sorted(values.items())
                     if not isinstance(v, dict | list))
    return text if len(text) <= width else text[: width - 1] + "…"


def audit_list(args: argparse.Namespace) -> int:
    rows = audit_log.store_copy(load_settings())
    if args.format == "json":
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
                         .decode() + "\n")
        return 0
    table = Table(title=f"Audit log ({len(rows)} records)", show_lines=True)
    table.add_column("seq", justify="right", no_wrap=True)
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("actor / action", no_wrap=True)
    table.add_column("inputs → outputs", overflow="fold", ratio=1)
    table.add_column("hash", no_wrap=True)
    for r in rows:
        table.add_row(str(r["seq"]), r["ts"][:19].replace("T", " "),
                      f"{r['actor']}\n{r['action']}",
                      f"{_summary(r['inputs'])}\n→ {_summary(r['outputs'])}", r["hash"][:12])
    Console().print(table)
    return 0


def audit_export(args: argparse.Namespace) -> int:
    """JSON lines, one canonical record per line: the journal's format, re-verifiable."""
    rows = audit_log.store_copy(load_settings())
    data = b"".join(canonical_json(r) + b"\n" for r in rows)
    if args.out:
        Path(args.out).write_bytes(data)
        Console(stderr=True).print(f"exported {len(rows)} records to {args.out}")
    else:
        sys.stdout.buffer.write(data)
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    """Exit 0 when both copies verify and agree, 1 otherwise (naming the first broken seq)."""
    settings = load_settings()
    result = audit_log.verify_records(audit_log.store_copy(settings),
                                      audit_log.read_journal(
                                          audit_log.journal_path(settings.data_dir)))
    if args.format == "json":
        sys.stdout.write(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode()
                         + "\n")
        return 0 if result.ok else 1
    console = Console()
    for name, check in (("ClickHouse audit_log", result.store), ("journal", result.journal)):
        if check.ok:
            console.print(f"[green]ok[/] {name}: {check.records} records, head seq "
                          f"{check.head_seq} hash {check.head_hash}")
        else:
            console.print(f"[bold red]BROKEN[/] {name}: first broken link at seq "
                          f"{check.broken_seq}: {check.reason}")
    if result.disagreement_seq is not None:
        console.print(f"[bold red]DISAGREE[/] ClickHouse and journal differ first at seq "
                      f"{result.disagreement_seq}")
    return 0 if result.ok else 1
