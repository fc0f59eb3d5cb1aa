"""Human-readable rendering: KPI values in their units, tables with breaches marked."""

from __future__ import annotations

import csv
import io
from typing import Any

from rich.table import Table

from courierwatch.labels import kpi_label
from courierwatch.units import UNIT_SUFFIX, fmt_value


def fmt_threshold(t: dict[str, Any]) -> str:
    """One judged target: a binding breach in bold red, an aspirational (力争 / 基本) one in
    yellow and labelled so, never looking like a binding one."""
    v = t["threshold"]
    shown = f"{v * 100:g}%" if t["unit"] == "ratio" else f"{v:g}{UNIT_SUFFIX.get(t['unit'], '')}"
    mark = {"pass": "[green]✓[/]", "breach": "[bold red]✗ BREACH[/]", "no_data": "[dim]·[/]",
            "too_few": "[dim]too few to judge[/]"}
    aspirational = t.get("strength") == "aspirational"
    if aspirational and t["status"] == "breach":
        mark["breach"] = "[yellow]△ breach (aspirational)[/]"
    label = " [dim](aspirational)[/]" if aspirational and t["status"] != "breach" else ""
    return (f"{t['comparator']}{shown} {mark.get(t['status'], '')}{label} "
            f"[dim]{t['policy_id']}[/]")


def kpi_table(rows: list[dict[str, Any]], title: str = "KPIs", lang: str = "zh") -> Table:
    """The KPI rows as a table; `lang` zh puts each KPI's Chinese label beside its
    identifier (courierwatch.labels)."""
    table = Table(title=title, header_style="bold", show_lines=False)
    for col, justify in (("period (CST)", "left"), ("city", "left"), ("company", "left"),
                         ("kpi", "left"), ("numerator", "right"), ("denominator", "right"),
                         ("value", "right"), ("targets", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        style = None
        if r["status"] == "breach":
            style = "yellow" if r.get("breach_strength") == "aspirational" else "red"
        table.add_row(r["period_start"][:16].replace("T", " "), r["city_name"], r["company"],
                      kpi_label(r["kpi"], lang), f"{r['numerator']:,.0f}",
                      f"{r['denominator']:,.0f}",
                      fmt_value(r["value"], r["unit"]),
                      "\n".join(fmt_threshold(t) for t in r["thresholds"]) or "[dim]–[/]",
                      style=style)
    return table


CSV_FIELDS = ("city", "city_name", "company", "period_start", "kpi", "numerator", "denominator",
              "value", "unit", "status", "thresholds", "breach_strength")


def to_csv(rows: list[dict[str, Any]]) -> str:
    """KPI rows as CSV; the thresholds of a row in one cell, `; `-separated."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r | {"thresholds": "; ".join(
            f"{t['policy_id']} {t['comparator']} {t['threshold']} {t['status']}"
            + (" (aspirational)" if t.get("strength") == "aspirational" else "")
            for t in r["thresholds"])})
    return buf.getvalue()
