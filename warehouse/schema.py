"""The ClickHouse schema, created and migrated by the project.

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
  by a materialized view on `events`; merging states is a set
  union, so duplicates, re-deliveries and any arrival order give the same counts.
- `tape_cells`: the same per tape length, so the tape sum counts each event once.
- `accepts`: one row per parcel, the earliest ACCEPTED wins (ReplacingMergeTree with a
  version that decreases with ts): the acceptance side of the DELIVERED join.
- `late_events`: arrivals later than the allowed lateness, counted per cell; they are in
  `events` (late = 1) but not in the figures.
- `dead_letters`: rejected input with reason, where it came from, a redacted copy in `raw`
  (personal data masked, courierwatch.redact) and the SHA-256 and length of the bytes as
  received (migration 0007; rows before it hold the bytes themselves).
- `kpi_published`, `restatements`: figures as shown, and changes to already-shown figures.
- `event_versions`: per event id the smallest and largest content hash (migration 0008): an
  id re-sent with other contents is a conflict, resolved at query time (warehouse.conflicts).
- `audit_log`: the hash-chained audit log (warehouse.audit_schema).
- `schema_migrations`: applied migration ids.

64-bit hashes: the chance that two of 10 million event ids in one cell collide is about
3e-6; we accept that for an 8-byte state instead of a 16-byte one.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from courierwatch.kpi import COUNTS
from courierwatch.periods import CST_ZONE as CST
from warehouse.alert_schema import alert_ddl
from warehouse.audit_schema import audit_log_ddl
from warehouse.scoping import system_read

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


def _events_ddl(db: str) -> str:
    cols = ",\n  ".join(f"`{n}` {t}" for n, t in EVENT_COLUMNS)
    return f"""CREATE TABLE IF NOT EXISTS {db}.events (
  {cols}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts, '{CST}')
ORDER BY (city, company, type, toStartOfHour(ts, '{CST}'), event_id, topic, partition, offset,
          msg_index)"""


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


def _staging_ddl(db: str, content_hash: bool = False) -> list[str]:
    cols = ", ".join(f"`{n}` {t}" for n, t in STAGING_COLUMNS)
    hashed = "sipHash64(raw) AS content_hash, " if content_hash else ""
    return [
        f"CREATE TABLE IF NOT EXISTS {db}.events_in ({cols}) ENGINE = Null",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_in_mv TO {db}.events AS
WITH JSONExtract(raw, '{_EVENT_TUPLE}') AS j
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
FROM {db}.events_in""",
    ]


def _cell_counts_ddl(db: str) -> list[str]:
    states = ",\n  ".join(f"`{c.name}` AggregateFunction(uniqExact, UInt64)" for c in COUNTS)
    select = ",\n  ".join(f"uniqExactIfState(sipHash64(event_id), {c.condition}) AS `{c.name}`"
                          for c in COUNTS)
    return [
        f"""CREATE TABLE IF NOT EXISTS {db}.cell_counts (
  city LowCardinality(String), company LowCardinality(String), hour DateTime('{CST}'),
  {states}
) ENGINE = AggregatingMergeTree ORDER BY (city, company, hour)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.cell_counts_mv TO {db}.cell_counts AS
SELECT city, company, toStartOfHour(ts, '{CST}') AS hour,
  {select}
FROM {db}.events WHERE late = 0 GROUP BY city, company, hour""",
    ]


