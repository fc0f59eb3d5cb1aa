"""The benchmark's result as a readable rich table (the JSON has the same figures)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

_BARS = " ▁▂▃▄▅▆▇█"

# (key, label, format) of the figures shown, in order; absent keys are skipped.
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("events_per_s", "sustained ingest (events/s)", "{:,.0f}"),
    ("offered_events_per_s", "offered by the producer (events/s)", "{:,.0f}"),
    ("capacity_events_per_s", "capacity, producer never waiting (events/s)", "{:,.0f}"),
    ("baseline_events_per_s", "naive baseline (events/s)", "{:,.0f}"),
    ("speedup", "speedup over the baseline", "{:,.1f}x"),
    ("peer_name", "peer, same broker and traffic", "{}"),
    ("peer_events_per_s", "peer (events/s)", "{:,.0f}"),
    ("peer_ratio", "ratio over the peer", "{:,.1f}x"),
    ("p50_latency_s", "scan to queryable, p50 (s)", "{:,.2f}"),
    ("p99_latency_s", "scan to queryable, p99 (s)", "{:,.2f}"),
    ("markers", "latency markers", "{:,}"),
    ("lag_growth_events", "lag growth, last third - first (events)", "{:,}"),
    ("peak_rss_mb", "worker peak RSS (MB)", "{:,.0f}"),
    ("parcels_in_flight", "parcels in flight", "{:,}"),
    ("ingest_events_per_s", "ingest rate (events/s)", "{:,.0f}"),
    ("kpi_query_s", "KPI query with all parcels in flight (s)", "{:,.2f}"),
    ("archived_events", "archived events", "{:,}"),
    ("replay_events", "events replayed", "{:,}"),
    ("replay_s", "replay: copy + recompute (s)", "{:,.1f}"),
    ("replay_events_per_s", "replay (events/s)", "{:,.0f}"),
    ("duration_s", "sustained phase (s)", "{:,.0f}"),
    ("wall_s", "whole run (s)", "{:,.0f}"),
)


def sparkline(values: list[int]) -> str:
    if not values:
        return ""
    top = max(values) or 1
    return "".join(_BARS[min(8, round(v / top * 8))] for v in values)


def _fmt(fmt: str, v: Any) -> str:
    if v is None:
        return "–"
    try:
        return fmt.format(v)
    except (ValueError, TypeError):
        return str(v)


def bench_table(r: dict[str, Any]) -> Group:
    m = r.get("machine", {})
    title = (f"courierwatch bench · {r.get('mode')} · {m.get('cpus')} CPUs "
             f"({m.get('cpu_model')}), {m.get('memory_gib')} GiB")
    figures = Table(title=title, title_justify="left", show_header=False)
    figures.add_column("figure")
    figures.add_column("value", justify="right")
    for key, label, fmt in FIGURES:
        if key in r:
            figures.add_row(label, _fmt(fmt, r[key]))
    targets = Table(title="Targets (issue 25's goal; load_tests/bench_setup.py)",
                    title_justify="left")
    for col in ("", "target", "wanted", "measured"):
        targets.add_column(col)
    for t in r.get("targets", []):
        mark = "[green]✓[/]" if t["met"] else "[red]✗[/]"
        value = t["value"]
        if isinstance(value, float):
            shown = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
        else:
            shown = "–" if value is None else str(value)
        targets.add_row(mark, t["name"], t["target"], shown)
    parts: list[Any] = [figures, targets]
    if r.get("lag_events"):
        growing = "[red]growing[/]" if r.get("lag_growing") else "[green]not growing[/]"
        parts.append(Text.from_markup(
            f"lag over time (1/s, max {max(r['lag_events']):,} events, {growing}): "
            f"{sparkline(r['lag_events'])}"))
    cpu = r.get("cpu")
    if cpu:
        threads = ", ".join(f"{k} {v}" for k, v in cpu.get("worker_cores_by_thread", {}).items())
        others = ", ".join(f"{k} {v}" for k, v in cpu.get("other_cores", {}).items())
        parts.append(Text(f"cores used: worker {cpu.get('worker_cores')} ({threads}); "
                          f"{others}; batches in progress "
                          f"{cpu.get('ingest_busy_share', 0):.0%} of the time (over 100 %: "
                          f"overlapping), {cpu.get('mean_batch_events') or 0:,} events/batch"))
    per = r.get("cpu_s_per_1000_events")
    if per and per.get("total") is not None:
        parts.append(Text("CPU seconds per 1,000 events (judge changes by these, from "
                          "interleaved runs): " + ", ".join(f"{k} {v:.4f}"
                                                             for k, v in per.items())))
    return Group(*parts)
