"""Conflicting re-sends on the acceptance side of the on-time join (issue 9, item 4).

Two ACCEPTED versions of one event id with the same `ts` but another origin city, or the
same city and another destination and promise; two ACCEPTED ids of one parcel with the
same `ts` whose sipHash64 % 1024 collide (the old `accepts` version's tie-break); a
parcel whose earliest acceptance has no promise and a later one has; and an acceptance
whose id's counting version is an earlier acceptance of another parcel. Each case has one
DELIVERED. The file goes through `courierwatch process` in both arrival
orders, each into a data directory of its own.

The expected acceptance is computed here from docs/reliability.md's rule, smallest
(ts, city, company, type, content hash), over the versions as sent (the content hashes are
read from the archive, where ClickHouse stored them); the expected figures are DESIGN.md's
formulas over that acceptance, computed by tests/reference.py.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import REPO, Cli, write_jsonl
from tests.integration.compare import assert_matches_reference, pipeline_cells
from tests.reference import expected

pytestmark = pytest.mark.integration

T0 = datetime.fromisoformat("2026-11-02T08:00:00.000+08:00")
# Two ids whose sipHash64 % 1024 agree (290): the old accepts version could not tell them
# apart at equal ts. Checked against the archive below.
COLLIDING_IDS = ("TIE-C1", "TIE-C435")


def _at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat(timespec="milliseconds")


def _accepted(event_id: str, parcel: str, company: str, city: str, dest: str,
              promised_h: float | None, hour: float) -> dict[str, Any]:
    promise = {} if promised_h is None else {"promised_by": _at(hour + promised_h)}
    return {"schema": "scan.v1", "event_id": event_id, "parcel_id": parcel,
            "company": company, "type": "ACCEPTED", "ts": _at(hour), "city": city,
            "site_id": f"{company}-{city}-S01", "dest_city": dest, "ecommerce": True,
            **promise,
            "packaging": {"standard": True, "e_waybill": True, "secondary_packaging": False,
                          "recycled_bag": True, "tape_mm": 90, "degradable": False},
            "security": {"real_name": True, "inspected": True, "xray": True}}


def _delivered(event_id: str, parcel: str, company: str, city: str, hour: float
               ) -> dict[str, Any]:
    return {"schema": "scan.v1", "event_id": event_id, "parcel_id": parcel,
            "company": company, "type": "DELIVERED", "ts": _at(hour), "city": city,
            "site_id": f"{company}-{city}-S02", "mode": "DOOR"}


# Per parcel: its competing acceptances (same ts), then its delivery 20 h later. Each pair
# differs in route class (intra_city, 24 h: on time; yrd_key_12h: late) and in whether the
# promise is kept, so the joined acceptance shows in the figures.
CASES: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {
    # one id, two origin cities: the rule picks the smaller city code
    "PTIEA": ([_accepted("TIE-A", "PTIEA", "ZTO", "330200", "330200", 24, 0),
               _accepted("TIE-A", "PTIEA", "ZTO", "330100", "330200", 12, 0)],
              _delivered("TIE-DA", "PTIEA", "ZTO", "330200", 20)),
    # one id, one city and company, another destination and promise: the content hash
    "PTIEB": ([_accepted("TIE-B", "PTIEB", "YTO", "330100", "330100", 24, 1),
               _accepted("TIE-B", "PTIEB", "YTO", "330100", "330200", 12, 1)],
              _delivered("TIE-DB", "PTIEB", "YTO", "330100", 21)),
    # two ids, same ts, colliding sipHash64 % 1024: the earlier-ts tie goes by the same
    # order, (ts, city, company, content hash, event id)
    "PTIEC": ([_accepted(COLLIDING_IDS[0], "PTIEC", "STO", "330200", "330200", 24, 2),
               _accepted(COLLIDING_IDS[1], "PTIEC", "STO", "330100", "330200", 12, 2)],
              _delivered("TIE-DC", "PTIEC", "STO", "330200", 22)),
    # two ids, the earlier without a promise: no promise is joined (not the later one's)
    "PTIED": ([_accepted("TIE-D1", "PTIED", "JT", "330100", "330100", None, 3),
               _accepted("TIE-D2", "PTIED", "JT", "330100", "330100", 24, 3.5)],
              _delivered("TIE-DD", "PTIED", "JT", "330100", 23)),
    # one id re-sent as an earlier acceptance of another parcel: that version counts, so
    # PTIEE has no acceptance and its delivery joins none
    "PTIEE": ([_accepted("TIE-E", "PTIEE", "SF", "330100", "330100", 24, 4),
               _accepted("TIE-E", "PTIEF", "SF", "330100", "330200", 24, 3.9)],
              _delivered("TIE-DE", "PTIEE", "SF", "330100", 24)),
}

_QUERY = """
import sys, orjson
from warehouse.client import Warehouse
wh = Warehouse("chdb://" + sys.argv[1] + "/clickhouse", "courierwatch")
print(orjson.dumps([list(r) for r in wh.query(sys.stdin.read())]).decode())
"""


def _stored(cli: Cli, sql: str) -> list[list[Any]]:
    """Rows of `sql` over the archive of a finished run (a child process: chDB opens one
    data directory per process)."""
    proc = subprocess.run([sys.executable, "-c", _QUERY, str(cli.data_dir)], input=sql,
                          capture_output=True, text=True, cwd=REPO, timeout=180, check=True)
    return list(orjson.loads(proc.stdout.strip().splitlines()[-1]))


def _rule_winner(versions: list[dict[str, Any]], hashes: dict[tuple[str, str, str], int]
                 ) -> dict[str, Any]:
    """docs/reliability.md's order, written here from its text: smallest (ts, city,
    company, type, content hash), then event id (distinct ids of one parcel)."""
    return min(versions, key=lambda v: (datetime.fromisoformat(v["ts"]), v["city"],
                                        v["company"], v["type"],
                                        hashes[(v["event_id"], v["city"], v["dest_city"])],
                                        v["event_id"]))


def _reference(joined: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as tests/reference.py should count them: `joined[case]` listed first,
    so that it is the version of its id that counts and the acceptance its parcel joins
    (the reference keeps an id's first version, and the first acceptance at equal ts);
    the other id of a parcel still counts in its own cell."""
    return [*joined.values(), *(e for accs, d in CASES.values() for e in [*accs, d])]


