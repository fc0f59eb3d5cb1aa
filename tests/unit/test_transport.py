"""Undecodable record batches (streams.transport): a dead letter each, never a crash.

The batches are built with aiokafka's own batch builder, one per Kafka codec; a corrupt one
has its compressed bytes damaged and its CRC recomputed, so that only decompression fails
(as with a codec library missing or a producer bug). No broker: the record iteration that
aiokafka's fetcher runs on a fetch response is exercised directly.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from aiokafka.consumer.fetcher import PartitionRecords
from aiokafka.errors import KafkaError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import TopicPartition

from streams import transport
from streams.decode import UNDECODABLE, Arrival, process_batch

GZIP, SNAPPY, LZ4, ZSTD = 1, 2, 3, 4
CRC_AT, ATTRIBUTES_AT, HEADER = 17, 21, 61  # Kafka record batch v2 layout


def _batch(codec: int, base_offset: int, values: list[bytes], corrupt: bool = False,
           codec_bits: int | None = None) -> bytes:
    b = DefaultRecordBatchBuilder(2, codec, 0, -1, -1, -1, 1 << 20)
    for i, v in enumerate(values):
        b.append(i, 1_700_000_000_000, b"key-%d" % i, v, [("h", b"1")])
    buf = bytearray(b.build())
    struct.pack_into(">q", buf, 0, base_offset)
    if corrupt:
        for i in range(HEADER, min(len(buf), HEADER + 40)):
            buf[i] ^= 0x5A
    if codec_bits is not None:
        attrs = struct.unpack_from(">h", buf, ATTRIBUTES_AT)[0]
        struct.pack_into(">h", buf, ATTRIBUTES_AT, (attrs & ~0x07) | codec_bits)
    struct.pack_into(">I", buf, CRC_AT, calc_crc32c(bytes(buf[ATTRIBUTES_AT:])))
    return bytes(buf)


def _read(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    part = PartitionRecords(TopicPartition("scan.v1", 3), MemoryRecords(data), [], 0,
                            None, None, True, 0)
    out = [(r.offset, r.value) for r in part]
    return out, part.next_fetch_offset


@pytest.mark.parametrize("codec", [GZIP, SNAPPY, LZ4, ZSTD], ids=["gzip", "snappy", "lz4", "zstd"])
def test_every_kafka_codec_decodes(codec: int) -> None:
    """With the codec libraries installed, each of Kafka's codecs decodes to the values sent."""
    values = [b'{"n": %d}' % i for i in range(50)]
    got, next_offset = _read(_batch(codec, 0, values))
    assert [v for _, v in got] == values and next_offset == 50


@pytest.mark.parametrize("damage", ["corrupt_zstd", "corrupt_gzip", "unknown_codec"])
def test_undecodable_batch_becomes_one_dead_letter_and_neighbours_pass(damage: str) -> None:
    """Good, undecodable, good batches in one fetch: the good ones' records come through, the
    bad one is one stand-in at its base offset that the ingest step dead-letters (stage
    transport, partition and offset kept); the consumer position moves past all three."""
    transport.install()
    bad = {"corrupt_zstd": lambda: _batch(ZSTD, 2, [b"x" * 300, b"y" * 300], corrupt=True),
           "corrupt_gzip": lambda: _batch(GZIP, 2, [b"x" * 300, b"y" * 300], corrupt=True),
           "unknown_codec": lambda: _batch(GZIP, 2, [b"x", b"y"], codec_bits=7)}[damage]()
    data = _batch(LZ4, 0, [b"a", b"b"]) + bad + _batch(SNAPPY, 4, [b"c", b"d"])
    got, next_offset = _read(data)
    assert [o for o, _ in got] == [0, 1, 2, 4, 5] and next_offset == 6
    assert [v for o, v in got if o != 2] == [b"a", b"b", b"c", b"d"]
    stand_in = dict(got)[2]
    assert stand_in.startswith(UNDECODABLE)
    res = process_batch([Arrival("scan.v1", 3, o, v) for o, v in got],
                        datetime(2026, 11, 30, tzinfo=UTC), 0, 10**12)
    assert [(d.stage, d.reason, d.partition, d.offset) for d in res.dead_letters
            if d.stage == "transport"] == [("transport", "undecodable_batch", 3, 2)]


def test_without_the_wrapper_a_corrupt_batch_raises() -> None:
    """The failure the wrapper handles is real: aiokafka's own iteration raises on it."""
    from aiokafka.consumer import fetcher

    data = _batch(ZSTD, 0, [b"x" * 300], corrupt=True)
    records = MemoryRecords(data)
    plain = object.__new__(fetcher.PartitionRecords)
    plain._tp, plain._records, plain._check_crcs = TopicPartition("t", 0), records, True
    plain._isolation_level, plain._aborted_transactions = 0, []
    plain._key_deserializer = plain._value_deserializer = None
    plain.next_fetch_offset = 0
    with pytest.raises((KafkaError, Exception)):  # noqa: B017 - whatever the codec raises
        list(fetcher.PartitionRecords._unpack_records(plain))
