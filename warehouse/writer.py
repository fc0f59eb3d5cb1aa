"""Batch writer: inserts rows into `events` and `dead_letters`, retrying with back-off.

A sink that is down is never a reason to drop or dead-letter data: `write` retries until
the insert succeeds or `should_stop()` says the process is going down, in which case it
raises `SinkUnavailable` and the caller must exit without committing offsets.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from warehouse.client import Warehouse
from warehouse.schema import STAGING_COLUMN_NAMES

log = logging.getLogger(__name__)

DEAD_LETTER_COLUMNS = ("received_at", "stage", "reason", "detail", "raw", "raw_sha256",
                       "raw_bytes", "topic", "partition", "offset", "msg_index")


class SinkUnavailable(RuntimeError):
    """ClickHouse stayed unreachable until shutdown; the batch was not stored."""


def with_retry(action: Callable[[], None], should_stop: Callable[[], bool],
               on_retry: Callable[[], None] = lambda: None, max_backoff_s: float = 30.0,
               sleep: Callable[[float], None] = time.sleep) -> None:
    """Run `action` until it succeeds, backing off 0.2 s, 0.4 s, ... up to `max_backoff_s`."""
    backoff = 0.2
    while True:
        try:
            action()
            return
        except Exception as exc:  # noqa: BLE001 - any sink failure is retried, never dropped
            if should_stop():
                raise SinkUnavailable(str(exc)) from exc
            log.warning("ClickHouse insert failed (%s); retrying in %.1fs", exc, backoff)
            on_retry()
            sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)


def write_events(wh: Warehouse, columns: Sequence[Sequence[Any]]) -> None:
    """Insert a batch of `EventColumns` through `events_in` (parsed into `events` by its view)."""
    wh.insert("events_in", columns, STAGING_COLUMN_NAMES)


def write_dead_letters(wh: Warehouse, rows: Sequence[Sequence[Any]]) -> None:
    cols = [list(c) for c in zip(*rows, strict=True)]
    wh.insert("dead_letters", cols, DEAD_LETTER_COLUMNS)
