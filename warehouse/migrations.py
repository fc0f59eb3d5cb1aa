"""The tables and views of warehouse.schema as ordered migrations, for one node or a cluster.

Every object is defined once (`Table`/`View`, warehouse.ddl) and rendered by the `Layout`:
the embedded chDB and a single server get plain MergeTree tables; a cluster
(`COURIERWATCH_CLICKHOUSE_CLUSTER`) gets `Replicated*MergeTree` local tables with
`{shard}`/`{replica}` macros and `Distributed` tables of the same names in front, all
`ON CLUSTER`. Sharding keys (docs/capacity.md, "Sharding"):

- per-cell data (events, cell_counts, tape_cells, late_events, kpi_published,
  restatements): `cityHash64(city, company)`. A cell is city x company x period, so a
  cell's uniqExact states are on one shard and a shard can finish its cells' counts
  itself; every copy of an event (a re-send, a re-inserted batch) has the same city and
  company, so the archive's ReplacingMergeTree collapses copies on the shard that holds
  them all, as on one node.
- the ingest door `events_in`: the same key read from the event's JSON text, so a batch is
  split by cell on its way in and each shard's views see only their cells.
- `accepts`: `cityHash64(parcel_id)`. A parcel's ACCEPTED is in its origin city and its
  DELIVERED in another, so the join cannot be shard-local under the cell key; the
  acceptances view writes through the Distributed table (re-sharding by parcel), and the
  on-time query joins the deliveries with `GLOBAL IN`: one shard holds all acceptances of
  a parcel, so "the earliest ACCEPTED wins" is decided there.
- `dead_letters`: by topic, partition and offset (its ReplacingMergeTree key).
- `event_versions` (content hashes per event id): `cityHash64(event_id)`, its view writing
  through the Distributed table, so that every version of an id meets on one shard even
  when a conflicting re-send names another city.
- `hour_arrivals` (what reached the store, per event hour; the publisher's watermark and
  late-data trigger): `rand()`; it is read as a whole.
- `audit_log` and `schema_migrations`: one table replicated on every node (small; any node
  answers).
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from courierwatch.kpi import COUNTS
from courierwatch.periods import CST_ZONE as CST
from warehouse.alert_schema import flags_sql
from warehouse.audit_schema import AUDIT_COLUMNS
from warehouse.ddl import (
    AddColumn,
    AddKeyColumns,
    Backfill,
    DropTable,
    DropView,
    Layout,
    ModifyColumn,
    Obj,
    ResetSetting,
    Table,
    View,
)
from warehouse.schema import (
    BEFORE_SOURCE_IDS,
    CELL_SHARD,
    accepts_objects,
    cell_count_objects,
    cell_counts_view,
    events_order_by,
    events_table,
    misc_objects,
    staging_objects,
    staging_view,
    tape_objects,
)
from warehouse.scoping import system_read

SCHEMA_MIGRATIONS = Table(
    "schema_migrations", "id String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)",
    "MergeTree", order_by="id", replicated_everywhere=True)


def _channel() -> list[Obj]:
    """COMPLAINT `channel` (appeal vs company complaint) on a database made before it.

    Adds the column (at the end, as in EVENT_COLUMNS) and the company-complaint counts, and
    re-creates the two views that read them. Old complaints had no channel, i.e. were
    appeals, so the counts already stored stay right. On a fresh database every statement
    is a no-op or re-creates a view identically.
    """
    new_counts = [c.name for c in COUNTS if c.name.startswith("company_complaint")]
    return [
        AddColumn("events", "channel LowCardinality(String)"),
        *(AddColumn("cell_counts", f"`{n}` AggregateFunction(uniqExact, UInt64)")
          for n in new_counts),
        DropView("events_in_mv"), staging_view(),
        DropView("cell_counts_mv"), cell_counts_view(),
    ]


def _conflicts() -> list[Obj]:
    """Content hashes, so that an event id re-sent with other contents is seen (issue 9).

    `events.content_hash` is sipHash64 of the text ClickHouse parsed, which is the canonical
    encoding of the validated record (courierwatch.contract.Decoded): equal contents, equal
    hash, whatever the producer's formatting. Rows stored before this migration hold 0
    (unknown) and take no part in conflict detection. `event_versions` keeps, per event id,
    the smallest and largest hash seen: an id is in conflict when they differ. Which version
    counts is decided at query time (warehouse.conflicts), so arrival order cannot matter.
    """
    return [
        AddColumn("events", "content_hash UInt64 DEFAULT 0"),
        DropView("events_in_mv"), staging_view(content_hash=True),
        Table("event_versions", """event_id String, lo SimpleAggregateFunction(min, UInt64),
  hi SimpleAggregateFunction(max, UInt64)""", "AggregatingMergeTree", order_by="event_id",
              shard_by="cityHash64(event_id)"),
        View("event_versions_mv", "event_versions", "events",
             """SELECT event_id, min(content_hash) AS lo, max(content_hash) AS hi
