"""What pins a replay's input: archive ranges, event counts, the code and catalog versions.

Everything here is derived from data and files, never from a clock, so two replays of the
same archive write byte-identical manifests. Canonical files are orjson with sorted keys
(and two-space indentation, for a readable diff), ending in a newline.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson

from courierwatch import __version__
from warehouse.client import Warehouse
from warehouse.scoping import system_read

# The packages whose code computes a figure, and the catalog/route data they read.
CODE_PACKAGES = ("courierwatch", "warehouse", "streams", "services")
ROOT = Path(__file__).resolve().parents[1]


def write_canonical(path: Path, value: object) -> str:
    """Write `value` as canonical JSON; return the SHA-256 of the bytes written."""
    data = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def code_version() -> dict[str, Any]:
    """The package version and a SHA-256 over every .py/.yaml file of the code that computes
    figures (sorted relative paths with their own SHA-256): two replays by the same code
    carry the same hash, a changed line anywhere in it changes the hash."""
    lines = []
    for pkg in CODE_PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*")):
            if path.suffix in (".py", ".yaml") and "__pycache__" not in path.parts:
                lines.append(f"{path.relative_to(ROOT).as_posix()} {file_sha256(path)}\n")
    return {"version": __version__,
            "source_sha256": hashlib.sha256("".join(lines).encode()).hexdigest(),
            "source_files": len(lines)}


@system_read("reads the replay's scratch database, filled through its scoped filter")
def archive_ranges(iso: Warehouse) -> list[dict[str, Any]]:
    """Per source, topic and partition of the replayed events: first and last offset,
    rows (offsets restart with every broker: the source tells two runs apart)."""
    rows = iso.query(f"""SELECT source, topic, partition, min(offset), max(offset), count()
        FROM {iso.db}.events GROUP BY source, topic, partition
        ORDER BY source, topic, partition""")
    return [{"source": src, "topic": t, "partition": int(p), "first_offset": int(lo),
             "last_offset": int(hi), "rows": int(n)} for src, t, p, lo, hi, n in rows]


@system_read("reads the replay's scratch database, filled through its scoped filter")
def sources(iso: Warehouse) -> list[dict[str, Any]]:
    """Every source the replayed events came from (warehouse.schema.SOURCE_COLUMNS): its
    kind, the file's SHA-256 (a `process`/`import` run) or the Kafka cluster, topic and
    topic id (live messages), the rows and the first and last line of a file."""
    rows = iso.query(f"""SELECT source, count(), min(source_line + msg_index),
            max(source_line + msg_index), uniqExact(event_id)
        FROM {iso.db}.events GROUP BY source ORDER BY source""")
    out = []
    for src, n, lo, hi, distinct in rows:
        entry: dict[str, Any] = {"source": src, "rows": int(n), "distinct_events": int(distinct)}
        if src.startswith("file:sha256:"):
            entry |= {"kind": "file", "sha256": src.removeprefix("file:sha256:"),
                      "first_line": int(lo), "last_line": int(hi)}
        elif src.startswith("kafka:"):
            cluster, _, rest = src.removeprefix("kafka:").partition("/")
            topic, _, topic_id = rest.rpartition("/")
            entry |= {"kind": "kafka", "cluster_id": cluster, "topic": topic,
                      "topic_id": topic_id}
        else:
            entry |= {"kind": "before source ids"}
        out.append(entry)
    return out


@system_read("reads the replay's scratch database, filled through its scoped filter")
def event_counts(iso: Warehouse, in_period: int) -> dict[str, Any]:
    """Archived rows (every arrival), distinct event ids and late rows, in all and per type;
    `in_period` of them fall in the range, the rest are acceptances for the on-time join."""
    rows = iso.query(f"""SELECT type, count(), uniqExact(event_id), sum(late)
        FROM {iso.db}.events GROUP BY type ORDER BY type""")
    by_type = {t: {"rows": int(n), "distinct_events": int(d), "late_rows": int(k)}
               for t, n, d, k in rows}
    total = sum(v["rows"] for v in by_type.values())
    return {"rows": total, "rows_in_period": in_period,
            "acceptances_for_joins": total - in_period,
            "distinct_events": int(iso.query(
                f"SELECT uniqExact(event_id) FROM {iso.db}.events")[0][0]),
            "late_rows": sum(v["late_rows"] for v in by_type.values()), "by_type": by_type}
