"""clickhouse-connect is given the column types: one `DESCRIBE TABLE` per table and column
list for the life of a Warehouse, not one before every insert (issue 25)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from warehouse.client import Warehouse
from warehouse.sink import ClickHouseSink

pytestmark = pytest.mark.integration


def test_inserts_ask_the_server_for_column_types_once(tmp_path: Any) -> None:
    """Five batches, each with a valid event and a dead letter, go to `events_in` and
    `dead_letters`: the client's operations hold one DESCRIBE per table (counted at the
    client's single entry point for server round trips), and every event is archived."""
    wh = Warehouse(f"chdb://{tmp_path / 'ch'}", "types")
    described: list[str] = []
    execute = wh.client._execute_operation

    def counting(op: Any) -> object:
        text = getattr(op, "text", "")
        if isinstance(text, str) and text.startswith("DESCRIBE"):
            described.append(text)
        return execute(op)

    wh.client._execute_operation = counting  # type: ignore[method-assign]
    try:
        events = list(generate(GeneratorConfig(count=50, seed=4)))
        ingest = Ingestor(load_settings({}), ClickHouseSink(wh), 0,
                          clock=lambda: datetime(2026, 11, 20, tzinfo=UTC))
        for i in range(5):
            ingest.handle([Arrival("scan.v1", 0, 2 * i, b"\n".join(
                               orjson.dumps(e) for e in events[10 * i:10 * i + 10])),
                           Arrival("scan.v1", 0, 2 * i + 1, b"not json")])
        assert sorted(described) == [f"DESCRIBE TABLE {wh.db}.dead_letters",
                                     f"DESCRIBE TABLE {wh.db}.events_in"]
        assert wh.query(f"SELECT uniqExact(event_id) FROM {wh.db}.events")[0][0] == len(
            {e["event_id"] for e in events})
        assert wh.query(f"SELECT count() FROM {wh.db}.dead_letters")[0][0] == 5
    finally:  # chDB serves one data directory per process: free it for the next test
        wh.client._execute_operation = execute  # type: ignore[method-assign]
        wh.close()
