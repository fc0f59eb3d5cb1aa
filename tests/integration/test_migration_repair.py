"""Migration 0017: a database that ran the removed 0013/0014 is repaired; one from the
12-migration release migrates cleanly and keeps its `accepts` rows.

The window's schema is built here as that code built it: the first 12 migrations, then
0013 and 0014 as literal DDL copied from git history (525cc2d^, warehouse/migrations.py
rendered for one node), their ids recorded. Half of the events are stored through the real
ingest step while the database has that shape, `migrate()` runs (by opening the
Warehouse), the other half is stored, and every figure is compared with the independent
reference (tests/reference.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.client import Client

from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from courierwatch.scope import Scope
from load_tests.generator import GeneratorConfig, generate
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from tests.integration.compare import assert_matches_reference
from warehouse.client import Warehouse, connect
from warehouse.ddl import Layout
from warehouse.migrations import MIGRATIONS, SCHEMA_MIGRATIONS
from warehouse.queries import CellFilter
from warehouse.report import kpi_report
from warehouse.sink import ClickHouseSink

pytestmark = pytest.mark.integration

EVENTS = list(generate(GeneratorConfig(count=800, seed=25)))
NOW = datetime(2026, 11, 20, tzinfo=UTC)
_dbs = itertools.count()

# The removed migrations as that code rendered them for one node (git show
# 525cc2d^:warehouse/migrations.py, `_accepts_every_version` and `_state_granules`).
REMOVED_0013 = (
    "DROP VIEW IF EXISTS {db}.accepts_mv",
    "DROP TABLE IF EXISTS {db}.accepts SYNC",
    """CREATE TABLE IF NOT EXISTS {db}.accepts (
  parcel_id String, event_id String, content_hash UInt64,
  ts DateTime64(3, 'UTC'), city LowCardinality(String), dest_city LowCardinality(String),
  company LowCardinality(String), promised_by Nullable(DateTime64(3, 'UTC'))
) ENGINE = ReplacingMergeTree
ORDER BY (parcel_id, event_id, content_hash)""",
    """CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.accepts_mv TO {db}.accepts AS
SELECT parcel_id, event_id,
  if(e.content_hash != 0, e.content_hash, sipHash64(ts, city, dest_city, company, promised_by))
    AS content_hash,
  ts, city, dest_city, company, promised_by
FROM {db}.events AS e WHERE late = 0 AND type = 'ACCEPTED'""",
    """INSERT INTO {db}.accepts
SELECT parcel_id, event_id,
  if(e.content_hash != 0, e.content_hash, sipHash64(ts, city, dest_city, company, promised_by))
    AS content_hash,
  ts, city, dest_city, company, promised_by
