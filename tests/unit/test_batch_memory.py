"""What bounds the worker's memory by construction (issue 9, "Memory under pressure";
docs/reliability.md): byte-sized ingest batches and small granules for the tables of
distinct-id states."""

from __future__ import annotations

import random
import re
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from streams.app import by_bytes
from warehouse.ddl import Layout
from warehouse.migrations import MIGRATIONS, schema_statements


def _event(size: int, i: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(value=b"x" * size, offset=i))


@given(st.lists(st.integers(0, 5_000), max_size=60), st.integers(1, 8_000))
def test_byte_batches_keep_order_and_stay_within_one_message_of_the_budget(
        sizes: list[int], budget: int) -> None:
    """Every message is in exactly one run, in order; a run closes at the first message
    that brings it to the budget: without its last message every run is under the budget,
    and every run but the last reaches it."""
    events = [_event(s, i) for i, s in enumerate(sizes)]
    runs = list(by_bytes(events, budget))
    assert [e.message.offset for r in runs for e in r] == list(range(len(sizes)))
    assert all(r for r in runs)
    for k, r in enumerate(runs):
        total = sum(len(e.message.value) for e in r)
        assert total - len(r[-1].message.value) < budget
        if k < len(runs) - 1:
            assert total >= budget


def test_a_backlog_batch_of_messages_at_the_size_limit_is_split() -> None:
    """200 messages of 8 MiB (a gathered batch of a backlog at the size limit, 1.6 GiB)
    are handed over 4 messages (32 MiB) at a time, the default `batch_bytes`."""
    mib = 1024 * 1024
    value = b"x" * (8 * mib)  # one object shared by every message: no 1.6 GiB allocated
    events = [SimpleNamespace(message=SimpleNamespace(value=value)) for _ in range(200)]
    runs = list(by_bytes(events, 32 * mib))
    assert [len(r) for r in runs] == [4] * 50


def test_small_messages_are_not_split_below_the_budget() -> None:
    """The benchmark's batches (200 messages of 500 events, about 25 MB) stay whole."""
    rng = random.Random(7)
    events = [_event(rng.randint(120_000, 130_000), i) for i in range(200)]
    assert len(list(by_bytes(events, 32 * 1024 * 1024))) == 1


def test_every_table_of_unique_states_has_small_granules_on_one_node_and_a_cluster() -> None:
    """Each table holding `uniqExact` states, found in its CREATE statement, is created
    with 64-row granules and merge blocks, and migration 0014 gives an existing one the
    small merge blocks; no other table is touched."""
    for layout in (Layout("db"), Layout("db", "c")):
        creates = [s for s in schema_statements(layout)
                   if s.startswith("CREATE TABLE") and "ENGINE = Distributed" not in s]
        stateful = {re.match(r"CREATE TABLE IF NOT EXISTS db\.(\w+)", s).group(1)  # type: ignore[union-attr]
                    for s in creates if "AggregateFunction(uniqExact" in s}
        assert len(stateful) == 4
        small = {re.match(r"CREATE TABLE IF NOT EXISTS db\.(\w+)", s).group(1)  # type: ignore[union-attr]
                 for s in creates if "index_granularity = 64, merge_max_block_size = 64" in s}
        assert small == stateful
        m = next(m for m in MIGRATIONS if m.id == "0014_state_granules")
        altered = {re.match(r"ALTER TABLE db\.(\w+)", s).group(1)  # type: ignore[union-attr]
                   for s in m.statements(layout)}
        assert altered == stateful
        assert all("MODIFY SETTING merge_max_block_size = 64" in s for s in m.statements(layout))
