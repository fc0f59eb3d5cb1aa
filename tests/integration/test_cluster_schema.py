"""The cluster schema (warehouse.migrations with a cluster name), checked with the embedded
engine: no ClickHouse cluster can run here, so every generated statement is parsed by
chDB's parser (`EXPLAIN AST`, which fails on any syntax error) and its engines, Keeper
paths, macros and sharding keys are asserted; the sharding keys are then evaluated on
real archived rows to show that the ingest door and the archive route an event alike.

chDB runs in a child process: it serves one data directory per process, and other tests
of this session open theirs.
"""

from __future__ import annotations

import re
import subprocess
import sys

import orjson
import pytest

from tests.conftest import REPO
from warehouse.ddl import Layout
from warehouse.migrations import MIGRATIONS, ShapeRepair, schema_statements

pytestmark = pytest.mark.integration

CLUSTER = "courierwatch"
DB = "cw"

_PARSE = """
import sys, orjson, chdb
out = []
for stmt in orjson.loads(sys.stdin.buffer.read()):
    try:
        out.append(["ok", str(chdb.query("EXPLAIN AST " + stmt, "TSVRaw"))])
    except Exception as exc:  # reported back to the test
        out.append(["error", str(exc)[:500]])
print(orjson.dumps(out).decode())
"""


def _chdb(script: str, payload: object) -> list[list[str]]:
    proc = subprocess.run([sys.executable, "-c", script], input=orjson.dumps(payload),
                          capture_output=True, cwd=REPO, timeout=180, check=True)
    return list(orjson.loads(proc.stdout.strip().splitlines()[-1]))


def test_every_cluster_statement_parses_and_is_replicated_sharded_on_cluster() -> None:
    """Every statement of the cluster schema parses; each table is a Replicated*MergeTree
    (or the Null ingest door) under `/clickhouse/tables/{shard}/{database}/{table}` with
    `{replica}`, has a Distributed table of the public name in front with its sharding
    key, and every statement runs ON CLUSTER."""
    stmts = schema_statements(Layout(DB, CLUSTER))
    results = _chdb(_PARSE, stmts)
    errors = [(s[:80], r[1]) for s, r in zip(stmts, results, strict=True) if r[0] != "ok"]
    assert not errors
    # A backfill (INSERT ... SELECT through the Distributed tables) runs once, not per node.
    assert all(f" ON CLUSTER {CLUSTER}" in s for s in stmts if not s.startswith("INSERT"))
    assert all(s.endswith("SETTINGS insert_distributed_sync = 1")
               for s in stmts if s.startswith("INSERT"))

    local = {m.group(1): s for s in stmts
             if (m := re.match(rf"CREATE TABLE IF NOT EXISTS {DB}\.(\w+)_local ", s))}
    dist = {m.group(1): m.group(2) for s in stmts if (m := re.search(
        rf"CREATE TABLE IF NOT EXISTS {DB}\.(\w+) ON CLUSTER \w+ AS {DB}\.\1_local\n"
        rf"ENGINE = Distributed\({CLUSTER}, {DB}, \1_local, (.+)\)$", s))}
    assert set(local) == set(dist) == {
        "events", "cell_counts", "tape_cells", "accepts", "late_events", "dead_letters",
        "kpi_published", "restatements", "events_in", "hour_arrivals", "event_versions",
        "alert_cells", "alerts"}
    for name, stmt in local.items():
        if name == "events_in":
            assert "ENGINE = Null" in stmt
            continue
        assert re.search(r"ENGINE = Replicated(Replacing|Aggregating|)MergeTree\("
                         r"'/clickhouse/tables/\{shard\}/\{database\}/\{table\}', "
                         r"'\{replica\}'", stmt), name
    cell = "cityHash64(city, company)"
    assert {n: k for n, k in dist.items() if k == cell}.keys() == {
        "events", "cell_counts", "tape_cells", "late_events", "kpi_published", "restatements",
        "alert_cells"}
    assert dist["alerts"] == "cityHash64(fingerprint)"
    assert dist["accepts"] == "cityHash64(parcel_id)"
    assert dist["event_versions"] == "cityHash64(event_id)"
    assert dist["events_in"] == ("cityHash64(JSONExtractString(raw, 'city'), "
                                 "JSONExtractString(raw, 'company'))")
    for everywhere in ("schema_migrations", "audit_log", "alert_progress"):
        stmt = next(s for s in stmts if f".{everywhere} ON CLUSTER" in s and "CREATE" in s)
        assert re.search(r"Replicated\w*MergeTree\('/clickhouse/tables/all/\{database\}/"
                         r"\{table\}', '\{replica\}'", stmt), everywhere
    # A later migration's new column reaches both the local and the Distributed table.
    alters = [s for s in stmts if s.startswith("ALTER TABLE") and "content_hash" in s]
    assert {s.split()[2] for s in alters} == {f"{DB}.events_local", f"{DB}.events"}


