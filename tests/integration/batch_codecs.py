"""Which codec each record batch on a topic was stored with, read from the raw bytes.

A producer test must show that the producer really compressed (a client that silently fell
back to uncompressed batches would pass a figures check). This fetches the raw record set of
every partition with a plain Fetch request and reads each batch's attributes field from the
Kafka record-batch v2 header itself, decoding nothing: baseOffset int64, batchLength int32,
partitionLeaderEpoch int32, magic int8, crc uint32, attributes int16 (codec in the low three
bits), lastOffsetDelta int32 (Kafka protocol guide, "Record Batch").
"""

from __future__ import annotations

import asyncio
import struct
from collections import Counter

from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.structs import TopicPartition

CODEC_NAMES = ("none", "gzip", "snappy", "lz4", "zstd")
_HEADER = struct.Struct(">qiibIhi")  # baseOffset .. lastOffsetDelta, 61 bytes' prefix


def parse_batch_codecs(record_set: bytes) -> tuple[list[str], int]:
    """Codec names of the complete v2 batches in `record_set`, and the offset after the last.

    A trailing partial batch (a fetch may cut one) is ignored; the returned next offset is -1
    when no complete batch was found. Raises ValueError on a batch that is not magic 2.
    """
    codecs: list[str] = []
    pos, next_offset = 0, -1
    while pos + _HEADER.size <= len(record_set):
        base, length, _epoch, magic, _crc, attributes, last_delta = _HEADER.unpack_from(
            record_set, pos)
        if pos + 12 + length > len(record_set):
            break
        if magic != 2:
            raise ValueError(f"batch at offset {base} has magic {magic}, not 2")
        codecs.append(CODEC_NAMES[attributes & 0x07])
        next_offset = base + last_delta + 1
        pos += 12 + length
    return codecs, next_offset


async def _fetch_codecs(bootstrap: str, topic: str, partitions: int) -> Counter[str]:
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    found: Counter[str] = Counter()
    try:
        await client.force_metadata_update()
        for partition in range(partitions):
            offset, end = 0, None
            while end is None or offset < end:
                leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
                request = FetchRequest(100, 1, 8_000_000, 0,
                                       [(topic, [(partition, offset, 8_000_000)])])
                response = await client.send(leader, request)
                # every Fetch version: (partition, error, high watermark, ..., records)
                _p, error, end, *_rest, record_set = response.topics[0][1][0]
                if error:
                    raise RuntimeError(f"fetch {topic}/{partition}@{offset}: error {error}")
                codecs, next_offset = parse_batch_codecs(record_set)
                if next_offset < 0:
                    break
                found.update(codecs)
                offset = next_offset
    finally:
        await client.close()
    return found


def batch_codecs(bootstrap: str, topic: str, partitions: int) -> Counter[str]:
    """How many record batches on `topic` carry each codec (blocking; opens its own loop)."""
    return asyncio.run(_fetch_codecs(bootstrap, topic, partitions))
