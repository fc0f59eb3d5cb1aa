"""`courierwatch demo`: everything on the embedded defaults, with live KPIs against targets.

Starts the tansu broker, a worker (faust + chDB + HTTP API at http://127.0.0.1:<port>/), and
a producer thread that streams the last 24 hours of a synthetic network for the seed cities
and the YRD's main cities at `rate` events/s, with two incidents for the dashboard to find.
The demo keeps its own database (courierwatch_demo), emptied at start.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from cli.alerts import alerts_table
from courierwatch.cities import SEED_CITIES, YRD_REGION, city_label
from courierwatch.judgement import BREACH
from courierwatch.periods import CST
from courierwatch.units import fmt_target, fmt_value
from load_tests.generator import GeneratorConfig, Incident, generate_batches
from runtime.broker import ensure_topics, kafka_bootstrap
from runtime.ports import free_port, port_free
from runtime.settings import Settings
from services.owner import get_json
from services.pipeline import make_producer, start_worker

SHOWN_KPIS = {"volume": "volume", "on_time_rate": "on time", "promise_kept_rate": "promise kept",
              "delay_rate": "delays", "locker_share": "locker share",
              "valid_complaint_rate": "valid appeals",
              "complaint_satisfaction": "appeal satisf.",
              "standard_packaging_share": "std packaging",
              "no_secondary_packaging_share": "no re-packing", "xray_rate": "x-ray"}
SHOWN_CITIES = (*SEED_CITIES, "310000", YRD_REGION)


class Producer(threading.Thread):
    """Streams generated batches into the scan topic at a steady rate until stopped."""

    def __init__(self, bootstrap: str, settings: Settings, config: GeneratorConfig,
                 rate: int) -> None:
        super().__init__(daemon=True, name="demo-producer")
        self.bootstrap, self.settings, self.config, self.rate = bootstrap, settings, config, rate
        self.sent = 0
        self.stop = threading.Event()

    def run(self) -> None:
        producer = make_producer(self.bootstrap)
        started = time.monotonic()
        try:
            for i, batch in enumerate(generate_batches(self.config, 500)):
                if self.stop.is_set():
                    break
                producer.send(self.settings.scan_topic, batch,
                              partition=i % self.settings.partitions)
                self.sent += 500
                ahead = self.sent / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    self.stop.wait(ahead)
            producer.flush()
        finally:
            producer.close()


def demo_config(now: datetime, count: int) -> GeneratorConfig:
    """The last 24 hours of the network, with a ZTO delay wave in Taizhou (台州) and an X-ray
    lapse at YTO in Wuhan (武汉) during the last six hours."""
    six_hours_ago = now - timedelta(hours=6)
    return GeneratorConfig(
        count=count, seed=int(now.timestamp()), start=now, span_hours=24, realtime=True,
        duplicate_rate=0.02, disorder_s=300,
        incidents=(Incident("331000", "ZTO", "delay", six_hours_ago, 6, 25.0),
                   Incident("420100", "YTO", "no_xray", six_hours_ago, 6, 8.0)))


def _short(city: str) -> str:
    return "长三角 YRD" if city == YRD_REGION else city_label(city).split(" (")[0]


def kpi_matrix(rows: list[dict[str, Any]], day: str, title: str) -> Table:
    """KPIs x cities for all companies on `day` (CST); breaches red with ✗ (yellow with △ when
    only aspirational 力争/基本 targets are breached), passes green."""
    cells = {(r["city"], r["kpi"]): r for r in rows
             if r["company"] == "*" and r["period_start"].startswith(day)}
    table = Table(title=title, header_style="bold", title_justify="left")
    table.add_column("KPI (target)", no_wrap=True)
    for city in SHOWN_CITIES:
        table.add_column(_short(city), justify="right")
    for k, label in SHOWN_KPIS.items():
        targets = {fmt_target(t["comparator"], t["threshold"], t["unit"])
                   for c in SHOWN_CITIES for t in cells.get((c, k), {}).get("thresholds", [])}
        line = [label + (f" {','.join(sorted(targets))}" if targets else "")]
        for city in SHOWN_CITIES:
            r = cells.get((city, k))
            if r is None:
                line.append("[dim]–[/]")
                continue
            text = fmt_value(r["value"], r["unit"], digits=1)
            soft = r.get("breach_strength") == "aspirational"
            style = {"breach": "yellow" if soft else "bold red", "pass": "green",
                     "too_few": "dim"}.get(r["status"], "")
            mark = (" △" if soft else " ✗") if r["status"] == "breach" else ""
            line.append(f"[{style}]{text}{mark}[/]" if style else text)
        table.add_row(*line)
    return table


def breaches(rows: list[dict[str, Any]], day: str, limit: int = 8) -> Text:
    """The largest company-level breaches of the day, seed cities first (a rate on too few
    parcels is `too_few`, not `breach`: the one minimum-sample rule, COURIERWATCH_MIN_SAMPLE)."""
    out = Text()
    br = [r for r in rows if r["status"] == BREACH and r["company"] != "*"
          and r["city"] != YRD_REGION and r["period_start"].startswith(day)]
    br.sort(key=lambda r: (r["city"] not in SEED_CITIES, -r["denominator"]))
    for r in br[:limit]:
        t = next(t for t in r["thresholds"] if t["status"] == "breach")
        soft = r.get("breach_strength") == "aspirational"
        out.append(f"{'△' if soft else '✗'} {_short(r['city'])} {r['company']} {r['kpi']} "
                   f"{fmt_value(r['value'], r['unit'])} vs "
                   f"{fmt_target(t['comparator'], t['threshold'], t['unit'])} "
                   f"({t['policy_id']}{', aspirational' if soft else ''})\n",
                   style="yellow" if soft else "red")
    return out


def run_demo(settings: Settings, duration: float | None, fmt: str, rate: int) -> int:
    settings = settings.with_(database="courierwatch_demo", topic_prefix="demo.")
    console = Console(stderr=fmt == "json")
    now = datetime.now(UTC)
    today = now.astimezone(CST).date().isoformat()
    count = int(rate * duration) if duration else 50_000_000
    port = settings.api_port if port_free(settings.api_port) else free_port()
    token = settings.api_token  # needed (national) once the data directory has tokens
    with kafka_bootstrap(settings) as bootstrap:
        ensure_topics(bootstrap, settings)
        worker = start_worker(settings, bootstrap, web_port=port, reset_database=True)
        base = f"http://127.0.0.1:{port}"
        producer = Producer(bootstrap, settings, demo_config(now, count), rate)
        rows: list[dict[str, Any]] = []
        alerts: list[dict[str, Any]] = []
        try:
            _wait_for_api(base, worker, token)
            console.print(f"courierwatch demo: live dashboard {base}/ · API {base}/api/kpi · "
                          f"metrics {base}/metrics · Ctrl-C stops")
            producer.start()
            started = time.monotonic()
            with Live(console=console, refresh_per_second=1, transient=fmt == "json") as live:
                while duration is None or time.monotonic() - started < duration:
                    if not worker.alive():
                        raise RuntimeError(f"worker stopped:\n{worker.log_tail()}")
                    with contextlib.suppress(OSError, ValueError):
                        rows = get_json(base, "/api/kpi", {"by": "day"}, token=token)["rows"]
                        status = get_json(base, "/api/status", token=token)
                        alerts = get_json(base, "/api/alerts", {"active": "1"}, token=token)["rows"]
                        live.update(_screen(rows, status, producer, rate, today, alerts))
                    time.sleep(2)
            producer.stop.set()
            producer.join(timeout=30)
            _drain(bootstrap, settings, base, producer.sent, token)
            rows = get_json(base, "/api/kpi", {"by": "day"}, token=token)["rows"]
            alerts = get_json(base, "/api/alerts", {"active": "1"}, token=token)["rows"]
        except KeyboardInterrupt:
            producer.stop.set()
        finally:
            worker.stop()
    if fmt == "json":
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    else:
        console.print(kpi_matrix(rows, today, f"Final KPIs, {today} (CST), all companies"))
        console.print(breaches(rows, today))
        console.print(alerts_table(alerts, f"Active alerts ({len(alerts)}): "
                                   f"{sys.argv[0]} alerts list"))
        console.print(f"All figures: COURIERWATCH_DATABASE={settings.database} "
                      f"{sys.argv[0]} kpi")
    return 0


def _screen(rows: list[dict[str, Any]], status: dict[str, Any], producer: Producer,
            rate: int, today: str, alerts: list[dict[str, Any]]) -> Group:
    wm_ms = status["watermark_ms"]
    wm = datetime.fromtimestamp(wm_ms / 1000, UTC) if wm_ms else None
    head = Text(f"produced {producer.sent:,} events at {rate:,}/s · archived "
                f"{status['archived']:,} · dead-lettered {status['dead_lettered']:,} · "
                f"event time up to {wm.astimezone().strftime('%Y-%m-%d %H:%M') if wm else '–'}")
    return Group(head, kpi_matrix(rows, today, f"Live KPIs vs. targets, {today} (CST), "
                                  "all companies"), breaches(rows, today),
                 alerts_table(alerts, f"Active alerts ({len(alerts)})"))


def _wait_for_api(base: str, worker: Any, token: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RuntimeError(f"worker stopped:\n{worker.log_tail()}")
        with contextlib.suppress(OSError):
            get_json(base, "/api/status", timeout_s=2, token=token)
            return
        time.sleep(0.3)
    raise TimeoutError("worker API did not come up")


def _drain(bootstrap: str, settings: Settings, base: str, sent: int, token: str,
           timeout_s: float = 60) -> None:
    """Give the worker a moment to ingest what was produced before the final report."""
    del bootstrap
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        s = get_json(base, "/api/status", token=token)
        if s["archived"] + s["late"] + s["dead_lettered"] >= sent * 0.999:
            return
        time.sleep(0.5)