def test_views_read_local_tables_and_acceptances_are_resharded_by_parcel() -> None:
    """On a cluster a view fires where a block lands: it reads the local table of its
    source and writes the local table of its target, except the acceptances and the event
    versions, which go through the Distributed table to the parcel's or the id's shard."""
    views = [s for s in schema_statements(Layout(DB, CLUSTER)) if "MATERIALIZED VIEW" in s]
    targets = {m.group(1): m.group(2) for s in views
               if (m := re.match(rf"CREATE MATERIALIZED VIEW IF NOT EXISTS {DB}\.(\w+) "
                                 rf"ON CLUSTER \w+ TO {DB}\.(\w+) AS", s))}
    assert targets == {"cell_counts_mv": "cell_counts_local", "tape_cells_mv": "tape_cells_local",
                       "accepts_mv": "accepts", "late_events_mv": "late_events_local",
                       "events_in_mv": "events_local", "hour_arrivals_mv": "hour_arrivals_local",
                       "event_versions_mv": "event_versions", "alert_cells_mv": "alert_cells_local"}
    for s in views:
        assert re.search(rf"FROM {DB}\.\w+_local\b", s), s[:60]


def test_one_node_schema_comes_from_the_same_definitions_without_cluster_clauses() -> None:
    """Without a cluster name the same definitions give the single-node schema: no ON
    CLUSTER, no Replicated engine, no Distributed table, no _local names, one statement
    per definition."""
    stmts = schema_statements(Layout(DB))
    text = "\n".join(stmts)
    for absent in ("ON CLUSTER", "Replicated", "Distributed", "_local", "{shard}"):
        assert absent not in text
    objects = sum(len(o.objects) if isinstance(o, ShapeRepair) else 1
                  for m in MIGRATIONS for o in m.objects)
    assert len(stmts) == objects + 2  # + the database and schema_migrations


_ROUTE = """
import sys, orjson, tempfile
from datetime import UTC, datetime
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from warehouse.client import Warehouse
from warehouse.sink import ClickHouseSink
from load_tests.generator import GeneratorConfig, generate
d = tempfile.mkdtemp()
wh = Warehouse("chdb://" + d + "/clickhouse", "route")
events = list(generate(GeneratorConfig(count=400, seed=21)))
Ingestor(load_settings({}), ClickHouseSink(wh), 0,
         clock=lambda: datetime(2026, 11, 20, tzinfo=UTC)).handle(
    [Arrival("scan.v1", 0, i, orjson.dumps(e)) for i, e in enumerate(events)])
door, cell = sys.stdin.read().split("\\n")
rows = wh.query(f"SELECT event_id, {cell} FROM route.events")
keys = {e["event_id"]: wh.query(f"SELECT {door} FROM (SELECT {{raw:String}} AS raw)",
                                {"raw": orjson.dumps(e).decode()})[0][0] for e in events[:60]}
print(orjson.dumps({"archive": {r[0]: str(r[1]) for r in rows},
                    "door": {k: str(v) for k, v in keys.items()}}).decode())
"""


def test_the_ingest_door_routes_an_event_to_the_shard_of_its_cell() -> None:
    """The Distributed ingest door computes its key from the event's JSON text; the
    archive and the cell tables compute theirs from the parsed columns. For real events
    stored by the real ingest step, both give the same hash, so an event's rows, its
    re-sends and its cell's states land on one shard."""
    stmts = schema_statements(Layout(DB, CLUSTER))
    key = {m.group(1): m.group(2) for s in stmts if (m := re.search(
        r"ENGINE = Distributed\(\w+, \w+, (\w+)_local, (.+)\)$", s))}
    proc = subprocess.run([sys.executable, "-c", _ROUTE], input=f"{key['events_in']}\n"
                          f"{key['events']}", capture_output=True, text=True, cwd=REPO,
                          timeout=180, check=True)
    got = orjson.loads(proc.stdout.strip().splitlines()[-1])
    assert len(got["door"]) == 60
    assert all(got["archive"][eid] == h for eid, h in got["door"].items())
