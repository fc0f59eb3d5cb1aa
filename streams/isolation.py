"""Which records the worker's consumer reads: only those of committed transactions.

faust builds its aiokafka consumer with `isolation_level="read_uncommitted"` unless the app
runs its own transactions (`processing_guarantee="exactly_once"`, which would also make
every produced dead letter transactional). A producer that uses transactions (Kafka Streams
or Flink exactly-once sinks, Connect exactly-once sources, librdkafka's `transactional.id`)
aborts some on every failure, and records of an aborted transaction must never reach the
figures. So `install()` wraps faust's consumer factory once per process: the consumer it
builds for an app that carries `isolation_level` (set by `streams.app.faust_app` from the
`read_committed` setting, on by default) reads at that level. Every mode runs this app
(`serve`, `process`, `demo`, the benchmark's worker); `replay` reads the archive, not Kafka.
Where it holds: a broker that implements transactions (Apache Kafka, Redpanda). The embedded
tansu 0.6 returns aborted records even to read_committed consumers (DESIGN.md, broker
notes): there the setting is configured but has no effect.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

_installed: list[bool] = []


def install() -> None:
    """Wrap faust's worker-consumer factory (idempotent)."""
    if _installed:
        return
    thread_class: Any = faust_aiokafka.AIOKafkaConsumerThread
    original = thread_class._create_worker_consumer

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        level = getattr(self.app, "isolation_level", None)
        if level is not None:
            consumer._isolation_level = level  # read by the fetcher aiokafka builds at start
        return consumer

    thread_class._create_worker_consumer = create_worker_consumer
    _installed.append(True)
