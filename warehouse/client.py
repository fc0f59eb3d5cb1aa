"""ClickHouse client construction, shared by the worker, the CLI and the tests.

One clickhouse-connect client is not safe for concurrent queries, and chDB allows one
process per data directory: `Warehouse` owns the single client of its process and
serialises every call through a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import clickhouse_connect
from clickhouse_connect.datatypes.base import ClickHouseType
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError

from warehouse.ddl import Layout
from warehouse.migrations import migrate


def connect(dsn: str) -> Client:
    """`chdb:///path` (in-process engine, directory created) or `http(s)://...` (server)."""
    if not dsn.startswith("chdb://"):
        return clickhouse_connect.get_client(dsn=dsn)
    path = Path(dsn.removeprefix("chdb://"))
    path.mkdir(parents=True, exist_ok=True)
    try:
        return clickhouse_connect.get_client(dsn=dsn)
    except ProgrammingError as exc:
        raise StoreBusy(f"cannot open the embedded ClickHouse at {path}: another process "
                        "probably owns it (a running demo, serve or process?). Stop it, or "
                        f"use another COURIERWATCH_DATA_DIR. ({exc})") from exc


class StoreBusy(RuntimeError):
    """The chDB data directory is held by another process."""


class Warehouse:
    """The process's ClickHouse client, its database, and a lock around every call."""

    def __init__(self, dsn: str, database: str, reset: bool = False, cluster: str = "") -> None:
        """Connect and migrate; `reset` drops the database first (the demo's fresh start).
        `cluster` (COURIERWATCH_CLICKHOUSE_CLUSTER) selects the replicated, sharded schema
        (warehouse.migrations); empty for chDB or a single server."""
        self.dsn = dsn
        self.db = database
        self.cluster = cluster
        self.client = connect(dsn)
        self._lock = threading.Lock()
        self._types: dict[tuple[str, tuple[str, ...]], Sequence[ClickHouseType]] = {}
        with self._lock:
            if reset:
                self.client.command(Layout(database, cluster).drop_database())
            self.applied = migrate(self.client, database, cluster)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            return [tuple(r) for r in self.client.query(sql, parameters=parameters).result_rows]

    def command(self, sql: str, parameters: dict[str, Any] | None = None) -> Any:
        with self._lock:
            return self.client.command(sql, parameters=parameters)

    def for_database(self, database: str) -> Warehouse:
        """The same client and lock on another database, migrated (replays, tests)."""
        other = object.__new__(Warehouse)
        other.dsn, other.db, other.client, other._lock = self.dsn, database, self.client, self._lock
        other.cluster = self.cluster
        other._types = {}
        with self._lock:
            other.applied = migrate(self.client, database, self.cluster)
        return other

    def raw_stream(self, sql: str, parameters: dict[str, Any] | None = None,
                   fmt: str = "CSVWithNames") -> Iterator[bytes]:
        """The result in a ClickHouse output format, chunk by chunk (holds the lock until
        exhausted or closed): large exports without holding every row in Python."""
        with self._lock:
            yield from self.client.raw_stream(sql, parameters=parameters, fmt=fmt)

    def insert(self, table: str, columns: Sequence[Sequence[Any]],
               column_names: Sequence[str]) -> None:
        """Insert column-oriented rows. clickhouse-connect is given the column types: it
        asks the server (`DESCRIBE TABLE`) on the first insert into a table with these
        columns only, not before every insert (a round trip, and a query under the lock)."""
        key = (table, tuple(column_names))
        with self._lock:
            types = self._types.get(key)
            if types is None:
                context = self.client.create_insert_context(
                    f"{self.db}.{table}", column_names, column_oriented=True)
                types = self._types[key] = context.column_types
            self.client.insert(f"{self.db}.{table}", columns, column_names=column_names,
                               column_types=types, column_oriented=True)

    def close(self) -> None:
        with self._lock:
            self.client.close()