def _tape_ddl(db: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {db}.tape_cells (
  city LowCardinality(String), company LowCardinality(String), hour DateTime('{CST}'),
  tape_mm UInt16, parcels AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree ORDER BY (city, company, hour, tape_mm)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.tape_cells_mv TO {db}.tape_cells AS
SELECT city, company, toStartOfHour(ts, '{CST}') AS hour, tape_mm,
  uniqExactState(sipHash64(event_id)) AS parcels
FROM {db}.events WHERE late = 0 AND type = 'ACCEPTED' GROUP BY city, company, hour, tape_mm""",
    ]


def _accepts_ddl(db: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {db}.accepts (
  parcel_id String, ts DateTime64(3, 'UTC'), city LowCardinality(String),
  dest_city LowCardinality(String), company LowCardinality(String),
  promised_by Nullable(DateTime64(3, 'UTC')), version UInt64
) ENGINE = ReplacingMergeTree(version) ORDER BY parcel_id""",
        # The earliest ACCEPTED of a parcel wins: version falls as ts rises; ties on ts
        # are broken by the event id so that the winner never depends on arrival order.
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.accepts_mv TO {db}.accepts AS
SELECT parcel_id, ts, city, dest_city, company, promised_by,
  (toUInt64(4102444800000 - toUnixTimestamp64Milli(ts)) * 1024) + (sipHash64(event_id) % 1024)
    AS version
FROM {db}.events WHERE late = 0 AND type = 'ACCEPTED'""",
    ]


def _misc_ddl(db: str) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {db}.late_events (
  city LowCardinality(String), company LowCardinality(String), hour DateTime('{CST}'),
  arrivals AggregateFunction(uniqExact, UInt64), watermark SimpleAggregateFunction(max,
  DateTime64(3, 'UTC'))
) ENGINE = AggregatingMergeTree ORDER BY (city, company, hour)""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.late_events_mv TO {db}.late_events AS
SELECT city, company, toStartOfHour(ts, '{CST}') AS hour,
  uniqExactState(sipHash64(event_id)) AS arrivals, max(ingested_at) AS watermark
FROM {db}.events WHERE late = 1 GROUP BY city, company, hour""",
        f"""CREATE TABLE IF NOT EXISTS {db}.dead_letters (
  received_at DateTime64(3, 'UTC'), stage LowCardinality(String), reason LowCardinality(String),
  detail String, raw String, topic LowCardinality(String), partition UInt32, offset UInt64,
  msg_index Int32
) ENGINE = ReplacingMergeTree ORDER BY (topic, partition, offset, msg_index)""",
        f"""CREATE TABLE IF NOT EXISTS {db}.kpi_published (
  city LowCardinality(String), company LowCardinality(String), period String,
  period_start DateTime('{CST}'), kpi LowCardinality(String), numerator Float64,
  denominator Float64, value Nullable(Float64), published_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(published_at)
ORDER BY (city, company, period, period_start, kpi)""",
        f"""CREATE TABLE IF NOT EXISTS {db}.restatements (
  city LowCardinality(String), company LowCardinality(String), period String,
  period_start DateTime('{CST}'), kpi LowCardinality(String),
  old_numerator Float64, old_denominator Float64, old_value Nullable(Float64),
  new_numerator Float64, new_denominator Float64, new_value Nullable(Float64),
  cause String, restated_at DateTime64(3, 'UTC')
) ENGINE = MergeTree ORDER BY (restated_at, city, company, kpi)""",
    ]


def _channel_ddl(db: str) -> list[str]:
    """COMPLAINT `channel` (appeal vs company complaint) on a database made before it.

    Adds the column (at the end, as in EVENT_COLUMNS) and the company-complaint counts, and
    re-creates the two views that read them. Old complaints had no channel, i.e. were
    appeals, so the counts already stored stay right. On a fresh database every statement
    is a no-op or re-creates a view identically.
    """
    new_counts = [c.name for c in COUNTS if c.name.startswith("company_complaint")]
    return [
        f"ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS channel LowCardinality(String)",
        *(f"ALTER TABLE {db}.cell_counts ADD COLUMN IF NOT EXISTS `{n}` "
          "AggregateFunction(uniqExact, UInt64)" for n in new_counts),
        f"DROP VIEW IF EXISTS {db}.events_in_mv",
        _staging_ddl(db)[1],
        f"DROP VIEW IF EXISTS {db}.cell_counts_mv",
        _cell_counts_ddl(db)[1],
    ]


def _conflicts_ddl(db: str) -> list[str]:
    """Content hashes, so that an event id re-sent with other contents is seen (issue 9).

    `events.content_hash` is sipHash64 of the text ClickHouse parsed, which is the canonical
    encoding of the validated record (courierwatch.contract.Decoded): equal contents, equal
    hash, whatever the producer's formatting. Rows stored before this migration hold 0
    (unknown) and take no part in conflict detection. `event_versions` keeps, per event id,
    the smallest and largest hash seen: an id is in conflict when they differ. Which version
    counts is decided at query time (warehouse.conflicts), so arrival order cannot matter.
    """
    return [
        f"ALTER TABLE {db}.events ADD COLUMN IF NOT EXISTS content_hash UInt64 DEFAULT 0",
        f"DROP VIEW IF EXISTS {db}.events_in_mv",
        _staging_ddl(db, content_hash=True)[1],
        f"""CREATE TABLE IF NOT EXISTS {db}.event_versions (
  event_id String, lo SimpleAggregateFunction(min, UInt64),
  hi SimpleAggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree ORDER BY event_id""",
        f"""CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.event_versions_mv TO {db}.event_versions AS
SELECT event_id, min(content_hash) AS lo, max(content_hash) AS hi
FROM {db}.events WHERE late = 0 AND content_hash != 0 GROUP BY event_id""",
    ]


@dataclass(frozen=True, slots=True)
class Migration:
    id: str
    statements: tuple[str, ...]


def migrations(db: str) -> tuple[Migration, ...]:
    """Ordered migrations; ids are never reused or edited once released."""
    return (
        Migration("0001_events", (_events_ddl(db),)),
        Migration("0002_cell_counts", tuple(_cell_counts_ddl(db))),
        Migration("0003_tape_cells", tuple(_tape_ddl(db))),
        Migration("0004_accepts", tuple(_accepts_ddl(db))),
        Migration("0005_late_dead_published", tuple(_misc_ddl(db))),
        Migration("0006_events_in", tuple(_staging_ddl(db))),
        Migration("0007_complaint_channel", tuple(_channel_ddl(db))),
        Migration("0008_dead_letter_digest", (
            f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS raw_sha256 String",
            f"ALTER TABLE {db}.dead_letters ADD COLUMN IF NOT EXISTS raw_bytes UInt64")),
        Migration("0009_content_conflicts", tuple(_conflicts_ddl(db))),
        Migration("0010_audit_log", tuple(audit_log_ddl(db))),
        Migration("0011_alerts", alert_ddl(db)),
    )


@system_read("schema migrations: which migrations ran, no figures")
def migrate(client: Client, db: str) -> list[str]:
    """Create the database and apply pending migrations; return the ids applied now."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    client.command(f"""CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
  id String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) ENGINE = MergeTree ORDER BY id""")
    done = {r[0] for r in client.query(f"SELECT id FROM {db}.schema_migrations").result_rows}
    applied = []
    for m in migrations(db):
        if m.id in done:
            continue
        for stmt in m.statements:
            client.command(stmt)
        client.insert(f"{db}.schema_migrations", [[m.id]], column_names=["id"])
        applied.append(m.id)
    return applied
