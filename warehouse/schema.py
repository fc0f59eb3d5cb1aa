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
- `accepts`: every ACCEPTED of a parcel, one row per (parcel, event id, content hash): the
  acceptance side of the DELIVERED join, which takes the earliest by a total order
  (warehouse.conflicts.ACCEPT_ORDER; migration 0013).
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
from warehouse.ddl import Backfill, Table, View

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

# Tables of `uniqExact` states (one distinct-id set per cell): a merge or a read handles a
# granule (index_granularity rows) of states from each part at once, and merges write
# blocks of merge_max_block_size rows. At the defaults (8,192) a granule holds most of
# the table, so a merge's memory grew with the archive, not with a cell: merging
# cell_counts after 2 M events took 254 MB, at 64 rows 46 MB (docs/reliability.md,
# "Memory under pressure"). A state in memory is about ten times its size on disk.
STATE_TABLE_SETTINGS = "index_granularity = 64, merge_max_block_size = 64"
# What a database made before migration 0014 can change: index_granularity is fixed when a
# table is created, so its granules stay large and only merges' output blocks shrink.
STATE_TABLE_MERGE_SETTINGS = "merge_max_block_size = 64"
STATE_TABLES = ("cell_counts", "tape_cells", "late_events", "alert_cells")


def events_table() -> Table:
    cols = ",\n  ".join(f"`{n}` {t}" for n, t in EVENT_COLUMNS)
    return Table("events", cols, "ReplacingMergeTree",
                 partition_by=f"toYYYYMM(ts, '{CST}')",
                 order_by=f"(city, company, type, toStartOfHour(ts, '{CST}'), event_id, topic, "
                          "partition, offset, msg_index)",
                 shard_by=CELL_SHARD)


# One row per valid event, as the worker inserts it (warehouse.rows.EventColumns).
STAGING_COLUMNS: tuple[tuple[str, str], ...] = (
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
    cols = ", ".join(f"`{n}` {t}" for n, t in STAGING_COLUMNS)
    return [
        # On a cluster the event's cell is read from its text to route the row to its shard.
        Table("events_in", cols, "Null",
              shard_by="cityHash64(JSONExtractString(raw, 'city'), "
                       "JSONExtractString(raw, 'company'))"),
        staging_view(),
    ]


def staging_view(content_hash: bool = False) -> View:
    """The view that parses `events_in` into the archive (with the content hash from
    migration 0009 on)."""
    hashed = "sipHash64(raw) AS content_hash, " if content_hash else ""
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
  {states}""", "AggregatingMergeTree", order_by="(city, company, hour)", shard_by=CELL_SHARD,
              settings=STATE_TABLE_SETTINGS),
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
              shard_by=CELL_SHARD, settings=STATE_TABLE_SETTINGS),
        View("tape_cells_mv", "tape_cells", "events",
             f"""SELECT city, company, toStartOfHour(ts, '{CST}') AS hour, tape_mm,
  uniqExactState(sipHash64(event_id)) AS parcels
FROM {{source}} WHERE late = 0 AND type = 'ACCEPTED' GROUP BY city, company, hour, tape_mm"""),
    ]


# The acceptance of an ACCEPTED row. `content_hash` is the archive's (migration 0009); a
# row archived before it holds 0 there, and gets a hash of the columns the join reads, so
# that versions of one id stored before 0009 stay apart too (replays copy such rows). The
# source column is named through the table alias: the output of the same name is an alias
# that the query analyser of older servers would otherwise substitute into its own
# definition (a cyclic alias).
_ACCEPTS_SELECT = """SELECT parcel_id, event_id,
  if(e.content_hash != 0, e.content_hash, sipHash64(ts, city, dest_city, company, promised_by))
    AS content_hash,
  ts, city, dest_city, company, promised_by
FROM {source} AS e WHERE late = 0 AND type = 'ACCEPTED'"""


def accepts_objects() -> list[Table | View]:
    """Every acceptance of a parcel, one row per (parcel, event id, content); which one the
    DELIVERED join takes is decided when it reads them (warehouse.queries.on_time_counts,
    order warehouse.conflicts.ACCEPT_ORDER), so no merge and no arrival order can choose.

    ReplacingMergeTree on that key only collapses copies of one content (a re-inserted
    batch, an identical re-send), which are equal in every column. On a cluster the rows
    move to the parcel's shard (reshard). Replaces 0004's one row per parcel (migration
    0013, warehouse.migrations)."""
    return [
        Table("accepts", """parcel_id String, event_id String, content_hash UInt64,
  ts DateTime64(3, 'UTC'), city LowCardinality(String), dest_city LowCardinality(String),
  company LowCardinality(String), promised_by Nullable(DateTime64(3, 'UTC'))""",
              "ReplacingMergeTree", order_by="(parcel_id, event_id, content_hash)",
              shard_by="cityHash64(parcel_id)"),
        View("accepts_mv", "accepts", "events", _ACCEPTS_SELECT, reshard=True),
    ]


def accepts_backfill() -> Backfill:
    """The acceptances of everything archived so far, as the view would have written them
    (a re-created `accepts` starts empty)."""
    return Backfill("accepts", "events", _ACCEPTS_SELECT)


def misc_objects() -> list[Table | View]:
    return [
        Table("late_events", f"""city LowCardinality(String), company LowCardinality(String),
  hour DateTime('{CST}'), arrivals AggregateFunction(uniqExact, UInt64),
  watermark SimpleAggregateFunction(max, DateTime64(3, 'UTC'))""",
              "AggregatingMergeTree", order_by="(city, company, hour)", shard_by=CELL_SHARD,
              settings=STATE_TABLE_SETTINGS),
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
