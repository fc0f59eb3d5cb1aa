"""The `audit_log` table: the hash-chained audit log as ClickHouse keeps it.

One row per record of `courierwatch.audit_chain`, its fields as sealed: `ts` stays the text
that was hashed, `inputs`/`outputs` their canonical JSON. Plain MergeTree, not Replacing:
an append-only log must show a forged duplicate seq to `audit verify`, not collapse it.
Rows come from the journal file (services.audit.log), appended under its lock.
"""

from __future__ import annotations

AUDIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("seq", "UInt64"),
    ("ts", "String"),
    ("actor", "String"),
    ("action", "LowCardinality(String)"),
    ("inputs", "String"),
    ("inputs_sha256", "String"),
    ("outputs", "String"),
    ("outputs_sha256", "String"),
    ("prev_hash", "String"),
    ("hash", "String"),
)
AUDIT_COLUMN_NAMES: tuple[str, ...] = tuple(n for n, _ in AUDIT_COLUMNS)

