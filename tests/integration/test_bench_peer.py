"""The benchmark's Quix Streams peer counts the same cells as the pipeline.

The peer's step (load_tests.peer.count_message, its conditions written in Python) runs
over generated messages with re-sent events against a dict standing in for its RocksDB
state; the pipeline's real ingest step stores the same messages in chDB, and every
cell x count of `cell_counts` (the ClickHouse conditions of courierwatch.kpi.COUNTS) must
equal the peer's, so the bench compares two programs doing the same counting.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from courierwatch.kpi import COUNTS
from load_tests.generator import GeneratorConfig, generate
from load_tests.peer import count_message
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from warehouse.client import Warehouse
from warehouse.sink import ClickHouseSink

pytestmark = pytest.mark.integration


class _State:
    """The part of Quix Streams' State the peer uses, in a dict."""

    def __init__(self) -> None:
        self.d: dict[str, int] = {}

    def exists(self, key: str) -> bool:
        return key in self.d

    def get(self, key: str, default: int | None = None) -> int | None:
        return self.d.get(key, default)

    def set(self, key: str, value: int) -> None:
        self.d[key] = value


def test_the_peer_counts_every_cell_as_the_pipeline_does(tmp_path: Any) -> None:
    events = list(generate(GeneratorConfig(count=3000, seed=8)))
    rnd = random.Random(8)
    stream = events + rnd.sample(events, 400)  # re-sends: each must count once
    rnd.shuffle(stream)
    messages = [stream[i:i + 100] for i in range(0, len(stream), 100)]

    state = _State()
    for m in messages:
        count_message(orjson.loads(orjson.dumps(m)), state)
    peer = {k: v for k, v in state.d.items() if k.count("|") == 3}

    wh = Warehouse(f"chdb://{tmp_path / 'ch'}", "peer")
    Ingestor(load_settings({"COURIERWATCH_ALLOWED_LATENESS_S": str(3650 * 86400)}),
             ClickHouseSink(wh), 0, clock=lambda: datetime(2026, 11, 20, tzinfo=UTC)).handle(
        [Arrival("scan.v1", 0, i, b"\n".join(orjson.dumps(e) for e in m))
         for i, m in enumerate(messages)])
    merged = ", ".join(f"uniqExactMerge(`{c.name}`)" for c in COUNTS)
    try:
        rows = wh.query(f"SELECT city, company, formatDateTime(hour, '%Y-%m-%dT%H'), "
                        f"{merged} FROM {wh.db}.cell_counts GROUP BY city, company, hour")
    finally:  # chDB serves one data directory per process: free it for the next test
        wh.close()
    pipeline = {f"{city}|{company}|{hour}|{c.name}": n
                for city, company, hour, *counts in rows
                for c, n in zip(COUNTS, counts, strict=True) if n}
    assert len(pipeline) > 100
    assert peer == pipeline
