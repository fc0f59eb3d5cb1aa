"""The raw batch-header reader the real-producer tests use to check each batch's codec."""

from __future__ import annotations

import struct

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from tests.integration.batch_codecs import CODEC_NAMES, parse_batch_codecs


def _batch(codec: int, base_offset: int, records: int) -> bytes:
    """A v2 batch built by aiokafka's own builder (not by the reader under test)."""
    builder = DefaultRecordBatchBuilder(2, codec, 0, -1, -1, -1, 1 << 20)
    for i in range(records):
        builder.append(i, 1_700_000_000_000, b"k%d" % i, b'{"n":%d}' % i, [("codec", b"x")])
    buf = bytearray(builder.build())
    struct.pack_into(">q", buf, 0, base_offset)
    return bytes(buf)


def test_every_codec_read_in_order_with_the_next_offset() -> None:
    """Concatenated batches of each codec (none, gzip, snappy, lz4, zstd), of 1..5 records,
    read back as those codec names in order; the next offset is the last batch's base plus
    its record count."""
    batches, offset = [], 7
    for codec in range(len(CODEC_NAMES)):
        batches.append(_batch(codec, offset, codec + 1))
        offset += codec + 1
    assert parse_batch_codecs(b"".join(batches)) == (list(CODEC_NAMES), offset)


@pytest.mark.parametrize("cut", [1, 30, 61, 80], ids=lambda c: f"cut-{c}")
def test_a_partial_trailing_batch_is_ignored(cut: int) -> None:
    """A fetch may end inside a batch: the part is not counted, the offset stays after the
    last complete batch."""
    whole = _batch(4, 0, 2)
    assert parse_batch_codecs(whole + _batch(1, 2, 3)[:cut]) == (["zstd"], 2)
    assert parse_batch_codecs(whole[:cut]) == ([], -1)


def test_a_batch_that_is_not_magic_2_is_refused() -> None:
    """An old message-set (magic 0/1) is not mistaken for a v2 batch."""
    buf = bytearray(_batch(0, 0, 1))
    buf[16] = 1
    with pytest.raises(ValueError, match="magic 1"):
        parse_batch_codecs(bytes(buf))