FROM {source} WHERE late = 0 AND content_hash != 0 GROUP BY event_id""", reshard=True),
    ]


def _audit_log() -> Table:
    """The hash-chained audit log (warehouse.audit_schema): plain MergeTree, not Replacing,
    so that a forged duplicate seq shows in `audit verify` instead of collapsing."""
    cols = ", ".join(f"`{n}` {t}" for n, t in AUDIT_COLUMNS)
    return Table("audit_log", cols, "MergeTree", order_by="seq", replicated_everywhere=True)


def _alerts() -> list[Obj]:
    """Alerting's tables (warehouse.alert_schema): 5-minute cells of the events that miss a
    target, the alert history, the evaluator's progress. On a cluster the cells are sharded
    like the figures' and an alert's rows by its fingerprint; the progress is one row,
    replicated on every node."""
    return [
        Table("alert_cells", """city LowCardinality(String), company LowCardinality(String),
  bucket DateTime('UTC'), flags UInt32, events AggregateFunction(uniqExact, UInt64)""",
              "AggregatingMergeTree", partition_by="toYYYYMM(bucket)",
              order_by="(bucket, city, company, flags)", shard_by=CELL_SHARD),
        View("alert_cells_mv", "alert_cells", "events",
             f"""SELECT city, company, toStartOfFiveMinutes(ts) AS bucket, {flags_sql()} AS flags,
  uniqExactState(sipHash64(event_id)) AS events
FROM {{source}} WHERE late = 0 AND flags != 0 GROUP BY city, company, bucket, flags"""),
        Table("alerts", """fingerprint String, started_at DateTime64(3, 'UTC'),
  evaluated_at DateTime64(3, 'UTC'), state LowCardinality(String),
  severity LowCardinality(String), city LowCardinality(String),
  company LowCardinality(String), kpi LowCardinality(String), policy_id String,
  resolved_at Nullable(DateTime64(3, 'UTC')), payload String""",
              "ReplacingMergeTree", engine_args="evaluated_at",
              order_by="(fingerprint, started_at)", shard_by="cityHash64(fingerprint)"),
        Table("alert_progress", "name String, evaluated_until DateTime64(3, 'UTC')",
              "ReplacingMergeTree", engine_args="evaluated_until", order_by="name",
              replicated_everywhere=True),
    ]


def _hour_arrivals() -> list[Obj]:
    """What reached the store per event hour and second of arrival (server clock): the
    publisher reads its watermark (max event time) and the published hours that received
    events since its last look from here, whichever worker stored them (streams.publisher).
    A few rows per insert; kept 35 days (the allowed lateness is 7 by default)."""
    return [
        Table("hour_arrivals", f"""arrived DateTime64(3, 'UTC'), hour DateTime('{CST}'),
  events SimpleAggregateFunction(sum, UInt64),
  max_ts SimpleAggregateFunction(max, DateTime64(3, 'UTC'))""", "AggregatingMergeTree",
              order_by="(arrived, hour)",
              ttl="toDateTime(arrived) + INTERVAL 35 DAY"),
        View("hour_arrivals_mv", "hour_arrivals", "events",
             f"""SELECT now64(3, 'UTC') AS arrived, toStartOfHour(ts, '{CST}') AS hour,
  count() AS events, max(ts) AS max_ts
