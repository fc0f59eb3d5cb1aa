"""The ClickHouse schema: columns, counts, and the table and view definitions.

Defined once and rendered for one node or a cluster by warehouse.ddl; applied in order by
warehouse.migrations (which also explains each table's sharding key on a cluster).

Tables (database per deployment, `courierwatch` by default):
- `events_in`: the ingest door (Null engine: stores nothing). A batch arrives as one row per
  valid event: its JSON text as received plus what Python decided (event time, lateness,
  topic, partition, offset); `events_in_mv` parses the text in ClickHouse (one JSONExtract
  into a named tuple, in C++, without the GIL) into the columns of `events`.
- `events`: the audit archive. Every distinct arrival of an accepted event with its topic,
  partition, offset and index in the message. ReplacingMergeTree on the full arrival key, so
  a batch re-inserted after a crash collapses while a courier's re-send (new offset) stays
  on record.
- `cell_counts`: per city x company x CST hour, one `uniqExact` state of the 64-bit event-id
  hash per count of `courierwatch.kpi.COUNTS` (name and condition come from there). Fed
  by a materialized view on `events`; merging states is a set union, so duplicates,
  re-deliveries and any arrival order give the same counts.
- `tape_cells`: the same per tape length, so the tape sum counts each event once.
- `accepts`: one row per parcel, the earliest ACCEPTED wins (ReplacingMergeTree with a
  version that decreases with ts): the acceptance side of the DELIVERED join.
- `late_events`: arrivals later than the allowed lateness, counted per cell; they are in
  `events` (late = 1) but not in the figures.
- `dead_letters`: rejected input with reason, where it came from, a redacted copy in `raw`
  (personal data masked, courierwatch.redact) and the SHA-256 and length of the bytes as
  received (migration 0008; rows before it hold the bytes themselves).
- `kpi_published`, `restatements`: figures as shown, and changes to already-shown figures.
- `event_versions`: per event id the smallest and largest content hash (migration 0009): an
  id re-sent with other contents is a conflict, resolved at query time (warehouse.conflicts).
- `audit_log`: the hash-chained audit log (warehouse.audit_schema).
- `alert_cells`, `alerts`, `alert_progress`: alerting's tables (warehouse.alert_schema).
- `hour_arrivals`: events per event hour and arrival time (the publisher's trigger).
- `schema_migrations`: applied migration ids.

64-bit hashes: the chance that two of 10 million event ids in one cell collide is about
3e-6; we accept that for an 8-byte state instead of a 16-byte one.
"""

from __future__ import annotations

from courierwatch.kpi import COUNTS
from courierwatch.periods import CST_ZONE as CST
from warehouse.ddl import Table, View

EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "String"),
    ("parcel_id", "String"),
    ("company", "LowCardinality(String)"),
    ("type", "LowCardinality(String)"),
    ("ts", "DateTime64(3, 'UTC')"),
    ("city", "LowCardinality(String)"),
    ("site_id", "String"),
    ("dest_city", "LowCardinality(String)"),
    ("ecommerce", "UInt8"),
    ("promised_by", "Nullable(DateTime64(3, 'UTC'))"),
    ("pkg_standard", "UInt8"),
    ("pkg_e_waybill", "UInt8"),
    ("pkg_secondary", "UInt8"),
    ("pkg_recycled_bag", "UInt8"),
    ("tape_mm", "UInt16"),
    ("pkg_degradable", "UInt8"),
    ("sec_real_name", "UInt8"),
    ("sec_inspected", "UInt8"),
    ("sec_xray", "UInt8"),
    ("mode", "LowCardinality(String)"),
    ("kind", "LowCardinality(String)"),
    ("complaint_id", "String"),
    ("stage", "LowCardinality(String)"),
    ("valid", "UInt8"),
    ("satisfied", "UInt8"),
    ("late", "UInt8"),
    ("topic", "LowCardinality(String)"),
    ("partition", "UInt32"),
    ("offset", "UInt64"),
    ("msg_index", "UInt32"),
    ("ingested_at", "DateTime64(3, 'UTC')"),
    ("channel", "LowCardinality(String)"),  # COMPLAINT only: '' (absent: APPEAL) or COMPANY
)
EVENT_COLUMN_NAMES: tuple[str, ...] = tuple(n for n, _ in EVENT_COLUMNS)


# Sharding key of everything kept per cell (city x company x period): a cell's rows, and
# every copy of one event (a re-send carries the same city and company), live on one shard.
# See docs/capacity.md, "Sharding".
CELL_SHARD = "cityHash64(city, company)"


def events_order_by(tail: str = "") -> str:
    """The archive's sorting key (the arrival key); `tail` appends columns (migration 0016
    appends the source identity)."""
    return (f"(city, company, type, toStartOfHour(ts, '{CST}'), event_id, topic, partition, "
            f"offset, msg_index{tail})")


