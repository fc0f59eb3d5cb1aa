"""Conflicting re-sends on the acceptance side of the on-time join (issue 9, item 4).

Two ACCEPTED versions of one event id with the same `ts` but another origin city, or the
same city and another destination and promise, and two ACCEPTED ids of one parcel with the
same `ts` whose sipHash64 % 1024 collide (the old `accepts` version's tie-break). Each
parcel has one DELIVERED. The file goes through `courierwatch process` in both arrival
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
              promised_h: float, hour: int) -> dict[str, Any]:
    return {"schema": "scan.v1", "event_id": event_id, "parcel_id": parcel,
            "company": company, "type": "ACCEPTED", "ts": _at(hour), "city": city,
            "site_id": f"{company}-{city}-S01", "dest_city": dest, "ecommerce": True,
            "promised_by": _at(hour + promised_h),
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
    """The events as tests/reference.py should count them: `joined[parcel]` listed first,
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
    tie-break hash collides): the on-time and promise-kept figures join each delivery with
    the acceptance that the documented rule picks, computed here from the versions, and
    both arrival orders give identical figures."""
    lines = [e for accs, d in CASES.values() for e in [*accs, d]]
    runs = {}
    for order, events in (("sent", lines), ("reversed", lines[::-1])):
        cli = Cli(tmp_path / order)
        runs[order] = (cli, _run(cli, write_jsonl(tmp_path / f"{order}.jsonl", events)))

    stored = _stored(runs["sent"][0], "SELECT event_id, city, dest_city, content_hash, "
                     "sipHash64(event_id) % 1024 FROM courierwatch.events WHERE type = 'ACCEPTED'")
    hashes = {(str(r[0]), str(r[1]), str(r[2])): int(r[3]) for r in stored}
    assert len(hashes) == 6 and all(hashes.values())
    assert len({int(r[4]) for r in stored if r[0] in COLLIDING_IDS}) == 1

    winners = {p: _rule_winner(accs, hashes) for p, (accs, _) in CASES.items()}
    want = _on_time_cells(expected(_reference(winners), "hour"))
    for p, (accs, _) in CASES.items():  # each case's other acceptance would show
        other = next(a for a in accs if a is not winners[p])
        assert _on_time_cells(expected(_reference(winners | {p: other}), "hour")) != want

    for order, (_, rows) in runs.items():
        assert assert_matches_reference(rows, _reference(winners), "hour") > 0, order
        assert _on_time_cells(pipeline_cells(rows)) == want, order
    assert pipeline_cells(runs["sent"][1]) == pipeline_cells(runs["reversed"][1])