def _run(cli: Cli, path: Path) -> list[dict[str, Any]]:
    summary = orjson.loads(cli.run("process", "--input", str(path), "--format", "json").stdout)
    assert summary["dead_letters"] == 0
    return cli.kpi_rows("--by", "hour")


def _on_time_cells(cells: dict[Any, tuple[float, float]]) -> dict[Any, tuple[float, float]]:
    return {k: v for k, v in cells.items()
            if (k[3].startswith("on_time_rate") or k[3] == "promise_kept_rate") and any(v)}


def test_tied_acceptances_join_the_rules_winner_whatever_the_arrival_order(
        tmp_path: Path) -> None:
    """Acceptances tied on ts (one id re-sent with other contents, or two ids whose old
    tie-break hash collides), and an acceptance whose id counts elsewhere: the on-time and
    promise-kept figures join each delivery with the acceptance that the documented rule
    picks (none when its version loses), computed here from the versions, and both arrival
    orders give identical figures."""
    lines = [e for accs, d in CASES.values() for e in [*accs, d]]
    runs = {}
    for order, events in (("sent", lines), ("reversed", lines[::-1])):
        cli = Cli(tmp_path / order)
        runs[order] = (cli, _run(cli, write_jsonl(tmp_path / f"{order}.jsonl", events)))

    stored = _stored(runs["sent"][0], "SELECT event_id, city, dest_city, content_hash, "
                     "sipHash64(event_id) % 1024 FROM courierwatch.events WHERE type = 'ACCEPTED'")
    hashes = {(str(r[0]), str(r[1]), str(r[2])): int(r[3]) for r in stored}
    assert len(hashes) == 10 and all(hashes.values())
    assert len({int(r[4]) for r in stored if r[0] in COLLIDING_IDS}) == 1

    winners = {p: _rule_winner(accs, hashes) for p, (accs, _) in CASES.items()}
    want = _on_time_cells(expected(_reference(winners), "hour"))
    # What each case guards against would show: the other acceptance of a tie joined, or
    # (PTIED) the earliest joined with the later one's promise.
    wrong = {p: next(a for a in accs if a is not winners[p])
             for p, (accs, _) in CASES.items() if p != "PTIED"}
    wrong["PTIED"] = winners["PTIED"] | {"promised_by": CASES["PTIED"][0][1]["promised_by"]}
    for p, joined in wrong.items():
        assert _on_time_cells(expected(_reference(winners | {p: joined}), "hour")) != want, p

    for order, (_, rows) in runs.items():
        assert assert_matches_reference(rows, _reference(winners), "hour") > 0, order
        assert _on_time_cells(pipeline_cells(rows)) == want, order
    assert pipeline_cells(runs["sent"][1]) == pipeline_cells(runs["reversed"][1])


