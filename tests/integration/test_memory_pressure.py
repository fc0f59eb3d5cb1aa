"""Memory under pressure, the light check (issue 9, item 6; the figures are measured by
`python -m load_tests.memory_pressure` and kept in docs/reliability.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from courierwatch.contract import DEFAULT_LIMITS
from load_tests.memory_pressure import _messages, size_limit
from runtime.settings import load_settings
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration


def test_messages_at_the_size_limit_stay_under_the_memory_bound(tmp_path: Path) -> None:
    """Three messages just under the 8 MiB message limit (about 100k events) through the
    real worker: its peak resident memory (VmHWM of its process tree) stays under the
    documented 2 GiB bound, and every event of them is stored (none dead-lettered)."""
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path / "cw")})
    result = size_limit(settings, messages=3)
    assert result["messages"] == 3 and result["within_bound"], result
    limit = DEFAULT_LIMITS.max_message_bytes - 1024
    sent = [m for _, m in zip(range(3), _messages(3 * 40_000, 41, limit), strict=False)]
    assert all(limit - 2_000 < len(m) <= limit for m in sent)
    ids = {line.split(b'"event_id":"', 1)[1].split(b'"', 1)[0]
           for m in sent for line in m.split(b"\n")}
    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        stored = wh.query(f"SELECT uniqExact(event_id) FROM {wh.db}.events")[0][0]
        dead = wh.query(f"SELECT count() FROM {wh.db}.dead_letters")[0][0]
    finally:
        wh.close()
    assert stored == len(ids) and dead == 0
