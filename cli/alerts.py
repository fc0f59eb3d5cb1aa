"""`courierwatch alerts list`: from the live worker's API, or from the store when none runs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from courierwatch.cities import resolve_city
from runtime.settings import Settings, load_settings
from services.figures_source import Params, RowSource, fetch_rows
from warehouse.client import Warehouse
from warehouse.filters import CellFilter


def _alert_rows(wh: Warehouse, flt: CellFilter, _: Settings, params: Params) -> list[Any]:
    from services.api.alerts import alert_rows

    return alert_rows(wh, flt, bool(params.get("active")))


ALERT_ROWS = RowSource("/api/alerts", _alert_rows)


def fetch_alerts(settings: Settings, active: bool, city: str | None,
                 company: str | None) -> list[dict[str, Any]]:
    return fetch_rows(settings, ALERT_ROWS, city, company, active="1" if active else "")


def alerts_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, header_style="bold", title_justify="left")
    for col in ("state", "city", "company", "kpi", "value", "target", "policy", "since (CST)",
                "resolved", "n"):
        table.add_column(col, overflow="fold")
    for r in rows:
        style = "bold red" if r["state"] == "firing" and r["severity"] == "page" else (
            "yellow" if r["state"] == "firing" else "dim")
        table.add_row(f"[{style}]{r['state']} {r['severity']}[/]",
                      f"{r['city_zh'] or r['city']} {r['city_en']}".strip(), r["company"],
                      r["kpi"], f"{r['value']:.4g}", f"{r['comparator']} {r['threshold']:g}",
                      r["policy_id"], (r["started_at"] or "")[5:16].replace("T", " "),
                      (r["resolved_at"] or "–")[5:16].replace("T", " "), str(r["sample"]))
    return table


def alerts_list(args: argparse.Namespace) -> int:
    city = resolve_city(args.city) if args.city else None
    rows = fetch_alerts(load_settings(), args.active, city, args.company)
    if args.format == "json":
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        which = "active alerts" if args.active else "alerts (firing and resolved)"
        Console().print(alerts_table(rows, f"{len(rows)} {which}"))
    return 0
