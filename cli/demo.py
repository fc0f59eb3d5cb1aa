"""`courierwatch demo`: everything on the embedded defaults, with live KPIs against targets.

Starts the tansu broker, a worker (faust + chDB + HTTP API at http://127.0.0.1:<port>/), and
a producer thread that streams the last 24 hours of a synthetic network for the seed cities
and the YRD's main cities at `rate` events/s, with two incidents for the dashboard to find.
The demo keeps its own database (courierwatch_demo), emptied at start.
"""

from __future__ import annotations

import contextlib
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
from courierwatch.kpi_names import kpi_name
from courierwatch.periods import CST
from load_tests.generator import HOURLY_PROFILE, GeneratorConfig, Incident, generate_batches
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
SPAN_HOURS = 24
LABEL_WIDTH = 16    # the KPI column (name, then its targets on a second line)
CITY_WIDTH = 11     # a city column with its borders and padding ("100.0% ✗")
MAX_BREACH_LINES = 10


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


def busy_since(now: datetime, mean_hours: float) -> datetime:
    """The latest start before `now` whose span up to `now` holds `mean_hours` hours of the
    day's mean acceptance rate (the generator's China-time profile): six such hours are
    six hours at midday and twelve or more across a night. An incident over that span has
    the same parcels to show itself on whatever the time the demo is run."""
    profile = [w * 24 / sum(HOURLY_PROFILE) for w in HOURLY_PROFILE]
    t, need = now.astimezone(CST), mean_hours
    while need > 0:
        hour_start = t.replace(minute=0, second=0, microsecond=0)
        if hour_start == t:
            hour_start -= timedelta(hours=1)
        weight = profile[hour_start.hour]
        span_h = (t - hour_start).total_seconds() / 3600
        if weight * span_h >= need:
            return (t - timedelta(hours=need / weight)).replace(second=0, microsecond=0)
        need -= weight * span_h
        t = hour_start
    return t


def demo_config(now: datetime, count: int) -> GeneratorConfig:
    """The last 24 hours of a healthy network (load_tests/lifecycle.py) up to `now`, with a
    ZTO delay wave in Taizhou (台州: about 8 % of parcels delayed, the YRD plan allows 2‰)
    and an X-ray lapse at YTO in Wuhan (武汉: 5 % of acceptances unscreened, the plan says
    all), each over the latest span holding six (eight) hours of mean traffic
    (`busy_since`). Both run past `now`, so they are inside the generated span whatever its
    exact end, and the delay alert is still firing when the demo stops."""
    wave, lapse = busy_since(now, 6), busy_since(now, 8)
    return GeneratorConfig(
        count=count, seed=int(now.timestamp()), start=now, span_hours=SPAN_HOURS,
        realtime=True, duplicate_rate=0.02, disorder_s=300,
        incidents=(Incident("331000", "ZTO", "delay", wave, SPAN_HOURS, 800.0),
                   Incident("420100", "YTO", "no_xray", lapse, SPAN_HOURS, 5.0)))


def _short(city: str) -> str:
    return "长三角\nYRD" if city == YRD_REGION else city_label(city).split(" (")[0].replace(
        " ", "\n", 1)


def _mark(cell: dict[str, Any]) -> tuple[str, str]:
    """(text, style) of a board cell: ✗ red, △ amber, grey when too few, green pass."""
    text = cell["text"]
    if cell["status"] == BREACH:
        soft = cell.get("breach_strength") == "aspirational"
        return f"{text} {'△' if soft else '✗'}", "yellow" if soft else "bold red"
    return text, {"pass": "green", "too_few": "dim", "invalid": "magenta"}.get(
        cell["status"], "")


