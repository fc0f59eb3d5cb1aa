"""Pure mapping of valid scan events to the columns of `events` (no I/O).

Times go in as integer epoch milliseconds: clickhouse-connect converts those ~30x faster
than aware datetimes (measured: 36 ms vs 1.0 s for 50k rows) and they cannot be
misread in the host's time zone.
"""

from __future__ import annotations

from courierwatch.contract import ScanEvent
from warehouse.schema import EVENT_COLUMN_NAMES


def epoch_ms(ev_ts: object) -> int:
    return int(ev_ts.timestamp() * 1000)  # type: ignore[attr-defined]


_TS = EVENT_COLUMN_NAMES.index("ts")


class EventColumns:
    """A batch for `events`: rows in arrival order, read column-wise (EVENT_COLUMN_NAMES).

    Rows are kept as tuples and transposed once when `columns` is read (in C, by zip):
    about half the cost of appending every value to 31 lists.
    """

    __slots__ = ("_rows", "_columns")

    def __init__(self) -> None:
        self._rows: list[tuple[object, ...]] = []
        self._columns: list[list[object]] | None = None

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def columns(self) -> list[list[object]]:
        """One list per column of `events`, in EVENT_COLUMN_NAMES order."""
        if self._columns is None:
            if self._rows:
                self._columns = [list(c) for c in zip(*self._rows, strict=True)]
            else:
                self._columns = [[] for _ in EVENT_COLUMN_NAMES]
        return self._columns

    @property
    def ts(self) -> list[int]:
        """Event times, epoch milliseconds."""
        return self.columns[_TS]  # type: ignore[return-value]

    def add(self, ev: ScanEvent, ts_ms: int, late: bool, topic: str, partition: int,
            offset: int, index: int, ingested_ms: int) -> None:
        self.add_message([ev], [ts_ms], [late], topic, partition, offset, ingested_ms, index)

    def add_message(self, events: list[ScanEvent], ts_ms: list[int], late: list[bool],
                    topic: str, partition: int, offset: int, ingested_ms: int,
                    first_index: int = 0) -> None:
        """Add the valid events of one message (index in the message = position + first)."""
        self._columns = None
        append = self._rows.append
        for index, (ev, ts, is_late) in enumerate(zip(events, ts_ms, late, strict=True),
                                                 first_index):
            p, s = ev.packaging, ev.security
            append((
                ev.event_id, ev.parcel_id, ev.company, ev.type, ts, ev.city, ev.site_id or "",
                ev.dest_city or "", 1 if ev.ecommerce else 0,
                epoch_ms(ev.promised_by) if ev.promised_by is not None else None,
                1 if p and p.standard else 0, 1 if p and p.e_waybill else 0,
                1 if p and p.secondary_packaging else 0, 1 if p and p.recycled_bag else 0,
                p.tape_mm if p else 0, 1 if p and p.degradable else 0,
                1 if s and s.real_name else 0, 1 if s and s.inspected else 0,
                1 if s and s.xray else 0,
                ev.mode or "", ev.kind or "", ev.complaint_id or "", ev.stage or "",
                1 if ev.valid else 0, 1 if ev.satisfied else 0,
                1 if is_late else 0, topic, partition, offset, index, ingested_ms,
            ))
