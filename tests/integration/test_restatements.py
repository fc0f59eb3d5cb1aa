"""Late data and restatements on the real broker and chDB (docs/semantics.md)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import Cli, write_jsonl
from tests.reference import period

pytestmark = pytest.mark.integration


def _late_acceptance(n: int) -> dict[str, object]:
    return {"schema": "scan.v1", "event_id": f"LATE-{n}", "parcel_id": f"SF9{n:011d}",
            "company": "SF", "type": "ACCEPTED", "ts": "2026-11-02T10:15:00.000+08:00",
            "city": "331000", "dest_city": "310000", "ecommerce": True,
            "packaging": {"standard": True, "e_waybill": True, "secondary_packaging": False,
                          "recycled_bag": True, "tape_mm": 80, "degradable": False},
            "security": {"real_name": True, "inspected": True, "xray": True}}


def test_late_events_for_a_published_period_are_restated(tmp_path: Path) -> None:
    """Events that arrive after their period was published change the figure and leave a
    restatement with the published (old) and the new numerator and denominator."""
    cli = Cli(tmp_path / "cw", COURIERWATCH_PUBLISH_INTERVAL_S="1")
    first = list(generate(GeneratorConfig(count=6000, seed=5)))
    cli.run("process", "--input", str(write_jsonl(tmp_path / "a.jsonl", first)))
    hour_key = ("331000", "SF", "2026-11-02 10:00:00")
    before = Counter((e["city"], e["company"], period(e["ts"], "hour")) for e in first
                     if e["type"] == "ACCEPTED")[hour_key]
    assert cli.run("restatements", "--format", "json").stdout.strip() == "[]"

    late = [_late_acceptance(i) for i in range(3)]
    cli.run("process", "--input", str(write_jsonl(tmp_path / "b.jsonl", late)))
    rows = __import__("orjson").loads(cli.run("restatements", "--format", "json").stdout)
    volume = {(r["period"], r["period_start"]): r for r in rows
              if r["kpi"] == "volume" and r["city"] == "331000" and r["company"] == "SF"}
    hour = volume[("hour", "2026-11-02 10:00:00")]
    assert (hour["old_numerator"], hour["new_numerator"]) == (before, before + 3)
    assert "3 events arrived" in hour["cause"]
    day = volume[("day", "2026-11-02 00:00:00")]
    assert day["new_numerator"] == day["old_numerator"] + 3
    kpi = {(r["kpi"], r["period_start"]): r for r in
           cli.kpi_rows("--city", "331000", "--company", "SF", "--by", "hour")}
    assert kpi[("volume", "2026-11-02T10:00:00+08:00")]["numerator"] == before + 3
    # Issue 23: each side as a rate in its unit with its verdict, and --verdict-changed
    # lists exactly the rows whose verdict turned (pass <-> breach).
    for r in rows:
        if r["kpi"] in ("e_waybill_share", "real_name_rate") and r["old_denominator"]:
            assert r["old_shown"] == f"{r['old_numerator'] / r['old_denominator'] * 100:.2f}%"
            assert r["new_shown"] == f"{r['new_numerator'] / r['new_denominator'] * 100:.2f}%"
        turned = {r["old_status"], r["new_status"]} == {"pass", "breach"}
        assert r["verdict_changed"] == turned
    changed = __import__("orjson").loads(cli.run("restatements", "--verdict-changed",
                                                 "--format", "json").stdout)
    assert len(changed) == sum(1 for r in rows if r["verdict_changed"])
    assert all(r["verdict_changed"] for r in changed)