FROM {db}.events AS e WHERE late = 0 AND type = 'ACCEPTED'""",
)
STATE_TABLES = ("cell_counts", "tape_cells", "late_events", "alert_cells")
REMOVED_0014 = tuple(f"ALTER TABLE {{db}}.{t} MODIFY SETTING merge_max_block_size = 64"
                     for t in STATE_TABLES)
# In that window a state table created fresh carried these settings (fbf1cff).
WINDOW_STATE_SETTINGS = "\nSETTINGS index_granularity = 64, merge_max_block_size = 64"


@pytest.fixture(scope="module")
def dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('chdb') / 'clickhouse'}"


class _RawSink:
    """Stores through a bare client: the database keeps the shape it was built with (a
    Warehouse would migrate it on opening)."""

    def __init__(self, client: Client, db: str) -> None:
        self.client, self.db = client, db

    def write(self, table: str, columns: Sequence[Sequence[Any]], names: Sequence[str]) -> None:
        # Only the columns that release had: the ingest step of today also writes the
        # source ids of 0016, which come after 0017 in MIGRATIONS.
        have = {r[0] for r in self.client.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = "
            "{t:String}", parameters={"db": self.db, "t": table}).result_rows}
        kept = [(c, n) for c, n in zip(columns, names, strict=True) if n in have]
        self.client.insert(f"{self.db}.{table}", [c for c, _ in kept],
                           column_names=[n for _, n in kept], column_oriented=True)

    def flush(self) -> None:
        """Synchronous inserts."""


def _ingest(sink: Any, events: list[dict[str, Any]], first_offset: int) -> None:
    messages = [b"\n".join(orjson.dumps(e) for e in events[j:j + 40])
                for j in range(0, len(events), 40)]
    Ingestor(load_settings({}), sink, 0, clock=lambda: NOW).handle(
        [Arrival("scan.v1", 0, first_offset + i, m) for i, m in enumerate(messages)])


def _build(client: Client, db: str, window: str) -> None:
    """`release12`: the first 12 migrations. `upgraded`: those, then the removed 0013 and
    0014. `created`: a database created in the window (state tables with the window's
    settings), then 0013 and 0014."""
    layout = Layout(db)
    client.command(layout.create_database())
    for stmt in layout.table(SCHEMA_MIGRATIONS):
        client.command(stmt)
    ids = []
    for m in MIGRATIONS[:12]:
        for stmt in m.statements(layout):
            if window == "created" and any(
                    stmt.startswith(f"CREATE TABLE IF NOT EXISTS {db}.{t} ")
                    for t in STATE_TABLES):
                stmt += WINDOW_STATE_SETTINGS
            client.command(stmt)
        ids.append(m.id)
    assert ids[-1] == "0012_hour_arrivals"
    if window != "release12":
        for stmt in REMOVED_0013 + REMOVED_0014:
            client.command(stmt.format(db=db))
        ids += ["0013_accepts_every_version", "0014_state_granules"]
    client.insert(f"{db}.schema_migrations", [[i] for i in ids], column_names=["id"])


def _accepts_columns(wh: Warehouse) -> list[str]:
    return [r[0] for r in wh.query(
        "SELECT name FROM system.columns WHERE database = {db:String} AND table = 'accepts' "
        "ORDER BY position", {"db": wh.db})]


@pytest.mark.parametrize("window", ["upgraded", "created", "release12"])
def test_a_database_of_the_removed_migrations_is_repaired_and_its_figures_are_right(
        dsn: str, window: str) -> None:
    """After migrate(): `accepts` has the shape the on-time query reads, refilled from the
    archive where 0013 had reshaped it (a row that only the old table held is gone) and left
    alone where it was 0004's (that row stays); the state tables' merge setting is back to
    the default; every figure, on-time included, equals the reference over all events,
    stored before and after the migration."""
    db = f"repair_{window}_{next(_dbs)}"
    client = connect(dsn)
    try:
        _check_repair(dsn, client, db, window)
    finally:  # chDB serves one data directory per process: free it for the next module
        client.close()


def _check_repair(dsn: str, client: Client, db: str, window: str) -> None:
    _build(client, db, window)
    half = len(EVENTS) // 2
    _ingest(_RawSink(client, db), EVENTS[:half], 0)
    # A row no event explains: kept by a migration that leaves accepts alone, gone after a
    # rebuild from the archive.
    if window == "release12":
        client.command(f"INSERT INTO {db}.accepts (parcel_id, ts, version) "
                       "VALUES ('SENTINEL', now64(3), 1)")
    else:
        client.command(f"INSERT INTO {db}.accepts (parcel_id, event_id, ts) "
                       "VALUES ('SENTINEL', 'E-SENTINEL', now64(3))")

    wh = Warehouse(dsn, db)
    try:
        _check_repaired(dsn, wh, window)
    finally:
        wh.close()


def _check_repaired(dsn: str, wh: Warehouse, window: str) -> None:
    db = wh.db
    assert "0017_repair_removed_0013_0014" in wh.applied
    assert _accepts_columns(wh) == ["parcel_id", "ts", "city", "dest_city", "company",
                                    "promised_by", "version"]
    sentinel = wh.query(f"SELECT count() FROM {db}.accepts WHERE parcel_id = 'SENTINEL'")[0][0]
    assert sentinel == (1 if window == "release12" else 0)
    for t in STATE_TABLES:
        engine = wh.query("SELECT engine_full FROM system.tables WHERE database = {db:String} "
                          "AND name = {t:String}", {"db": db, "t": t})[0][0]
        assert "merge_max_block_size" not in engine, (t, engine)

    _ingest(ClickHouseSink(wh), EVENTS[len(EVENTS) // 2:], 1000)
    rows = [r.to_json() for r in kpi_report(wh, CellFilter(by="day", scope=Scope.national()),
                                            load_route_table(), load_catalog())]
    assert assert_matches_reference(rows, EVENTS, "day") > 100
    on_time = [r for r in rows if r["kpi"].startswith("on_time_rate") and r["denominator"]]
    assert on_time, "no on-time figure: the join over accepts was not exercised"
    again = Warehouse(dsn, db)
    try:
        assert again.applied == []  # a second opening applies nothing
    finally:
        again.close()
