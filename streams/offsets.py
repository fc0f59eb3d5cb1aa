"""Offset bookkeeping: a message's offset becomes committable only once its batch is stored.

faust commits an offset when every reference to its message is acknowledged, and only up
to the first unacknowledged offset of a partition. `take_events` acknowledges the batch as
soon as the agent's body returns, which in the pipelined ingest is before the insert: so
each message is `hold`-ed (one extra reference) when the batch is handed to the ingest
thread and `release`-d once the store has the batch (Arroyo: batch, insert, then commit).
A batch that is never stored is never released: its offsets, and every later offset of
its partitions, stay uncommitted and are re-read after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def hold(events: Iterable[Any]) -> None:
    """One extra reference per faust event's message: not committable until released."""
    for e in events:
        e.message.incref()


def release(events: Iterable[Any], consumer: Any) -> None:
    """Drop the reference taken by `hold`: the offsets become committable."""
    for e in events:
        e.message.ack(consumer)
