"""Alerting end to end: generated events -> broker -> worker -> chDB -> alerts -> webhook.

The issue's "done means": a day of healthy traffic with one eight-hour incident (ZTO in
Taizhou, about 5 % of its parcels delayed) raises that alert and no other, with the right
policy and figures, resolved after recovery; a webhook receiver that was down throughout
gets each notification once when it is back; processing the same file again raises
nothing new. Expected figures come from tests/alert_reference.py, computed from the raw
events without the pipeline's SQL.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate, parse_incident
from services.pipeline import free_port
from tests.alert_reference import bucket_counts
from tests.conftest import Cli, write_jsonl

pytestmark = pytest.mark.integration

TAIZHOU = "331000"
INCIDENT_START = datetime.fromisoformat("2026-11-02T06:00:00+08:00")
INCIDENT_HOURS = 8
POLICY = "yrd-2020-delay-rate"  # seed 003 专栏: 快件延误率（千分之） 2


class Receiver:
    """A real HTTP server recording every POSTed body (an Alertmanager webhook receiver)."""

    def __init__(self, port: int) -> None:
        received = self.received = []  # type: list[dict[str, Any]]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(orjson.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def incident_day() -> list[dict[str, Any]]:
    incident = parse_incident(f"delay:{TAIZHOU}:ZTO:{INCIDENT_START.isoformat()}:"
                              f"{INCIDENT_HOURS}:1200")  # x40 of the old 3e-3 baseline
    # The stream's sparse tail (deliveries and complaints for days after) is cut at the
    # end of the next day: the test is about the incident day.
    end = datetime.fromisoformat("2026-11-04T00:00:00+08:00")
    return [e for e in generate(GeneratorConfig(
        count=300_000, seed=3, cities=(TAIZHOU, "310000", "330100"),
        companies=("ZTO", "YTO", "SF"), incidents=(incident,), duplicate_rate=0.02,
        disorder_s=300)) if datetime.fromisoformat(str(e["ts"])) < end]


def _window(counts: dict[tuple[str, str, int], dict[str, int]], lo_ms: int, hi_ms: int
            ) -> tuple[int, int]:
    """(delays, acceptances) of Taizhou ZTO with bucket start in [lo, hi)."""
    cells = [c for (city, company, b), c in counts.items()
             if city == TAIZHOU and company == "ZTO" and lo_ms <= b < hi_ms]
    return sum(c.get("exc_delay", 0) for c in cells), sum(c.get("accepted", 0) for c in cells)


def test_incident_alert_figures_webhook_once_and_no_new_alert_on_reprocessing(
        tmp_path: Path, incident_day: list[dict[str, Any]]) -> None:
    """One alert (Taizhou ZTO delay_rate vs the YRD plan's 2 per 1000), paging, started
    during the incident and resolved after it, its sample and misses equal to the
    hand-counted long window; the receiver, down for the first run, gets firing and
    resolved exactly once during the second run, which raises no new alert."""
    start_ms = int(INCIDENT_START.timestamp() * 1000)
    end_ms = start_ms + INCIDENT_HOURS * 3_600_000
    counts = bucket_counts(incident_day)
    delays, accepted = _window(counts, start_ms, end_ms)
    assert 30 <= delays / accepted * 1000 <= 60  # the incident is "4-5 % delayed"

    port = free_port()
    cli = Cli(tmp_path / "cw", COURIERWATCH_ALERT_WEBHOOKS=f"http://127.0.0.1:{port}/hook",
              COURIERWATCH_ALERT_MAX_BACKOFF_S="1")
    path = write_jsonl(tmp_path / "day.jsonl", incident_day)
    cli.run("process", "--input", str(path))
    alerts = orjson.loads(cli.run("alerts", "list", "--format", "json").stdout)

    assert [(a["city"], a["company"], a["kpi"], a["policy_id"], a["state"])
            for a in alerts] == [(TAIZHOU, "ZTO", "delay_rate", POLICY, "resolved")]
    a = alerts[0]
    assert (a["severity"], a["city_zh"], a["comparator"], a["threshold"]) == (
        "page", "台州", "<=", 2)
    assert a["source"].startswith("003_") and "延误率" in a["quote"] and a["section"]
    started = datetime.fromisoformat(a["started_at"]).timestamp() * 1000
    resolved = datetime.fromisoformat(a["resolved_at"]).timestamp() * 1000
    assert start_ms < started < end_ms < resolved < end_ms + 8 * 3_600_000
    last = datetime.fromisoformat(a["last_breach_at"]).timestamp() * 1000
    misses, sample = _window(counts, int(last) - a["long_window_s"] * 1000, int(last))
    assert (a["misses"], a["sample"]) == (misses, sample)
    assert a["value"] == pytest.approx(misses / sample * 1000)

    outbox = sqlite3.connect(cli.data_dir / "alert_outbox.sqlite")
    assert outbox.execute("SELECT count(*) FROM notifications WHERE delivered_ms IS NULL"
                          ).fetchone()[0] == 2  # firing and resolved, not delivered yet
    outbox.close()

    receiver = Receiver(port)
    try:
        cli.run("process", "--input", str(path))
    finally:
        receiver.close()
    again = orjson.loads(cli.run("alerts", "list", "--format", "json").stdout)
    assert again == alerts  # a second processing of the same events raises nothing new
    got = [(m["status"], m["alerts"][0]["fingerprint"]) for m in receiver.received]
    assert got == [("firing", a["fingerprint"]), ("resolved", a["fingerprint"])]
    first = receiver.received[0]
    assert first["version"] == "4" and first["receiver"] and first["groupKey"]
    assert first["alerts"][0]["labels"]["policy_id"] == POLICY
    assert first["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert receiver.received[1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
