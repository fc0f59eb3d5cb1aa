"""Inline SVG bar charts of figures against their targets, drawn in Python (no JS, no network).

One chart per KPI: a horizontal bar per cell (period, city, company), coloured by its status
(breach of a binding target red, of aspirational targets only amber, pass green; no
target, no data or too few to judge grey), with a tick and a label at each target.
Every text is escaped with `html.escape`, so a city or company name cannot inject markup.
"""

from __future__ import annotations

from html import escape
from typing import Any

from courierwatch.units import fmt_target, fmt_value

WIDTH, LABEL_W, VALUE_W, ROW_H, TOP = 820, 330, 80, 20, 26
BAR_W = WIDTH - LABEL_W - VALUE_W
COLOURS = {"breach": "#c0392b", "pass": "#2e8b57", "aspirational": "#d4a017"}  # else grey


def _scale_max(rows: list[dict[str, Any]]) -> float:
    values = [r["value"] for r in rows if r["value"] is not None]
    values += [t["threshold"] for r in rows for t in r["thresholds"]]
    top = max(values, default=1.0) or 1.0
    if rows and rows[0]["unit"] == "ratio" and top <= 1.0:
        return 1.0
    return top * 1.1


def _label(r: dict[str, Any]) -> str:
    """`2026-11-02 台州 Taizhou (Zhejiang) SF`; the hour too when the period is an hour."""
    when = r["period_start"][:16].replace("T", " ").removesuffix(" 00:00")
    return f"{when} {r['city_name']} {r['company']}"


def bar_chart(kpi: str, rows: list[dict[str, Any]]) -> str:
    """An <svg> element for the rows of one KPI (all with the same unit)."""
    top = _scale_max(rows)
    height = TOP + ROW_H * len(rows) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(kpi)}">',
             f'<text x="0" y="16" class="ct">{escape(kpi)}</text>']
    for i, r in enumerate(rows):
        y = TOP + i * ROW_H
        v = r["value"]
        w = 0.0 if v is None else max(0.0, min(1.0, v / top)) * BAR_W
        aspirational = r["status"] == "breach" and r.get("breach_strength") == "aspirational"
        colour = COLOURS.get("aspirational" if aspirational else r["status"], "#999")
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end" class="cl">'
                     f'{escape(_label(r))}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" '
                     f'fill="{colour}"><title>{escape(_label(r))}: '
                     f'{escape(fmt_value(v, r["unit"]))}</title></rect>')
        parts.append(f'<text x="{LABEL_W + BAR_W + 6}" y="{y + 14}" class="cv">'
                     f'{escape(fmt_value(v, r["unit"]))}</text>')
        for t in r["thresholds"]:
            x = LABEL_W + max(0.0, min(1.0, t["threshold"] / top)) * BAR_W
            parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + ROW_H}" '
                         'stroke="#222" stroke-width="2"><title>'
                         f'{escape(t["policy_id"])} '
                         f'{escape(fmt_target(t["comparator"], t["threshold"], t["unit"]))}'
                         '</title></line>')
    axis_y = TOP + ROW_H * len(rows) + 14
    parts.append(f'<text x="{LABEL_W}" y="{axis_y}" class="cl">0</text>')
    parts.append(f'<text x="{LABEL_W + BAR_W}" y="{axis_y}" text-anchor="end" class="cl">'
                 f'{escape(fmt_value(top, rows[0]["unit"] if rows else "count"))}</text>')
    parts.append("</svg>")
    return "".join(parts)
