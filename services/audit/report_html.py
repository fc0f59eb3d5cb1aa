"""report.html of a replay: one self-contained page (inline CSS and SVG, no script, no
network), printable, deterministic (no clock: the same replay gives the same bytes).

Printed on A4 (`@page`). Sections: the differences that change a verdict (pass <-> breach)
with rates, counts and targets; what was replayed (range, filters, counts, sources and
hashes from the manifest); the other differences from the published and the live figures
with their causes, rates beside counts; a chart per KPI of
the judged figures against their targets, and the table of judged figures. Every value is
escaped with `html.escape`.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

from courierwatch.units import fmt_target, fmt_value
from services.audit.svg_chart import bar_chart

MAX_BARS = 40  # per chart; beyond it the chart keeps the all-company ('*') rows

CSS = """
@page{size:A4;margin:14mm 12mm}
body{font:14px/1.45 "Noto Sans CJK SC","Noto Sans",system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:6px 0;font-size:12px}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.breach{color:#c0392b;font-weight:bold}.aspirational{color:#a67c00}.pass{color:#2e8b57}.muted{color:#777}
code{font-size:11px;word-break:break-all}
svg .ct{font-weight:bold;font-size:13px}svg .cl,svg .cv{font-size:11px}
figure{margin:10px 0;break-inside:avoid;page-break-inside:avoid}
@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}
 a{color:inherit;text-decoration:none}}
