"""KPI values and targets as people read them, in the unit of the plans: 12.00%, 2.10‰,
0.00/100k, 10.5/M, 1,234, 120.00 mm. Pure; shared by the terminal (cli.render) and the
replay report (services.audit.report_html)."""

from __future__ import annotations

import math

UNIT_SUFFIX = {"ratio": "%", "per_1000": "‰", "per_100000": "/100k", "per_1000000": "/M",
               "count": "", "mm_per_parcel": " mm"}


def fmt_value(value: float | None, unit: str, digits: int = 2) -> str:
    """A figure in its unit ('–' for no data: not zero)."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value * 100:.{digits}f}%"
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:.{digits}f}{UNIT_SUFFIX.get(unit, '')}"


def fmt_target(comparator: str, value: float, unit: str) -> str:
    """Compact target: ≥12%, ≤2‰, ≤10.5/M."""
    sign = {">=": "≥", "<=": "≤"}.get(comparator, comparator)
    shown = f"{value * 100:g}%" if unit == "ratio" else f"{value:g}{UNIT_SUFFIX.get(unit, '')}"
    return sign + shown


def fmt_figure(value: float | None, unit: str) -> str:
    """A figure for a person: at most two decimals and about three significant digits
    (50.5‰, 1.23‰, 96.8%), never rounded onto a 0 % / 100 % it does not reach (99.96 % is
    99.95%, not 100.0%). A share above 100 % cannot be true: it reads 'invalid >100%'."""
    if value is None:
        return "–"
    if unit == "ratio":
        pct = value * 100
        if pct > 100 + 1e-9:
            return "invalid >100%"
        text = f"{pct:.1f}"
        if (text == "100.0" and pct < 100) or (text == "0.0" and pct > 0):
            text = f"{math.floor(pct * 100) / 100:.2f}" if pct > 50 else f"{pct:.2f}"
        return text + "%"
    if unit == "count":
        return f"{value:,.0f}"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + UNIT_SUFFIX.get(unit, "")
