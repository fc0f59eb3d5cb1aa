"""Record batches that the Kafka client cannot decode become dead letters, not crashes.

A batch compressed with a codec whose library is missing, or whose compressed bytes are
corrupt, makes aiokafka raise from inside its fetcher, and faust stops the worker: one bad
producer would take the whole service down (issue 9, "Real producers"). `install()` wraps
the batches aiokafka's `PartitionRecords` iterates so that such a batch yields, instead of
its records, one stand-in record at the batch's base offset whose value is
`streams.decode.UNDECODABLE` plus the error; the ingest step turns it into a dead letter
(stage `transport`, reason `undecodable_batch`, with topic, partition and offset), and the
consumer moves past the batch as it would after reading it. CRC failures are left to
aiokafka (it re-fetches the batch: a transient network fault, not a producer's).

The codec libraries themselves are dependencies (cramjam for aiokafka; python-snappy,
zstandard and lz4 for kafka-python), so gzip, snappy, lz4 and zstd batches decode.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from aiokafka.consumer import fetcher

from streams.decode import UNDECODABLE


@dataclass(frozen=True, slots=True)
class _StandIn:
    """What aiokafka reads off a record (see PartitionRecords._consumer_record)."""

    offset: int
    value: bytes
    key: bytes | None = None
    timestamp: int = -1
    timestamp_type: int = 0
    checksum: int | None = None
    headers: tuple[tuple[str, bytes], ...] = field(default=())


class _SafeBatch:
    """A record batch whose records are decoded up front; if decoding fails, one stand-in."""

    def __init__(self, batch: Any) -> None:
        self._batch = batch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __next__(self) -> Any:  # control batches are read with next()
        return next(self._batch)

    def __iter__(self) -> Iterator[Any]:
        try:
            records = list(self._batch)
        except Exception as exc:  # noqa: BLE001 - any decoding failure of this batch
            detail = f"{type(exc).__name__}: {exc}"[:500]
            yield _StandIn(offset=self._batch.base_offset,
                           value=UNDECODABLE + detail.encode("utf-8", "replace"))
            return
        yield from records


class _SafeRecords:
    def __init__(self, records: Any) -> None:
        self._records = records

    def has_next(self) -> bool:
        return bool(self._records.has_next())

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        return None if batch is None else _SafeBatch(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._records, name)


_installed = False


def install() -> None:
    """Wrap aiokafka's per-partition record iteration (idempotent)."""
    global _installed
    if _installed:
        return
    original = fetcher.PartitionRecords.__init__

    def __init__(self: Any, tp: Any, records: Any, *args: Any, **kwargs: Any) -> None:
        original(self, tp, _SafeRecords(records), *args, **kwargs)

    fetcher.PartitionRecords.__init__ = __init__
    _installed = True