FROM {{source}} WHERE late = 0 GROUP BY hour"""),
    ]


def _source_ids() -> list[Obj]:
    """A source identity for every archived event and dead letter (issue 23): `source`
    and `source_line` (warehouse.schema.SOURCE_COLUMNS), so that a position never stands
    for two events across runs and brokers. Rows stored before read `before source ids`
    and line 0 (the column default: nothing is rewritten), and the sorting keys of both
    tables end with them (a metadata change). The ingest door gains the two
    columns and its view passes them through."""
    cols = ("source LowCardinality(String)", "source_line UInt64")
    marked = f"source LowCardinality(String) DEFAULT '{BEFORE_SOURCE_IDS}'"
    return [
        # Both keys end with the source: two runs' arrivals at the same offsets (every
        # embedded broker starts at 0) are two rows, while a batch re-inserted after a
        # crash (same source, same position) still collapses.
        AddKeyColumns("events", cols, events_order_by(", source, source_line")),
        ModifyColumn("events", marked),
        AddKeyColumns("dead_letters", cols,
                      "(topic, partition, offset, msg_index, source, source_line)"),
        ModifyColumn("dead_letters", marked),
        AddColumn("events_in", f"source LowCardinality(String) DEFAULT '{BEFORE_SOURCE_IDS}'"),
        AddColumn("events_in", "source_line UInt64 DEFAULT 0"),
        DropView("events_in_mv"), staging_view(content_hash=True, source=True),
    ]


@dataclass(frozen=True, slots=True)
class ShapeRepair:
    """`objects`, applied only when the live `table` (its local table on a cluster) does not
    have exactly `columns`, in order: a repair of a table that a removed migration reshaped.
    `schema_statements` lists its statements (review, the cluster parse test); `migrate`
    runs them only where the shape differs."""

    table: str
    columns: tuple[str, ...]
    objects: tuple[Obj, ...]


Step = Obj | ShapeRepair

# `accepts` as migration 0004 made it and as the 12-migration release reads it.
_ACCEPTS_0004: tuple[Obj, ...] = tuple(accepts_objects())
_ACCEPTS_0004_COLUMNS = ("parcel_id", "ts", "city", "dest_city", "company", "promised_by",
                         "version")
# The uniqExact-state tables whose merge setting the removed 0014 changed.
_STATE_TABLES = ("cell_counts", "tape_cells", "late_events", "alert_cells")


def _repair_removed() -> list[Step]:
    """Fix forward a database that ran the removed migrations 0013/0014 (issue 25).

    Those two were released on 30 November and backed out the same day (525cc2d); their
    ids stay recorded in such databases and mean nothing to this code. What they left:

    - 0013 re-created `accepts` keyed (parcel_id, event_id, content_hash) without the
      `version` column that the on-time query reads: such a database cannot compute an
      on-time figure. Where `accepts` is not 0004's shape, the view and the table are
      dropped, re-created as 0004 made them and refilled from the archive (`events` holds
      every acceptance: the table is derived). A database whose `accepts` already has
      0004's shape is not touched, so its rows, and any tie its ReplacingMergeTree already
      settled, stay as they are.
    - 0014 set `merge_max_block_size = 64` on the four uniqExact-state tables (and tables
      created in that window carry `index_granularity = 64`). Figures do not depend on
      either; the merge setting goes back to the default (a no-op where it was never
      set). The granularity is fixed when a table is created and stays: changing it would
      mean copying every state, for reads of a few thousand rows.

    Runs right after 0012, before any later migration, so that those can assume the
    schema of the 12-migration release.
    """
    view = next(o for o in _ACCEPTS_0004 if isinstance(o, View))
    return [
        ShapeRepair("accepts", _ACCEPTS_0004_COLUMNS, (
            DropView("accepts_mv"), DropTable("accepts"), *_ACCEPTS_0004,
            Backfill("accepts", "events", view.query))),
        *(ResetSetting(t, "merge_max_block_size") for t in _STATE_TABLES),
    ]


@dataclass(frozen=True, slots=True)
class Migration:
    id: str
    objects: tuple[Step, ...]

    def statements(self, layout: Layout) -> list[str]:
        """Every statement, those of a `ShapeRepair` included (whether they run is decided
        by `migrate` against the live table)."""
        return [stmt for o in _flat(self.objects) for stmt in layout.statements(o)]


def _flat(steps: tuple[Step, ...]) -> list[Obj]:
    return [o for s in steps for o in (s.objects if isinstance(s, ShapeRepair) else (s,))]


MIGRATIONS: tuple[Migration, ...] = (
    # Ids are never reused or edited once released.
    Migration("0001_events", (events_table(),)),
    Migration("0002_cell_counts", tuple(cell_count_objects())),
    Migration("0003_tape_cells", tuple(tape_objects())),
    Migration("0004_accepts", _ACCEPTS_0004),
    Migration("0005_late_dead_published", tuple(misc_objects())),
    Migration("0006_events_in", tuple(staging_objects())),
    Migration("0007_complaint_channel", tuple(_channel())),
    Migration("0008_dead_letter_digest", (AddColumn("dead_letters", "raw_sha256 String"),
                                          AddColumn("dead_letters", "raw_bytes UInt64"))),
    Migration("0009_content_conflicts", tuple(_conflicts())),
    Migration("0010_audit_log", (_audit_log(),)),
    Migration("0011_alerts", tuple(_alerts())),
    Migration("0012_hour_arrivals", tuple(_hour_arrivals())),
    # 0013 and 0014 were released and removed (see _repair_removed); never reuse them.
    # 0017 stays directly after 0012: later migrations may assume 0012's schema.
    Migration("0017_repair_removed_0013_0014", tuple(_repair_removed())),
    # 0015 was kept for the on-time and cohort rules, which needed none (their figures are
    # computed when read, from `accepts` and `events`): it is not used.
    Migration("0016_source_ids", tuple(_source_ids())),
)


def schema_statements(layout: Layout) -> list[str]:
    """Every statement that builds the schema from nothing, in order (for review and tests)."""
    out = [layout.create_database(), *layout.table(SCHEMA_MIGRATIONS)]
    for m in MIGRATIONS:
        out += m.statements(layout)
    return out


@system_read("schema migrations: which migrations ran, no figures")
def migrate(client: Client, db: str, cluster: str = "") -> list[str]:
    """Create the database and apply pending migrations; return the ids applied now.

    On a cluster every statement runs ON CLUSTER (Keeper's distributed DDL queue waits for
    every node); `schema_migrations` is one table replicated on every node, so any node
    answers which migrations ran."""
    layout = Layout(db, cluster)
    client.command(layout.create_database())
    for stmt in layout.table(SCHEMA_MIGRATIONS):
        client.command(stmt)
    done = {r[0] for r in client.query(f"SELECT id FROM {db}.schema_migrations").result_rows}
    applied = []
    for m in MIGRATIONS:
        if m.id in done:
            continue
        for step in m.objects:
            if isinstance(step, ShapeRepair) and _columns(client, db, layout.local(
                    step.table)) == step.columns:
                continue
            for o in _flat((step,)):
                for stmt in layout.statements(o):
                    client.command(stmt)
        client.insert(f"{db}.schema_migrations", [[m.id]], column_names=["id"])
        applied.append(m.id)
    return applied


@system_read("schema migrations: a table's column names, no figures")
def _columns(client: Client, db: str, table: str) -> tuple[str, ...]:
    rows = client.query("SELECT name FROM system.columns WHERE database = {db:String} AND "
                        "table = {t:String} ORDER BY position",
                        parameters={"db": db, "t": table}).result_rows
    return tuple(r[0] for r in rows)


__all__ = ["CELL_SHARD", "MIGRATIONS", "Migration", "ShapeRepair", "migrate", "schema_statements"]
