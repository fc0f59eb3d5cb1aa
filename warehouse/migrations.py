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
- `hour_arrivals` (what reached the store, per event hour; the publisher's watermark and
  late-data trigger): `rand()`; it is read as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from courierwatch.periods import CST_ZONE as CST
from warehouse.ddl import Layout, Table, View
from warehouse.schema import (
    CELL_SHARD,
    accepts_objects,
    cell_count_objects,
    events_table,
    misc_objects,
    staging_objects,
    tape_objects,
)

Obj = Table | View

SCHEMA_MIGRATIONS = Table(
    "schema_migrations", "id String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)",
    "MergeTree", order_by="id", replicated_everywhere=True)


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


@dataclass(frozen=True, slots=True)
class Migration:
    id: str
    objects: tuple[Obj, ...]

    def statements(self, layout: Layout) -> list[str]:
        out: list[str] = []
        for o in self.objects:
            out += layout.table(o) if isinstance(o, Table) else [layout.view(o)]
        return out


MIGRATIONS: tuple[Migration, ...] = (
    # Ids are never reused or edited once released.
    Migration("0001_events", (events_table(),)),
    Migration("0002_cell_counts", tuple(cell_count_objects())),
    Migration("0003_tape_cells", tuple(tape_objects())),
    Migration("0004_accepts", tuple(accepts_objects())),
    Migration("0005_late_dead_published", tuple(misc_objects())),
    Migration("0006_events_in", tuple(staging_objects())),
    Migration("0007_hour_arrivals", tuple(_hour_arrivals())),
)


def schema_statements(layout: Layout) -> list[str]:
    """Every statement that builds the schema from nothing, in order (for review and tests)."""
    out = [layout.create_database(), *layout.table(SCHEMA_MIGRATIONS)]
    for m in MIGRATIONS:
        out += m.statements(layout)
    return out


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
        for stmt in m.statements(layout):
            client.command(stmt)
        client.insert(f"{db}.schema_migrations", [[m.id]], column_names=["id"])
        applied.append(m.id)
    return applied


__all__ = ["CELL_SHARD", "MIGRATIONS", "Migration", "migrate", "schema_statements"]
