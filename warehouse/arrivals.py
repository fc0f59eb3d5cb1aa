"""Reads of `hour_arrivals`: what reached the store, per event hour and arrival time.

The table is fed by a view on the archive (warehouse.migrations), so it sees every batch
whichever worker stored it: the one publisher of a deployment (streams.publisher) reads
the global watermark and the late arrivals for published hours from here instead of from
its own worker's batches. Arrival times are the ClickHouse server's clock (`now64(3)` when
the block reached the view). Times are epoch milliseconds.
"""

from __future__ import annotations

from warehouse.client import Warehouse
from warehouse.scoping import system_read

Arrivals = dict[tuple[int, int], int]  # (arrived ms, hour start ms) -> events


@system_read("the ingest watermark over every city (one timestamp), the publisher's clock")
def watermark_ms(wh: Warehouse) -> int:
    """The latest in-figure event time stored by any worker (0 when nothing is)."""
    rows = wh.query(f"SELECT toUnixTimestamp64Milli(max(max_ts)), count() "
                    f"FROM {wh.db}.hour_arrivals")
    return int(rows[0][0]) if rows and rows[0][1] else 0


@system_read("the store's clock, no figures")
def server_now_ms(wh: Warehouse) -> int:
    return int(wh.query("SELECT toUnixTimestamp64Milli(now64(3, 'UTC'))")[0][0])


@system_read("the publisher's bookkeeping of late arrivals over every city, never served "
             "to a caller")
def arrivals_since(wh: Warehouse, since_ms: int, hours_before_ms: int) -> Arrivals:
    """Events that arrived at or after `since_ms` for event hours before `hours_before_ms`."""
    rows = wh.query(
        f"""SELECT toUnixTimestamp64Milli(arrived), toUnixTimestamp(hour) * 1000, sum(events)
            FROM {wh.db}.hour_arrivals
            WHERE arrived >= fromUnixTimestamp64Milli({{since:Int64}}, 'UTC')
              AND hour < toDateTime({{until:Int64}})
            GROUP BY arrived, hour""",
        {"since": since_ms, "until": hours_before_ms // 1000})
    return {(int(a), int(h)): int(n) for a, h, n in rows}


@system_read("the publisher's restatement cause (a count of late events), stored with "
             "the restatement")
def arrived_after(wh: Warehouse, start_ms: int, end_ms: int, after_ms: int) -> int:
    """Events of event hours in [start_ms, end_ms) that arrived after `after_ms`."""
    rows = wh.query(
        f"""SELECT sum(events) FROM {wh.db}.hour_arrivals
            WHERE hour >= toDateTime({{start:Int64}}) AND hour < toDateTime({{end:Int64}})
              AND arrived > fromUnixTimestamp64Milli({{after:Int64}}, 'UTC')""",
        {"start": start_ms // 1000, "end": end_ms // 1000, "after": after_ms})
    return int(rows[0][0] or 0) if rows else 0
