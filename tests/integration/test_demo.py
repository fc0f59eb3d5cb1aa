"""The README's demo command, on the real embedded broker and chDB."""

from __future__ import annotations

import operator
from collections import Counter
from typing import Any

import orjson
import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.integration


def test_demo_with_duration_stops_by_itself_and_reports_the_seed_cities(cli: Cli) -> None:
    """`courierwatch demo --duration S --format json` exits 0 on its own and reports figures
    for the seed cities judged against their own plans' targets and the YRD plan's: every
    target's status and every row's is the one the judgement rules below give."""
    rows = orjson.loads(cli.run("demo", "--duration", "12", "--rate", "3000",
                                "--format", "json", timeout=300).stdout)
    seen = {r["city"] for r in rows if r["kpi"] == "volume" and r["numerator"] > 0}
    assert {"320400", "331000", "371500", "420100"} <= seen
    policies = {t["policy_id"] for r in rows for t in r["thresholds"]}
    assert any(p.startswith("taizhou-") for p in policies)
    assert any(p.startswith("yrd-") for p in policies)
    for r in rows:
        assert [t["status"] for t in r["thresholds"]] == [
            threshold_status(r, t) for t in r["thresholds"]], r
        assert r["status"] == row_status([t["status"] for t in r["thresholds"]]), r
    judged = Counter(r["status"] for r in rows)
    assert judged["pass"] > 0, judged  # figures on enough parcels were judged


# The judgement of docs/DESIGN.md, written out here: a rate on fewer than 50 parcels (the
# default COURIERWATCH_MIN_SAMPLE) is too few to judge; a target is met when
# `value comparator threshold` holds; a row shows a breach if any target is breached,
# else a pass, else too_few, else no_data, and no_target when no target applies.
COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
           "==": operator.eq}


def threshold_status(row: dict[str, Any], target: dict[str, Any]) -> str:
    if row["value"] is None:
        return "no_data"
    if row["unit"] != "count" and row["denominator"] < 50:
        return "too_few"
    return "pass" if COMPARE[target["comparator"]](row["value"], target["threshold"]) else "breach"


def row_status(states: list[str]) -> str:
    if not states:
        return "no_target"
    return next((s for s in ("breach", "pass", "too_few") if s in states), "no_data")