_UPGRADE = """
import sys, orjson
from datetime import UTC, datetime
import warehouse.migrations as m
from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from courierwatch.scope import Scope
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from warehouse.client import Warehouse
from warehouse.queries import CellFilter
from warehouse.report import kpi_report
from warehouse.sink import ClickHouseSink
path, before = sys.argv[1:]
halves = orjson.loads(sys.stdin.buffer.read())
every = m.MIGRATIONS
m.MIGRATIONS = tuple(x for x in every if x.id < before)
wh = Warehouse("chdb://" + path, "old")
cols = "SELECT name FROM system.columns WHERE database = 'old' AND table = 'accepts' ORDER BY name"
out = {"old_columns": [r[0] for r in wh.query(cols)]}
def ingest(events, offset):
    Ingestor(load_settings({}), ClickHouseSink(wh), 0,
             clock=lambda: datetime(2026, 11, 20, tzinfo=UTC)).handle(
        [Arrival("scan.v1", 0, offset + i, orjson.dumps(e)) for i, e in enumerate(events)])
ingest(halves[0], 0)
m.MIGRATIONS = every
out["applied"] = m.migrate(wh.client, "old")
out["new_columns"] = [r[0] for r in wh.query(cols)]
out["backfilled"] = wh.query("SELECT uniqExact(event_id) FROM old.accepts")[0][0]
ingest(halves[1], 10**6)
out["rows"] = [r.to_json() for r in kpi_report(wh, CellFilter(by="hour", scope=Scope.national()),
                                               load_route_table(), load_catalog())]
print(orjson.dumps(out).decode())
"""


@pytest.mark.parametrize("before", ["0013", "0009"], ids=["archive_at_0012", "before_hashes"])
def test_an_existing_archive_migrates_and_joins_as_a_fresh_one(tmp_path: Path,
                                                                before: str) -> None:
    """An archive made by the migrations before `before` (its `accepts` one row per parcel
    by version; with "0009" even without content hashes) holds half the events; the next
    start applies the rest, 0013 rebuilds `accepts` from the archive, and the other half
    arrives through the new view: every figure equals the reference over all events,
    including the deliveries whose acceptance was stored before the upgrade."""
    events = list(generate(GeneratorConfig(count=3_000, seed=31, duplicate_rate=0.05)))
    half = len(events) // 2
    proc = subprocess.run([sys.executable, "-c", _UPGRADE, str(tmp_path / "ch"), before],
                          input=orjson.dumps([events[:half], events[half:]]),
                          capture_output=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    out = orjson.loads(proc.stdout.strip().splitlines()[-1])
    assert "version" in out["old_columns"] and "event_id" not in out["old_columns"]
    assert out["applied"][-1] == "0013_accepts_every_version"
    assert {"event_id", "content_hash"} <= set(out["new_columns"])
    assert "version" not in out["new_columns"]
    accepted_first_half = {e["event_id"] for e in events[:half] if e["type"] == "ACCEPTED"}
    assert out["backfilled"] == len(accepted_first_half)
    compared = assert_matches_reference(out["rows"], events, "hour")
    on_time = [r for r in out["rows"] if r["kpi"] == "on_time_rate" and r["denominator"]]
    assert compared > 500 and on_time
