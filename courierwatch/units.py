"""KPI values and targets as people read them, in the unit of the plans: 12.00%, 2.10‰,
0.00/100k, 10.5/M, 1,234, 120.00 mm. Pure; shared by the terminal (cli.render) and the
replay report (services.audit.report_html)."""

from __future__ import annotations

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