"""


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """Cells are pre-escaped HTML; headers are escaped here."""
    numeric = numeric or set()
    out = ["<table>"]
    if any(head):
        out += ["<thead><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead>"]
    out.append("<tbody>")
    for r in rows:
        out.append("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _summary(m: dict[str, Any]) -> str:
    f, ev = m["filters"], m["events"]
    items = [
        ("range (CST)", f"{m['range']['from']} to {m['range']['to']} by {m['range']['by']}"),
        ("city", f.get("city_name") or "all"), ("company", f.get("company") or "all"),
        ("archive snapshot (latest ingest, UTC)", m["archive_snapshot_ingested_at"]),
        ("events replayed", f"{ev['rows']:,} rows ({ev['rows_in_period']:,} in the range, "
                            f"{ev['acceptances_for_joins']:,} acceptances for the on-time "
                            f"join), {ev['distinct_events']:,} distinct ids, "
                            f"{ev['late_rows']:,} late"),
        ("input events (events.csv) SHA-256", m["input_events"]["sha256"]),
        ("kpis.json SHA-256", m["kpis"]["sha256"]),
        ("code", f"{m['code']['version']} source {m['code']['source_sha256']}"),
        ("policy catalog", f"policies {m['policy_catalog']['policies_sha256']}, route classes "
                           f"{m['policy_catalog']['route_classes_sha256']}"),
    ]
    rows = [[escape(k), escape(str(v))] for k, v in items]
    srcs = [[escape(str(x.get("kind", ""))), f"<code>{escape(str(x['source']))}</code>",
             escape(f"lines {x['first_line']:,}–{x['last_line']:,}" if "first_line" in x
                    else ""), f"{x['rows']:,}"] for x in m.get("sources", [])]
    ranges = [[f"<code>{escape(str(a.get('source', '')))}</code>", escape(a["topic"]),
               str(a["partition"]), f"{a['first_offset']:,}", f"{a['last_offset']:,}",
               f"{a['rows']:,}"] for a in m["archive_ranges"]]
    return (_table(["", ""], rows)
            + "<p>Sources of the events (a file by its SHA-256, a Kafka topic by cluster, "
              "topic and topic id):</p>"
            + _table(["kind", "source", "lines", "rows"], srcs, {3})
            + "<p>Archive ranges read:</p>"
            + _table(["source", "topic", "partition", "first offset", "last offset", "rows"],
                     ranges, {2, 3, 4, 5}))


def _counts(c: dict[str, float] | None, j: dict[str, Any] | None = None) -> str:
    """The rate in its unit and its verdict, the counts beside it."""
    if c is None:
        return "–"
    counts = escape(f"{c['numerator']:g} / {c['denominator']:g}")
    if not j:
        return counts
    cls = {"breach": "breach", "pass": "pass"}.get(j["status"], "muted")
    return (f'<span class="{cls}">{escape(j["shown"])} {escape(j["status"])}</span> '
            f'<span class="muted">({counts})</span>')


def _differences(diffs: list[dict[str, Any]], name: str) -> str:
    if not diffs:
        return f'<p class="pass">No difference from the {escape(name)} figures.</p>'
    rows = [[escape(d["period_start"][:16]), escape(d["city_name"]), escape(d["company"]),
             escape(d["kpi"]), "<br>".join(escape(t) for t in d.get("targets", [])) or "–",
             _counts(d[name], d.get(f"{name}_judged")),
             _counts(d["replayed"], d.get("replayed_judged")),
             "<br>".join(f"<b>{escape(c['cause'])}</b>: {escape(c['detail'])}"
                         for c in d["causes"])] for d in diffs]
    return _table(["period", "city", "company", "kpi", "targets", name, "replayed",
                   "explanation"], rows)


def _verdict_changes(differences: dict[str, Any]) -> str:
    """Every difference that turned a pass into a breach or back, published first."""
    out = []
    for name in ("published", "live"):
        changed = [d for d in differences[f"from_{name}"] if d.get("verdict_changed")]
        if changed:
            out.append(f"<p>Against the {escape(name)} figures: {len(changed):,} of "
                       f"{len(differences[f'from_{name}']):,} differences change the "
                       "verdict.</p>" + _differences(changed, name))
    return "".join(out) or '<p class="pass">No difference changes a verdict.</p>'



def _charts(judged: list[dict[str, Any]]) -> str:
    by_kpi: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in judged:
        if r["value"] is not None:  # no data: in the table, not drawn as a zero bar
            by_kpi[r["kpi"]].append(r)
    out = []
    for kpi in sorted(by_kpi):
        rows = by_kpi[kpi]
        note = ""
        if len(rows) > MAX_BARS:
            kept = [r for r in rows if r["company"] == "*"][:MAX_BARS]
            note = (f'<figcaption class="muted">{len(kept)} of {len(rows)} cells shown (all '
                    "companies); every cell is in the table below and in kpis.json"
                    "</figcaption>")
            rows = kept
        if rows:
            out.append(f"<figure>{bar_chart(kpi, rows)}{note}</figure>")
    return "".join(out)


def _figures_table(judged: list[dict[str, Any]]) -> str:
    rows = []
    for r in judged:
        cls = {"breach": "breach", "pass": "pass"}.get(r["status"], "muted")
        if cls == "breach" and r.get("breach_strength") == "aspirational":
            cls = "aspirational"
        targets = "<br>".join(
            f"{escape(fmt_target(t['comparator'], t['threshold'], t['unit']))} "
            f"{escape(t['status'])} {escape(t.get('strength') or '')} "
            f"<span class=\"muted\">{escape(t['policy_id'])} "
            f"({escape(t['source'])})</span>" for t in r["thresholds"])
        rows.append([escape(r["period_start"][:16]), escape(r["city_name"]),
                     escape(r["company"]), escape(r["kpi"]),
                     escape(f"{r['numerator']:g}"), escape(f"{r['denominator']:g}"),
                     f'<span class="{cls}">{escape(fmt_value(r["value"], r["unit"]))}</span>',
                     targets])
    return _table(["period", "city", "company", "kpi", "numerator", "denominator", "value",
                   "targets"], rows, {4, 5, 6})


def render_report(rows: list[dict[str, Any]], manifest: dict[str, Any],
                  differences: dict[str, Any]) -> str:
    """The page for kpis.json `rows`, `manifest` and `differences` (replay_diff's shape)."""
    judged = [r for r in rows if r["thresholds"]]
    breaches = sum(1 for r in judged if r["status"] == "breach")
    title = "courierwatch replay report 回放审计报告"
    return "".join([
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="muted">{len(rows):,} figures recomputed from the event archive; '
        f"{len(judged):,} judged against the policy catalog, {breaches:,} in breach.</p>",
        "<h2>Verdict changes (pass ↔ breach)</h2>", _verdict_changes(differences),
        "<h2>What was replayed</h2>", _summary(manifest),
        "<h2>Differences from the published figures</h2>",
        _differences([d for d in differences["from_published"]
                      if not d.get("verdict_changed")], "published"),
        "<h2>Differences from the live figures</h2>",
        _differences([d for d in differences["from_live"] if not d.get("verdict_changed")],
                     "live"),
        "<h2>Figures against their targets</h2>",
        '<p class="muted">Bar: the figure (red: a binding target breached, amber: only '
        "aspirational 力争/基本 targets breached, green: pass, grey: too few to judge); black "
        "tick: a target (hover for its policy id).</p>",
        _charts(judged), "<h2>Judged figures</h2>", _figures_table(judged),
        "</body></html>\n"])
