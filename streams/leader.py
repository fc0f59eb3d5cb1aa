"""Which worker publishes: the one that holds partition 0 of the scan topic.

Publication and restatements must run once per period however many workers share the
consumer group (issue 15). Kafka's group protocol already assigns every partition to
exactly one member and moves it on a rebalance, so the member that holds partition 0 of the
scan topic is the publisher: no extra topic, lock or election. The consumer revokes every
partition before a rebalance (aiokafka's eager protocol), so the old holder stops before
the new one starts; the publisher also checks `leading` right before it stores (a
publication computed across a hand-over is dropped). The new holder resumes from what
ClickHouse holds (streams.publisher), so nothing a worker knew in memory is needed.

The alternative considered, every worker publishing into tables that collapse duplicates
(ReplacingMergeTree keyed by period and a deterministic version), would have N workers
compute every publication N times, and restatements, which compare against what was
shown before, would race each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from streams import metrics

CONTROL_PARTITION = 0


class TopicPartition(Protocol):
    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


@dataclass
class Leadership:
    """Whether this worker is the publisher, updated from its partition assignment."""

    topic: str
    leading: bool = False
    took_over: bool = False  # became the publisher since the publisher last resumed

    def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        """A rebalance gave this worker `partitions` (its whole assignment)."""
        now = self._has_control(partitions)
        self.took_over = self.took_over or (now and not self.leading)
        self.leading = now
        metrics.PUBLISHER.set(int(now))

    def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        """A rebalance took `partitions` away (before any other worker gets them)."""
        if self._has_control(partitions):
            self.leading = False
            metrics.PUBLISHER.set(0)

    def _has_control(self, partitions: Iterable[TopicPartition]) -> bool:
        return any(tp.topic == self.topic and tp.partition == CONTROL_PARTITION
                   for tp in partitions)

    def take_over(self) -> bool:
        """True once after each take-over: the publisher must re-read its state."""
        took, self.took_over = self.took_over, False
        return took
