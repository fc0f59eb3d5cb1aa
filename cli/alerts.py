"""`courierwatch alerts list`: from the live worker's API, or from the store when none runs."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from courierwatch.alert_format import describe_alert
from courierwatch.cities import resolve_city
from courierwatch.kpi_names import denominator_name
from runtime.settings import Settings, load_settings
from services.figures_source import Params, RowSource, api_base, fetch_rows
from warehouse.client import Warehouse
from warehouse.filters import CellFilter


def _alert_rows(wh: Warehouse, flt: CellFilter, _: Settings, params: Params) -> list[Any]:
    from services.api.alerts import alert_rows

    return alert_rows(wh, flt, bool(params.get("active")))


ALERT_ROWS = RowSource("/api/alerts", _alert_rows)


def fetch_alerts(settings: Settings, active: bool, city: str | None,
                 company: str | None) -> list[dict[str, Any]]:
    return fetch_rows(settings, ALERT_ROWS, city, company, active="1" if active else "")


def alerts_table(rows: list[dict[str, Any]], title: str, base_url: str = "") -> Group:
    """Alerts as the dashboard writes them (courierwatch.alert_format.describe_alert): where,
    who, which KPI, value vs target in the KPI's unit, strength, since when (CST) and for how
    long; below the table, each alert's drill-down link when the worker's address is known.
    Fits 80 columns."""
    table = Table(title=title, header_style="bold", title_justify="left", expand=False)
    table.add_column("", no_wrap=True)
    table.add_column("alert 告警", overflow="fold", ratio=3)
    table.add_column("since 起 (CST)", overflow="fold", ratio=1)
    for r in rows:
        d = describe_alert(r, base_url)
        style = "bold red" if r["state"] == "firing" and r["severity"] == "page" else (
            "yellow" if r["state"] == "firing" else "dim")
        what = Text(f"{d.headline}\n", style=style)
        what.append(f"{d.value} vs {d.target} · {d.strength} · {r['policy_id']} · "
                    f"n = {r['sample']:,} {denominator_name(r['kpi'])}")
        table.add_row(Text(f"{d.mark} {r['severity']}", style=style), what, d.since)
    links = [Text(f"{describe_alert(r).place.split(' (')[0]} {r['company']} {r['kpi']}: "
                  f"{describe_alert(r, base_url).link}", style="dim", overflow="fold")
             for r in rows] if base_url else []
    return Group(table, *links)


def alerts_list(args: argparse.Namespace) -> int:
    city = resolve_city(args.city) if args.city else None
    settings = load_settings()
    rows = fetch_alerts(settings, args.active, city, args.company)
    if args.format == "json":
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        which = "active alerts" if args.active else "alerts (firing and resolved)"
        Console().print(alerts_table(rows, f"{len(rows)} {which}",
                                     api_base(settings) or ""))
    return 0