def kpi_matrix(board: dict[str, Any], title: str, width: int) -> list[Table]:
    """KPIs x cities for all companies over the window; as many city columns per table as
    `width` holds (an 80-column terminal gets two tables, a wide one a single table)."""
    cells = {(c["city"], c["kpi"]): c for c in board["cells"] if c["company"] == "*"}
    fits = max(1, (width - LABEL_WIDTH - 4) // CITY_WIDTH)
    n_tables = -(-len(SHOWN_CITIES) // fits)
    per_table = -(-len(SHOWN_CITIES) // n_tables)  # balanced: 3 + 3 rather than 5 + 1
    tables = []
    for i in range(0, len(SHOWN_CITIES), per_table):
        cities = SHOWN_CITIES[i:i + per_table]
        table = Table(title=title if i == 0 else None, header_style="bold",
                      title_justify="left")
        table.add_column("KPI (target)", max_width=LABEL_WIDTH, overflow="fold")
        for city in cities:
            table.add_column(_short(city), justify="right", no_wrap=True)
        for k, label in SHOWN_KPIS.items():
            targets = sorted({t["text"] for c in SHOWN_CITIES
                              for t in cells.get((c, k), {}).get("thresholds", [])})
            line = [Text(label) + (Text("\n" + " ".join(targets), style="dim")
                                   if targets else Text(""))]
            for city in cities:
                cell = cells.get((city, k))
                line.append(Text(*_mark(cell)) if cell else Text("–", style="dim"))
            table.add_row(*line)
        tables.append(table)
    return tables


def breaches(board: dict[str, Any], limit: int = MAX_BREACH_LINES) -> Text:
    """The companies breaching a binding target over the window, seed cities first, each as
    a person reads it; aspirational misses (100 % on-time aims) are counted, not listed."""
    out = Text()
    cells = [c for c in board["cells"] if c["status"] == BREACH and c["company"] != "*"
             and c["city"] != YRD_REGION]
    hard = [c for c in cells if c.get("breach_strength") != "aspirational"]
    hard.sort(key=lambda c: (c["city"] not in SEED_CITIES, c["city"], c["company"], c["kpi"]))
    if not hard:
        out.append("No company breaches a binding target in the window.\n", style="green")
    for c in hard[:limit]:
        t = next(t for t in c["thresholds"] if t["status"] == BREACH)
        zh, en = kpi_name(c["kpi"])
        out.append(f"✗ {city_label(c['city'])} · {c['company']} · {zh} {en} {c['text']} vs "
                   f"{t['text']} ({t['policy_id']}) · n = {c['denominator']:,} "
                   f"{c['denominator_name']}\n", style="red")
    if len(hard) > limit:
        out.append(f"… and {len(hard) - limit} more binding breaches (dashboard: the board)\n")
    soft = len(cells) - len(hard)
    if soft:
        out.append(f"△ {soft} aspirational (力争) misses, e.g. of 100 % on-time aims: shown "
                   "amber on the board, never paged\n", style="yellow")
    return out


def _cst(ms: int | None) -> str:
    if not ms:
        return "–"
    return datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d %H:%M") + " CST"


def _window(now: datetime) -> dict[str, str]:
    return {"from": (now - timedelta(hours=SPAN_HOURS)).astimezone(CST).isoformat(
        timespec="seconds")}


def run_demo(settings: Settings, duration: float | None, fmt: str, rate: int) -> int:
    settings = settings.with_(database="courierwatch_demo", topic_prefix="demo.")
    console = Console(stderr=fmt == "json")
    now = datetime.now(UTC)
    count = int(rate * duration) if duration else 50_000_000
    port = settings.api_port if port_free(settings.api_port) else free_port()
    token = settings.api_token  # needed (national) once the data directory has tokens
    window = _window(now)
    with kafka_bootstrap(settings) as bootstrap:
        ensure_topics(bootstrap, settings)
        worker = start_worker(settings, bootstrap, web_port=port, reset_database=True)
        base = f"http://127.0.0.1:{port}"
        producer = Producer(bootstrap, settings, demo_config(now, count), rate)
        rows: list[dict[str, Any]] = []
        board: dict[str, Any] = {"cells": []}
        alerts: list[dict[str, Any]] = []
        status: dict[str, Any] = {}
        try:
            _wait_for_api(base, worker, token)
            console.print(f"courierwatch demo: live dashboard {base}/ · API {base}/api/kpi · "
                          f"metrics {base}/metrics · Ctrl-C stops")
            producer.start()
            started = time.monotonic()
            with Live(console=console, refresh_per_second=1, transient=True) as live:
                while duration is None or time.monotonic() - started < duration:
                    if not worker.alive():
                        raise RuntimeError(f"worker stopped:\n{worker.log_tail()}")
                    with contextlib.suppress(OSError, ValueError):
                        board = get_json(base, "/api/board", window, token=token)
                        status = get_json(base, "/api/status", token=token)
                        alerts = get_json(base, "/api/alerts", {"active": "1"}, token=token)["rows"]
                        live.update(_screen(board, status, producer, rate, alerts, base,
                                            console.width))
                    time.sleep(3)
            producer.stop.set()
            producer.join(timeout=30)
            _drain(bootstrap, settings, base, producer.sent, token)
            rows = get_json(base, "/api/kpi", {"by": "day"}, token=token)["rows"]
            board = get_json(base, "/api/board", window, token=token)
            status = get_json(base, "/api/status", token=token)
            alerts = get_json(base, "/api/alerts", {"active": "1"}, token=token)["rows"]
        except KeyboardInterrupt:
            producer.stop.set()
        finally:
            worker.stop()
    if fmt == "json":
        print(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    else:
        console.print(_screen(board, status, producer, rate, alerts, base, console.width,
                              final=True))
        console.print(f"All figures: COURIERWATCH_DATABASE={settings.database} "
                      "courierwatch kpi")
    return 0


def _screen(board: dict[str, Any], status: dict[str, Any], producer: Producer, rate: int,
            alerts: list[dict[str, Any]], base: str, width: int, final: bool = False) -> Group:
    """Header (event time in CST), the matrix, the binding breaches, the active alerts."""
    head = Text(f"produced {producer.sent:,} events at {rate:,}/s · archived "
                f"{status.get('archived', 0):,} · dead-lettered "
                f"{status.get('dead_lettered', 0):,}\n"
                f"data up to {_cst(status.get('watermark_ms'))} (event time)")
    title = (f"{'Final' if final else 'Live'} KPIs vs. targets, last {SPAN_HOURS} h "
             "(CST), all companies")
    pages = [a for a in alerts if a.get("severity") == "page"]
    warnings = len(alerts) - len(pages)
    parts: list[Any] = [head, *kpi_matrix(board, title, width), breaches(board),
                        alerts_table(pages, f"Active alerts ({len(alerts)}): {len(pages)} "
                                     "paging", base)]
    if warnings:  # aspirational (力争) targets warn, never page: counted, as on the board
        parts.append(Text(f"△ {warnings} warnings on aspirational targets (力争), not "
                          "listed here: courierwatch alerts list --active", style="yellow"))
    if final:
        parts.append(Text(f"Dashboard: {base}/?city=331000 · alerts: courierwatch alerts "
                          "list (while a worker runs)"))
    return Group(*parts)


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