def events_table() -> Table:
    cols = ",\n  ".join(f"`{n}` {t}" for n, t in EVENT_COLUMNS)
    return Table("events", cols, "ReplacingMergeTree",
                 partition_by=f"toYYYYMM(ts, '{CST}')", order_by=events_order_by(),
                 shard_by=CELL_SHARD)


# One row per valid event, as the worker inserts it (warehouse.rows.EventColumns): the
# columns of migration 0006, then the source identity of migration 0016.
_STAGING_0006: tuple[tuple[str, str], ...] = (
    ("raw", "String"),                     # the event's JSON text, validated by the contract
    ("ts_ms", "Int64"),                    # event time as the contract decoded it
    ("promised_ms", "Nullable(Int64)"),
    ("late", "UInt8"),
    ("topic", "LowCardinality(String)"),
    ("partition", "UInt32"),
    ("offset", "UInt64"),
    ("msg_index", "UInt32"),
    ("ingested_ms", "Int64"),
)
# Where an event came from, unique across runs and brokers (migration 0016): `source` is
# `file:sha256:<hex>` for a file published by `process`/`import` (source_line: the file's
# line number of the message's first line; the event's line is source_line + msg_index) or
# `kafka:<cluster id>/<topic>/<topic id>` for live messages (source_line 0; the position is
# partition/offset#msg_index within that topic incarnation). Rows archived before 0016 hold
# BEFORE_SOURCE_IDS.
SOURCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source", "LowCardinality(String)"),
    ("source_line", "UInt64"),
)
BEFORE_SOURCE_IDS = "before source ids"
STAGING_COLUMNS: tuple[tuple[str, str], ...] = (*_STAGING_0006, *SOURCE_COLUMNS)
STAGING_COLUMN_NAMES: tuple[str, ...] = tuple(n for n, _ in STAGING_COLUMNS)

# The contract's fields as ClickHouse reads them from the text; an absent or null field
# reads as '' / 0, as the archive has always stored it.
_EVENT_TUPLE = (
    "Tuple(event_id String, parcel_id String, company String, type String, city String, "
    "site_id String, dest_city String, ecommerce Bool, packaging Tuple(standard Bool, "
    "e_waybill Bool, secondary_packaging Bool, recycled_bag Bool, tape_mm UInt16, "
    "degradable Bool), security Tuple(real_name Bool, inspected Bool, xray Bool), "
    "mode String, kind String, complaint_id String, stage String, valid Bool, satisfied Bool, "
    "channel String)")




def staging_objects() -> list[Table | View]:
    cols = ", ".join(f"`{n}` {t}" for n, t in _STAGING_0006)
    return [
        # On a cluster the event's cell is read from its text to route the row to its shard.
        Table("events_in", cols, "Null",
              shard_by="cityHash64(JSONExtractString(raw, 'city'), "
                       "JSONExtractString(raw, 'company'))"),
        staging_view(),
    ]


def staging_view(content_hash: bool = False, source: bool = False) -> View:
    """The view that parses `events_in` into the archive (with the content hash from
    migration 0009 on, the source identity from 0016 on: passed through as inserted)."""
    hashed = "sipHash64(raw) AS content_hash, " if content_hash else ""
    hashed += "source, source_line, " if source else ""
    return View("events_in_mv", "events", "events_in",
                f"""WITH JSONExtract(raw, '{_EVENT_TUPLE}') AS j
SELECT j.event_id AS event_id, j.parcel_id AS parcel_id, j.company AS company, j.type AS type,
  fromUnixTimestamp64Milli(ts_ms, 'UTC') AS ts, j.city AS city, j.site_id AS site_id,
  j.dest_city AS dest_city, j.ecommerce AS ecommerce,
  fromUnixTimestamp64Milli(promised_ms, 'UTC') AS promised_by,
  j.packaging.standard AS pkg_standard, j.packaging.e_waybill AS pkg_e_waybill,
  j.packaging.secondary_packaging AS pkg_secondary,
  j.packaging.recycled_bag AS pkg_recycled_bag, j.packaging.tape_mm AS tape_mm,
  j.packaging.degradable AS pkg_degradable, j.security.real_name AS sec_real_name,
  j.security.inspected AS sec_inspected, j.security.xray AS sec_xray, j.mode AS mode,
  j.kind AS kind, j.complaint_id AS complaint_id, j.stage AS stage, j.valid AS valid,
  j.satisfied AS satisfied, late, topic, partition, offset, msg_index, {hashed}
  fromUnixTimestamp64Milli(ingested_ms, 'UTC') AS ingested_at, j.channel AS channel
FROM {{source}}""")


