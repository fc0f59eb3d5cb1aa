"""The worker waits for its store (issue 9, item 5: "the server DSN goes through the same
retry path, and its connection errors are classified as transient"), with the real
clickhouse-connect client against a real closed port, and the real chDB engine refusing a
bad database name; the back-off's sleeps are recorded instead of slept."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.ports import free_port
from runtime.settings import load_settings
from services.worker import open_store
from streams.retry import BatchRefused, RetryPolicy, SinkUnavailable

pytestmark = pytest.mark.integration


def test_a_clickhouse_server_not_listening_is_waited_for_with_back_off() -> None:
    """Nothing listens on the server DSN's port: every attempt is a transient failure,
    retried with doubling waits (no jitter here) until the worker is told to stop; the
    error it ends with names the store, password masked."""
    settings = load_settings({
        "COURIERWATCH_CLICKHOUSE": f"http://ops:s3cret@127.0.0.1:{free_port()}"})
    slept: list[float] = []
    policy = RetryPolicy(initial_s=0.5, max_s=4.0, sleep=slept.append, random=lambda: 0.0)
    with pytest.raises(SinkUnavailable) as err:
        open_store(settings, policy, should_stop=lambda: len(slept) >= 5)
    assert slept == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert "127.0.0.1" in str(err.value) and "s3cret" not in str(err.value)


def test_a_deterministic_store_failure_stops_at_once(tmp_path: Path) -> None:
    """A database name the engine cannot parse is refused without a single retry."""
    settings = load_settings({"COURIERWATCH_CLICKHOUSE": f"chdb://{tmp_path / 'ch'}",
                              "COURIERWATCH_DATABASE": "bad`name"})
    slept: list[float] = []
    with pytest.raises(BatchRefused, match="opening the store"):
        open_store(settings, RetryPolicy(sleep=slept.append), should_stop=lambda: True)
    assert slept == []
