"""Pure mapping of valid scan events to the columns of `events` (no I/O).

Times go in as integer epoch milliseconds: clickhouse-connect converts those ~30x faster
than aware datetimes (measured: 36 ms vs 1.0 s for 50k rows) and they cannot be
misread in the host's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from courierwatch.contract import ScanEvent
from warehouse.schema import EVENT_COLUMN_NAMES


def epoch_ms(ev_ts: object) -> int:
    return int(ev_ts.timestamp() * 1000)  # type: ignore[attr-defined]


_TS = EVENT_COLUMN_NAMES.index("ts")


@dataclass(slots=True)
class EventColumns:
    """Column-oriented batch for `events`, in EVENT_COLUMN_NAMES order."""

    columns: list[list[object]] = field(
        default_factory=lambda: [[] for _ in EVENT_COLUMN_NAMES])

    def __len__(self) -> int:
        return len(self.columns[0])

    @property
    def ts(self) -> list[int]:
        """Event times, epoch milliseconds."""
        return self.columns[_TS]  # type: ignore[return-value]

    def add(self, ev: ScanEvent, ts_ms: int, late: bool, topic: str, partition: int,
            offset: int, index: int, ingested_ms: int) -> None:
        p, s = ev.packaging, ev.security
        row = (
            ev.event_id, ev.parcel_id, ev.company, ev.type, ts_ms, ev.city, ev.site_id or "",
            ev.dest_city or "", 1 if ev.ecommerce else 0,
            epoch_ms(ev.promised_by) if ev.promised_by is not None else None,
            1 if p and p.standard else 0, 1 if p and p.e_waybill else 0,
            1 if p and p.secondary_packaging else 0, 1 if p and p.recycled_bag else 0,
            p.tape_mm if p else 0, 1 if p and p.degradable else 0,
            1 if s and s.real_name else 0, 1 if s and s.inspected else 0,
            1 if s and s.xray else 0,
            ev.mode or "", ev.kind or "", ev.complaint_id or "", ev.stage or "",
            1 if ev.valid else 0, 1 if ev.satisfied else 0,
            1 if late else 0, topic, partition, offset, index, ingested_ms,
        )
        for col, value in zip(self.columns, row, strict=True):
            col.append(value)
