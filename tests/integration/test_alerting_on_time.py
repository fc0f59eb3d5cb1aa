"""On-time alerts end to end: late deliveries into Taizhou -> the figures' join -> an alert.

The issue's third incident: 30 % of ZTO's parcels into Taizhou arrive after 50-70 h (10x
ZTO's normal 3 % late share, for parcels accepted over twelve hours). The on-time
evaluator, fed per 5-minute slice by the same join the figures use, alerts for Taizhou x
ZTO, saying which acceptances its late parcels belong to, and pages nowhere else. Not yet
"nothing elsewhere": other cells raise aspirational warnings (see the test).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate, parse_incident
from tests.conftest import Cli, write_jsonl

pytestmark = pytest.mark.integration

TAIZHOU = "331000"
START = datetime.fromisoformat("2026-11-02T12:00:00+08:00")  # acceptances from
HOURS = 12


@pytest.fixture(scope="module")
def late_wave() -> list[dict[str, Any]]:
    incident = parse_incident(f"late:{TAIZHOU}:ZTO:{START.isoformat()}:{HOURS}:10")
    return list(generate(GeneratorConfig(
        count=300_000, seed=5, span_hours=96, cities=(TAIZHOU, "310000", "420100"),
        companies=("ZTO", "YTO"), incidents=(incident,))))


def test_late_deliveries_into_taizhou_raise_an_on_time_alert_there_only(
        tmp_path: Path, late_wave: list[dict[str, Any]]) -> None:
    """Every alert is on an on-time KPI of Taizhou x ZTO; at least one fires, its value is
    below the target, and its late parcels were accepted before the window's end minus the
    class's hours (the acceptance window is named), within the incident's acceptances."""
    late = [e for e in late_wave if e["type"] == "DELIVERED" and e["city"] == TAIZHOU
            and e["company"] == "ZTO"]
    assert len(late) > 2000  # enough deliveries into the cell to judge
    cli = Cli(tmp_path / "cw")
    cli.run("process", "--input", str(write_jsonl(tmp_path / "late.jsonl", late_wave)))
    alerts = orjson.loads(cli.run("alerts", "list", "--format", "json").stdout)
    assert alerts, "no alert on the late-delivery wave"
    seen = [(a["city"], a["company"], a["kpi"], a["policy_id"], a["severity"])
            for a in alerts]
    assert any(a["company"] == "ZTO" for a in alerts), seen
    # Which of ZTO's classes alerts first varies between runs of the same file (the join
    # sees a delivery only once its acceptance is stored; docs/alerting.md, known limits).
    assert all(a["kpi"].startswith("on_time_rate.") for a in alerts), seen
    # Pages only for Taizhou ZTO. Known (issue 22 stays open): with parcels counted at both
    # ends and in every class they meet, the generator's normal late shares (1.5-5 %) raise
    # the YRD plan's aspirational 12 h warnings in other cells; docs/alerting.md.
    pages = [a for a in alerts if a["severity"] == "page"]
    assert pages and all((a["city"], a["company"]) == (TAIZHOU, "ZTO") for a in pages), seen
    assert all(a["severity"] == "warning" for a in alerts if a["company"] != "ZTO"), seen
    first = min((a for a in alerts if a["company"] == "ZTO"), key=lambda a: a["started_at"])
    assert first["value"] < first["threshold"]
    start_ms = int(START.timestamp() * 1000)
    accepted_before = first["acceptance_before_ms"]
    assert accepted_before is not None
    assert start_ms < accepted_before < start_ms + (HOURS + 48) * 3_600_000
    assert first["window_end_ms"] - accepted_before >= 12 * 3_600_000  # a class's hours
