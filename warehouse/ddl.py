"""Table and view definitions rendered for one node (chDB, a single server) or a cluster.

The schema (warehouse.schema) is written once as `Table` and `View` definitions; `Layout`
renders each for the deployment:

- **single node** (`cluster` empty, the embedded default): `CREATE TABLE db.name ...
  ENGINE = <Kind>(args)`, views read and write the tables by name. This is the schema the
  project always had.
- **cluster** (`COURIERWATCH_CLICKHOUSE_CLUSTER=<name>`, a cluster of `remote_servers` with
  `{shard}`/`{replica}` macros): every statement carries `ON CLUSTER <name>`; a table
  becomes `db.name_local` with `Replicated<Kind>('/clickhouse/tables/{shard}/{database}/
  {table}', '{replica}', args)` on every node, plus `db.name`, a `Distributed` table in
  front sharded by the table's `shard_by` key. Queries and the worker's inserts keep using
  `db.name`, so no query changes between the layouts. A view reads the local table of its
  source (it fires on the node where a block lands) and writes the local table of its
  target, unless `reshard` is set: then it writes through the Distributed table, so rows
  whose sharding key differs from the source's (the acceptances, by parcel) move to their
  shard. A `replicated_everywhere` table (schema_migrations, the audit log) has one replica
  on every node of the cluster (a Keeper path without `{shard}`) and no Distributed table.
- a later migration's `AddColumn` alters the local and the Distributed table alike (a
  Distributed table's columns are its own copy); `DropView` drops a view everywhere;
  `DropTable` drops both tables of a name everywhere; `Backfill` (INSERT ... SELECT) is
  the one statement that is not DDL: it runs once, through the public tables;
  `ResetSetting` returns a MergeTree setting of the local table to its default.

Pure: builds strings, runs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

ZK_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
ZK_PATH_EVERYWHERE = "/clickhouse/tables/all/{database}/{table}"
REPLICA = "{replica}"
LOCAL_SUFFIX = "_local"


@dataclass(frozen=True, slots=True)
class Table:
    """A table: `engine` is a MergeTree-family name (or `Null`), `engine_args` its
    arguments (e.g. the version column), `shard_by` the Distributed sharding key."""

    name: str
    columns: str
    engine: str
    order_by: str = ""
    engine_args: str = ""
    partition_by: str = ""
    ttl: str = ""
    shard_by: str = "rand()"
    replicated_everywhere: bool = False


@dataclass(frozen=True, slots=True)
class View:
    """A materialized view: `query` names its source table as `{source}`."""

    name: str
    target: str
    source: str
    query: str
    reshard: bool = False


@dataclass(frozen=True, slots=True)
class AddColumn:
    """`ALTER TABLE ... ADD COLUMN IF NOT EXISTS <definition>` on a table defined before."""

    table: str
    definition: str
    replicated_everywhere: bool = False


@dataclass(frozen=True, slots=True)
class AddKeyColumns:
    """Columns added to a table and appended to its sorting key in one ALTER (ClickHouse
    lets a MergeTree key grow by columns added in the same statement, but not by columns
    with a default expression; existing parts keep their order, since the new columns hold
    one value there). A default is set afterwards (`ModifyColumn`): existing parts, which
    hold no data of the new columns, read it. On a cluster the Distributed table gets the
    columns alone."""

    table: str
    definitions: tuple[str, ...]
    order_by: str


@dataclass(frozen=True, slots=True)
class ModifyColumn:
    """`ALTER TABLE ... MODIFY COLUMN <definition>` (a new default, say) on a table defined
    before."""

    table: str
    definition: str
    replicated_everywhere: bool = False


@dataclass(frozen=True, slots=True)
class DropView:
    """`DROP VIEW IF EXISTS`, before a view is re-created with a new query."""

    name: str


@dataclass(frozen=True, slots=True)
class DropTable:
    """`DROP TABLE IF EXISTS ... SYNC` (the Distributed and the local table on a cluster),
    before a table is re-created with another structure. SYNC: a Replicated table's Keeper
    path is gone when the statement returns, so a table of the same name can follow."""

    name: str


@dataclass(frozen=True, slots=True)
class Backfill:
    """`INSERT INTO <target> <query>`: fill a re-created table from an existing one.

    `query` names its source as `{source}`. Both names are the public tables (on a cluster
    the Distributed ones: the SELECT reads every shard, the insert goes to each row's
    shard, synchronously), and the statement runs once, not ON CLUSTER."""

    target: str
    source: str
    query: str


@dataclass(frozen=True, slots=True)
class ResetSetting:
    """`ALTER TABLE ... RESET SETTING <name>` on the table that stores the rows (the local
    table on a cluster; a Distributed table has no MergeTree settings). A no-op where the
    setting is not set."""

    table: str
    setting: str


Obj = (Table | View | AddColumn | AddKeyColumns | ModifyColumn | DropView | DropTable | Backfill
       | ResetSetting)


@dataclass(frozen=True, slots=True)
class Layout:
    db: str
    cluster: str = ""

    @property
    def on(self) -> str:
        return f" ON CLUSTER {self.cluster}" if self.cluster else ""

    def local(self, name: str) -> str:
        """The name of the table that stores the rows on a node."""
        return f"{name}{LOCAL_SUFFIX}" if self.cluster else name

    def create_database(self) -> str:
        return f"CREATE DATABASE IF NOT EXISTS {self.db}{self.on}"

    def drop_database(self) -> str:
        return f"DROP DATABASE IF EXISTS {self.db}{self.on} SYNC"

    def table(self, t: Table) -> list[str]:
        """The CREATE statements of `t`: one on a single node; local + Distributed (or one
        replicated-everywhere table) on a cluster."""
        local = self.local(t.name) if not t.replicated_everywhere else t.name
        stmts = [f"CREATE TABLE IF NOT EXISTS {self.db}.{local}{self.on} (\n  {t.columns}\n)"
                 f" ENGINE = {self._engine(t)}{self._clauses(t)}"]
        if self.cluster and not t.replicated_everywhere:
            stmts.append(f"CREATE TABLE IF NOT EXISTS {self.db}.{t.name}{self.on} AS "
                         f"{self.db}.{local}\nENGINE = Distributed({self.cluster}, {self.db}, "
                         f"{local}, {t.shard_by})")
        return stmts

    def statements(self, o: Obj) -> list[str]:
        """The statements of any definition, in this layout."""
        if isinstance(o, Table):
            return self.table(o)
        if isinstance(o, View):
            return [self.view(o)]
        if isinstance(o, DropView):
            return [f"DROP VIEW IF EXISTS {self.db}.{o.name}{self.on}"]
        if isinstance(o, DropTable):
            names = [o.name, self.local(o.name)] if self.cluster else [o.name]
            return [f"DROP TABLE IF EXISTS {self.db}.{n}{self.on} SYNC" for n in names]
        if isinstance(o, Backfill):
            query = o.query.replace("{source}", f"{self.db}.{o.source}")
            sync = "\nSETTINGS insert_distributed_sync = 1" if self.cluster else ""
            return [f"INSERT INTO {self.db}.{o.target}\n{query}{sync}"]
        if isinstance(o, ResetSetting):
            return [f"ALTER TABLE {self.db}.{self.local(o.table)}{self.on} "
                    f"RESET SETTING {o.setting}"]
        if isinstance(o, AddKeyColumns):
            add = ", ".join(f"ADD COLUMN IF NOT EXISTS {d}" for d in o.definitions)
            out = [f"ALTER TABLE {self.db}.{self.local(o.table)}{self.on} {add}, "
                   f"MODIFY ORDER BY {o.order_by}"]
            if self.cluster:
                out.append(f"ALTER TABLE {self.db}.{o.table}{self.on} {add}")
            return out
        tables = ([o.table] if not self.cluster or o.replicated_everywhere
                  else [self.local(o.table), o.table])
        if isinstance(o, ModifyColumn):
            return [f"ALTER TABLE {self.db}.{t}{self.on} MODIFY COLUMN {o.definition}"
                    for t in tables]
        return [f"ALTER TABLE {self.db}.{t}{self.on} ADD COLUMN IF NOT EXISTS {o.definition}"
                for t in tables]

    def view(self, v: View) -> str:
        target = v.target if v.reshard else self.local(v.target)
        query = v.query.replace("{source}", f"{self.db}.{self.local(v.source)}")
        return (f"CREATE MATERIALIZED VIEW IF NOT EXISTS {self.db}.{v.name}{self.on} "
                f"TO {self.db}.{target} AS\n{query}")

    def _engine(self, t: Table) -> str:
        if not self.cluster or t.engine == "Null":
            return f"{t.engine}({t.engine_args})" if t.engine_args else t.engine
        path = ZK_PATH_EVERYWHERE if t.replicated_everywhere else ZK_PATH
        args = ", ".join(a for a in (f"'{path}'", f"'{REPLICA}'", t.engine_args) if a)
        return f"Replicated{t.engine}({args})"

    @staticmethod
    def _clauses(t: Table) -> str:
        out = ""
        if t.partition_by:
            out += f"\nPARTITION BY {t.partition_by}"
        if t.order_by:
            out += f"\nORDER BY {t.order_by}"
        if t.ttl:
            out += f"\nTTL {t.ttl}"
        return out
