"""`process` stops only when every message it sent is committed, whatever the broker reports."""

from __future__ import annotations

import pytest

from services.process import completion_targets


@pytest.mark.parametrize(("before", "reported", "messages", "partitions", "expected"), [
    pytest.param({0: 0, 1: 0}, {0: 5, 1: 5}, 10, 2, {0: 5, 1: 5}, id="broker-agrees"),
    pytest.param({0: 0, 1: 0}, {0: 1, 1: 1}, 10, 2, {0: 5, 1: 5},
                 id="tansu-under-reports-multi-record-batches"),
    pytest.param({0: 3, 1: 3, 2: 3}, {0: 3, 1: 3, 2: 3}, 7, 3, {0: 6, 1: 5, 2: 5},
                 id="round-robin-remainder-goes-to-the-first-partitions"),
    pytest.param({0: 0, 1: 0}, {0: 9, 1: 4}, 4, 2, {0: 9, 1: 4},
                 id="others-produced-too: the larger reported end wins"),
])
def test_targets_cover_every_sent_message(before: dict[int, int], reported: dict[int, int],
                                          messages: int, partitions: int,
                                          expected: dict[int, int]) -> None:
    """Each partition's target is at least its offset before publishing plus the messages
    sent to it round-robin (counted here by hand), and never below the broker's report."""
    assert completion_targets(before, reported, messages, partitions) == expected
