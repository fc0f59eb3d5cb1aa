"""A standard Kafka client (librdkafka, through confluent-kafka) producing with every codec.

confluent-kafka shares no code with the pipeline's clients (kafka-python, aiokafka): it is
the C library most couriers' systems use. It produces to the embedded tansu broker with
gzip, snappy, lz4 and zstd, with keys and headers, and the real worker ingests it; the
figures must equal the independent reference computation.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import Cli
from tests.integration.compare import assert_matches_reference

pytestmark = pytest.mark.integration

CODECS = ("gzip", "snappy", "lz4", "zstd")


def test_librdkafka_producer_with_every_codec_gives_reference_figures(tmp_path: Path) -> None:
    """Events produced by librdkafka, a quarter with each Kafka codec, as JSON lines and
    JSON arrays with message keys and headers, are all stored (nothing dead-lettered) and
    every figure equals the reference, cell by cell."""
    from confluent_kafka import Producer

    from runtime.broker import embedded_broker, ensure_topics
    from runtime.settings import load_settings
    from services.pipeline import end_offsets, start_worker, wait_until_consumed

    events = list(generate(GeneratorConfig(count=12_000, seed=31, duplicate_rate=0.05)))
    data_dir = tmp_path / "cw"
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(data_dir)})
    quarter = -(-len(events) // len(CODECS))
    with embedded_broker(data_dir) as bootstrap:
        ensure_topics(bootstrap, settings)
        for i, codec in enumerate(CODECS):
            # One message per record batch: tansu 0.6's ListOffsets under-reports the end of
            # a partition holding multi-record batches (DESIGN.md), and the test waits for
            # the committed offsets to reach the reported ends. Each batch is compressed.
            producer = Producer({"bootstrap.servers": bootstrap, "compression.type": codec,
                                 "linger.ms": 0, "batch.num.messages": 1, "acks": "all",
                                 "enable.idempotence": False, "message.max.bytes": 8_000_000})
            part = events[i * quarter:(i + 1) * quarter]
            for j in range(0, len(part), 250):
                chunk = part[j:j + 250]
                value = (orjson.dumps(chunk) if j % 500 == 0
                         else b"\n".join(orjson.dumps(e) for e in chunk))
                producer.produce(settings.scan_topic, value=value,
                                 key=str(chunk[0]["parcel_id"]).encode(),
                                 headers=[("producer", b"librdkafka"), ("codec", codec.encode())],
                                 partition=(j // 250) % settings.partitions)
            assert producer.flush(30) == 0, f"{codec}: messages not delivered"
        targets = end_offsets(bootstrap, settings.scan_topic, settings.partitions)
        assert sum(targets.values()) == sum(-(-min(quarter, len(events) - i * quarter) // 250)
                                            for i in range(len(CODECS)))
        worker = start_worker(settings, bootstrap)
        try:
            wait_until_consumed(bootstrap, settings, targets, worker, timeout_s=300)
        finally:
            worker.stop()
    cli = Cli(data_dir)
    from warehouse.client import Warehouse

    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        dead = wh.query(f"SELECT count() FROM {wh.db}.dead_letters")[0][0]
        distinct = wh.query(f"SELECT uniqExact(event_id) FROM {wh.db}.events")[0][0]
    finally:
        wh.close()
    assert dead == 0
    assert distinct == len({e["event_id"] for e in events})
    assert assert_matches_reference(cli.kpi_rows("--by", "hour"), events, "hour") > 1000
