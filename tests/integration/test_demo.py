"""The README's demo command, on the real embedded broker and chDB."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.integration


def test_demo_with_duration_stops_by_itself_and_reports_the_seed_cities(cli: Cli) -> None:
    """`courierwatch demo --duration S --format json` exits 0 on its own and reports figures
    for the seed cities judged against their own plans' targets and the YRD plan's."""
    rows = orjson.loads(cli.run("demo", "--duration", "12", "--rate", "3000",
                                "--format", "json", timeout=300).stdout)
    seen = {r["city"] for r in rows if r["kpi"] == "volume" and r["numerator"] > 0}
    assert {"320400", "331000", "371500", "420100"} <= seen
    policies = {t["policy_id"] for r in rows for t in r["thresholds"]}
    assert any(p.startswith("taizhou-") for p in policies)
    assert any(p.startswith("yrd-") for p in policies)
    assert all(r["status"] in ("pass", "breach", "no_data", "no_target", "too_few") for r in rows)