def cell_count_objects() -> list[Table | View]:
    states = ",\n  ".join(f"`{c.name}` AggregateFunction(uniqExact, UInt64)" for c in COUNTS)
    return [
        Table("cell_counts", f"""city LowCardinality(String), company LowCardinality(String),
  hour DateTime('{CST}'),
  {states}""", "AggregatingMergeTree", order_by="(city, company, hour)", shard_by=CELL_SHARD),
        cell_counts_view(),
    ]


def cell_counts_view() -> View:
    select = ",\n  ".join(f"uniqExactIfState(sipHash64(event_id), {c.condition}) AS `{c.name}`"
                          for c in COUNTS)
    return View("cell_counts_mv", "cell_counts", "events",
                f"""SELECT city, company, toStartOfHour(ts, '{CST}') AS hour,
  {select}
FROM {{source}} WHERE late = 0 GROUP BY city, company, hour""")


def tape_objects() -> list[Table | View]:
    return [
        Table("tape_cells", f"""city LowCardinality(String), company LowCardinality(String),
  hour DateTime('{CST}'), tape_mm UInt16, parcels AggregateFunction(uniqExact, UInt64)""",
              "AggregatingMergeTree", order_by="(city, company, hour, tape_mm)",
              shard_by=CELL_SHARD),
        View("tape_cells_mv", "tape_cells", "events",
             f"""SELECT city, company, toStartOfHour(ts, '{CST}') AS hour, tape_mm,
  uniqExactState(sipHash64(event_id)) AS parcels
FROM {{source}} WHERE late = 0 AND type = 'ACCEPTED' GROUP BY city, company, hour, tape_mm"""),
    ]


def accepts_objects() -> list[Table | View]:
    return [
        Table("accepts", """parcel_id String, ts DateTime64(3, 'UTC'), city LowCardinality(String),
  dest_city LowCardinality(String), company LowCardinality(String),
  promised_by Nullable(DateTime64(3, 'UTC')), version UInt64""",
              "ReplacingMergeTree", engine_args="version", order_by="parcel_id",
              shard_by="cityHash64(parcel_id)"),
        # The earliest ACCEPTED of a parcel wins: version falls as ts rises; ties on ts
        # are broken by the event id so that the winner never depends on arrival order.
        # On a cluster the rows move to the parcel's shard (reshard).
        View("accepts_mv", "accepts", "events",
             """SELECT parcel_id, ts, city, dest_city, company, promised_by,
  (toUInt64(4102444800000 - toUnixTimestamp64Milli(ts)) * 1024) + (sipHash64(event_id) % 1024)
    AS version
FROM {source} WHERE late = 0 AND type = 'ACCEPTED'""", reshard=True),
    ]


def misc_objects() -> list[Table | View]:
    return [
        Table("late_events", f"""city LowCardinality(String), company LowCardinality(String),
  hour DateTime('{CST}'), arrivals AggregateFunction(uniqExact, UInt64),
  watermark SimpleAggregateFunction(max, DateTime64(3, 'UTC'))""",
              "AggregatingMergeTree", order_by="(city, company, hour)", shard_by=CELL_SHARD),
        View("late_events_mv", "late_events", "events",
             f"""SELECT city, company, toStartOfHour(ts, '{CST}') AS hour,
  uniqExactState(sipHash64(event_id)) AS arrivals, max(ingested_at) AS watermark
FROM {{source}} WHERE late = 1 GROUP BY city, company, hour"""),
        Table("dead_letters", """received_at DateTime64(3, 'UTC'), stage LowCardinality(String),
  reason LowCardinality(String), detail String, raw String, topic LowCardinality(String),
  partition UInt32, offset UInt64, msg_index Int32""",
              "ReplacingMergeTree", order_by="(topic, partition, offset, msg_index)",
              shard_by="cityHash64(topic, partition, offset)"),
        Table("kpi_published", f"""city LowCardinality(String), company LowCardinality(String),
  period String, period_start DateTime('{CST}'), kpi LowCardinality(String),
  numerator Float64, denominator Float64, value Nullable(Float64),
  published_at DateTime64(3, 'UTC')""",
              "ReplacingMergeTree", engine_args="published_at",
              order_by="(city, company, period, period_start, kpi)", shard_by=CELL_SHARD),
        Table("restatements", f"""city LowCardinality(String), company LowCardinality(String),
  period String, period_start DateTime('{CST}'), kpi LowCardinality(String),
  old_numerator Float64, old_denominator Float64, old_value Nullable(Float64),
  new_numerator Float64, new_denominator Float64, new_value Nullable(Float64),
  cause String, restated_at DateTime64(3, 'UTC')""",
              "MergeTree", order_by="(restated_at, city, company, kpi)", shard_by=CELL_SHARD),
    ]
