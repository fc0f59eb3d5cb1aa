"""Conflicting re-sends (issue 9, item 4): an event id re-sent with other contents.

Each chosen event is sent twice with the same id: as generated and as a variant in another
city and at another time (minutes earlier or later), in either order in the file. By the
documented rule the version with the earliest `ts` counts (the variants never tie on ts), so
the reference figures are DESIGN.md's formulas over the events with each id's earliest
version only, computed by tests/reference.py, which knows nothing of the rule's SQL.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import Cli, write_jsonl
from tests.integration.compare import assert_matches_reference

pytestmark = pytest.mark.integration


def _shifted(ts: str, minutes: int) -> str:
    t = datetime.fromisoformat(ts) + timedelta(minutes=minutes)
    return t.isoformat(timespec="milliseconds")


def test_conflicting_resends_count_once_in_the_earliest_versions_cell(cli: Cli,
                                                                       tmp_path: Path) -> None:
    """150 event ids each arrive with two contents (another city and time), in either order:
    every figure equals the reference over the earliest version of each id alone, cell by
    cell (so no id counts in two cells and a city's figures add up to the region's), and
    `courierwatch conflicts` lists exactly those ids, two versions each, the earliest
    marked as the one that counts."""
    rng = random.Random(7)
    events = list(generate(GeneratorConfig(count=8_000, seed=23)))
    cities = sorted({str(e["city"]) for e in events})
    chosen = rng.sample(range(len(events)), 150)
    lines = [dict(e) for e in events]
    winners = {i: events[i] for i in range(len(events))}
    for i in chosen:
        e = events[i]
        variant = dict(e) | {"city": rng.choice([c for c in cities if c != e["city"]]),
                             "ts": _shifted(str(e["ts"]), rng.choice([-1, 1]) * rng.randint(1, 90))}
        if e["type"] == "ACCEPTED":  # a re-scan at the same outlet moves no acceptance city
            variant["city"] = e["city"]
        if datetime.fromisoformat(str(variant["ts"])) < datetime.fromisoformat(str(e["ts"])):
            winners[i] = variant
        lines.insert(rng.randrange(len(lines) + 1), variant)
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    summary = orjson.loads(cli.run("process", "--input", str(path), "--format", "json").stdout)
    assert summary["dead_letters"] == 0
    assert summary["distinct_events"] == len(events)
    reference = list(winners.values())
    assert assert_matches_reference(cli.kpi_rows("--by", "hour"), reference, "hour") > 1000
    assert assert_matches_reference(cli.kpi_rows("--by", "day"), reference, "day") > 100

    listed = orjson.loads(cli.run("conflicts", "--format", "json").stdout)
    ids = {str(events[i]["event_id"]) for i in chosen}
    assert {r["event_id"] for r in listed} == ids
    assert len(listed) == 2 * len(ids)
    counting = {r["event_id"]: r for r in listed if r["counts"]}
    assert set(counting) == ids
    for i in chosen:
        want = datetime.fromisoformat(str(winners[i]["ts"]))
        got = datetime.fromisoformat(str(counting[str(events[i]["event_id"])]["ts"]) + "+00:00")
        assert got == want
