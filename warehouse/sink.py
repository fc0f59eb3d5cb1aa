"""The sink contract: where a batch is stored, behind two calls (`write`, `flush`).

In the manner of Quix Streams' `BatchingSink` and Arroyo's strategies: the ingest steps
above (streams.ingest) hand a sink whole batches, column by column, and never know
whether ClickHouse or a list in memory takes them. Two sinks keep the contract:

- `ClickHouseSink`: each `write` is one insert into the named table through the process's
  `Warehouse` (its lock serialises it with queries); ClickHouse has the rows when `write`
  returns, so `flush` has nothing to wait for.
- `MemorySink`: keeps the rows in lists, for unit tests of every step above it.

Both consult an optional fault hook before every write: a callable given the table name
that may raise to simulate a failing store (`warehouse.errors.TransientStoreError` for a
store that is down, anything else for a deterministic error). Tests use it directly;
a worker installs one from `COURIERWATCH_FAULT_FILE` (streams.faults). A sink never
retries: that is `streams.retry`'s job, with its classification in `warehouse.errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from warehouse.client import Warehouse

FaultHook = Callable[[str], None]
"""Called with the table name before every write; raising makes that write fail."""

EVENTS_TABLE = "events_in"
DEAD_LETTERS_TABLE = "dead_letters"
DEAD_LETTER_COLUMNS = ("received_at", "stage", "reason", "detail", "raw", "raw_sha256",
                       "raw_bytes", "topic", "partition", "offset", "msg_index", "source",
                       "source_line")


class Sink(Protocol):
    """Stores batches; raises on failure (the caller decides whether to retry)."""

    def write(self, table: str, columns: Sequence[Sequence[Any]],
              names: Sequence[str]) -> None:
        """Store one batch of rows for `table`, given column by column in `names` order.
        Blocking; either the whole batch is stored or the call raises."""
        ...

    def flush(self) -> None:
        """Return once everything written so far is durable in the store."""
        ...


class ClickHouseSink:
    """The production sink: one ClickHouse insert per write."""

    def __init__(self, wh: Warehouse, fault: FaultHook | None = None) -> None:
        self.wh = wh
        self.fault = fault

    def write(self, table: str, columns: Sequence[Sequence[Any]],
              names: Sequence[str]) -> None:
        if self.fault is not None:
            self.fault(table)
        self.wh.insert(table, columns, names)

    def flush(self) -> None:
        """Synchronous inserts: stored when `write` returned."""


class MemorySink:
    """A sink in memory: `tables[name]` holds the rows written, as tuples, in order."""

    def __init__(self, fault: FaultHook | None = None) -> None:
        self.fault = fault
        self.tables: dict[str, list[tuple[Any, ...]]] = {}
        self.writes = 0
        self.flushes = 0

    def write(self, table: str, columns: Sequence[Sequence[Any]],
              names: Sequence[str]) -> None:
        if self.fault is not None:
            self.fault(table)
        rows = list(zip(*columns, strict=True)) if columns else []
        self.tables.setdefault(table, []).extend(rows)
        self.writes += 1

    def flush(self) -> None:
        self.flushes += 1

    def rows(self, table: str) -> list[tuple[Any, ...]]:
        return self.tables.get(table, [])
