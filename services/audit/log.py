"""The audit log: append-only, hash-chained (courierwatch.audit_chain), kept in ClickHouse.

API for every command that must leave a trace (replay, import, catalog changes, Grafana
provisioning, token changes):

    from services.audit import log as audit_log
    audit_log.append(audit_log.current_actor(), "tokens.add", {"name": n, "scope": s},
                     {"token_sha256": ...}, settings=settings)

Design (embedded mode: one process at a time may own chDB):
- The journal `<data dir>/audit/audit.jsonl` is where records are appended: one canonical
  JSON record per line, written and fsynced under an exclusive `flock` on
  `<data dir>/audit/audit.lock`, which also serialises reading the last record (for seq and
  prev_hash). So appends from any process on the machine (a CLI command while a demo
  runs, the worker, tests) form one chain, and no append needs ClickHouse, which the
  appender may not be allowed to open.
- The `audit_log` table in ClickHouse holds the same records: `sync` copies the journal's
  records beyond the table's last seq into it (under the same lock, so two syncs cannot
  duplicate). Whoever has the store open syncs: `append(..., wh=...)` at once, the worker
  when it starts and on every `GET /api/audit`, `audit list|verify|export` before reading.
- `verify` checks the chain as ClickHouse holds it and as the journal holds it, and that
  the two agree record by record, naming the first broken seq of each.
At scale (ClickHouse server, several hosts) the lock is per host: run the commands that
append (replay, import, provision, tokens) from one administrative host, or two chains fork
(which `verify` reports as a duplicate seq).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from courierwatch import __version__
from courierwatch.audit_chain import AuditRecord, ChainCheck, canonical_json, seal, verify_chain
from runtime.settings import Settings, load_settings
from warehouse.audit_schema import AUDIT_COLUMN_NAMES
from warehouse.client import Warehouse
from warehouse.scoping import system_read

CATALOG_ACTION = "catalog.change"


def journal_path(data_dir: Path) -> Path:
    return data_dir / "audit" / "audit.jsonl"


@contextlib.contextmanager
def _locked(data_dir: Path) -> Iterator[Path]:
    """Hold the journal's exclusive lock (blocks until free); yield the journal's path."""
    path = journal_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / "audit.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def current_actor(token_name: str | None = None) -> str:
    """`token:<name>` for a request made with an API token, else the OS user running us."""
    if token_name:
        return f"token:{token_name}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def file_digest(path: Path) -> dict[str, Any]:
    """{"path", "bytes", "sha256"} of a file, read in 1 MiB blocks."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return {"path": str(path), "bytes": size, "sha256": h.hexdigest()}


@dataclass(frozen=True, slots=True)
class Journal:
    """The journal's records up to the first line that is not a record."""

    records: list[AuditRecord]
    bad_line: int | None = None  # 1-based line number of the first unparsable line
    bad_reason: str | None = None


def read_journal(path: Path) -> Journal:
    if not path.exists():
        return Journal([])
    records: list[AuditRecord] = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append(AuditRecord.from_json(orjson.loads(line)))
            except (orjson.JSONDecodeError, ValueError) as exc:
                return Journal(records, n, f"line {n} is not a record: {exc}")
    return Journal(records)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def append(actor: str, action: str, inputs: Mapping[str, Any], outputs: Mapping[str, Any], *,
           settings: Settings | None = None, wh: Warehouse | None = None) -> AuditRecord:
    """Seal and append one record to the journal (fsynced), return it.

    `wh`: a Warehouse this process holds; the record is then copied to ClickHouse at once.
    Without it the record reaches ClickHouse at the next `sync` (see the module docstring).
    Raises ValueError when the journal's last line is not a record (refuses to extend a
    damaged chain) and TypeError when inputs/outputs are not JSON-serialisable."""
    settings = settings or load_settings()
    with _locked(settings.data_dir) as path:
        journal = read_journal(path)
        if journal.bad_line is not None:
            raise ValueError(f"audit journal {path} is damaged ({journal.bad_reason}); "
                             "run `courierwatch audit verify`")
        prev = journal.records[-1] if journal.records else None
        rec = seal(prev, _now(), actor, action, inputs, outputs)
        with open(path, "ab") as fh:
            fh.write(canonical_json(rec.to_json()) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
    if wh is not None:
        sync(wh, settings.data_dir)
    return rec


def store_copy(settings: Settings) -> list[dict[str, Any]]:
    """The ClickHouse copy, synced with the journal first: through the live worker's API
    (`GET /api/audit`) when one owns the data directory, else by opening the store."""
    from services.owner import get_json, running_api

    base = running_api(settings.data_dir)
    if base:
        return list(get_json(base, "/api/audit", token=settings.api_token)["records"])
    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        sync(wh, settings.data_dir)
        return store_records(wh)
    finally:
        wh.close()


def _row(rec: AuditRecord) -> list[Any]:
    j = rec.to_json()
    return [canonical_json(j[n]).decode() if n in ("inputs", "outputs") else j[n]
            for n in AUDIT_COLUMN_NAMES]


@system_read("the audit log: served only to the national scope (services.api.audit)")
def store_records(wh: Warehouse) -> list[dict[str, Any]]:
    """The `audit_log` rows in seq order, as JSON records (inputs/outputs parsed)."""
    cols = ", ".join(AUDIT_COLUMN_NAMES)
    rows = wh.query(f"SELECT {cols} FROM {wh.db}.audit_log ORDER BY seq, hash")
    out = []
    for r in rows:
        d = dict(zip(AUDIT_COLUMN_NAMES, r, strict=True))
        d["inputs"], d["outputs"] = orjson.loads(d["inputs"]), orjson.loads(d["outputs"])
        out.append(d)
    return out


@system_read("copies the journal into audit_log; reads only the highest seq stored")
def sync(wh: Warehouse, data_dir: Path) -> int:
    """Copy the journal's records beyond the table's highest seq into `audit_log`; return how
    many. Holds the journal lock, so concurrent syncs cannot insert a record twice."""
    with _locked(data_dir) as path:
        top = int(wh.query(f"SELECT max(seq) FROM {wh.db}.audit_log")[0][0] or 0)
        new = [r for r in read_journal(path).records if r.seq > top]
        if new:
            columns = [list(c) for c in zip(*(_row(r) for r in new), strict=True)]
            wh.insert("audit_log", columns, AUDIT_COLUMN_NAMES)
    return len(new)


@dataclass(frozen=True, slots=True)
class Verification:
    """`audit verify`: the chain in ClickHouse, in the journal, and where they disagree."""

    store: ChainCheck
    journal: ChainCheck
    disagreement_seq: int | None

    @property
    def ok(self) -> bool:
        return self.store.ok and self.journal.ok and self.disagreement_seq is None

    def to_json(self) -> dict[str, Any]:
        def check(c: ChainCheck) -> dict[str, Any]:
            return {"ok": c.ok, "records": c.records, "head_seq": c.head_seq,
                    "head_hash": c.head_hash, "broken_seq": c.broken_seq, "reason": c.reason}
        return {"ok": self.ok, "clickhouse": check(self.store), "journal": check(self.journal),
                "disagreement_seq": self.disagreement_seq}


def verify_records(store_rows: list[dict[str, Any]], journal: Journal) -> Verification:
    """Check both copies; `disagreement_seq` is the first seq whose record (any field)
    differs between them, or the first seq only one of them holds."""
    store: list[AuditRecord] = []
    store_check: ChainCheck | None = None
    for i, raw in enumerate(store_rows):
        try:
            store.append(AuditRecord.from_json(raw))
        except ValueError as exc:
            partial = verify_chain(store)
            store_check = partial if not partial.ok else ChainCheck(
                i, i, partial.head_hash, broken_seq=i + 1, reason=str(exc))
            break
    store_check = store_check or verify_chain(store)
    jcheck = verify_chain(journal.records)
    if jcheck.ok and journal.bad_line is not None:
        n = len(journal.records)
        jcheck = ChainCheck(n, n, jcheck.head_hash, broken_seq=n + 1, reason=journal.bad_reason)
    by_seq = {r.seq: canonical_json(r.to_json()) for r in journal.records}
    stored = {r.seq: canonical_json(r.to_json()) for r in store}
    differ = sorted(s for s in set(by_seq) | set(stored) if by_seq.get(s) != stored.get(s))
    return Verification(store_check, jcheck, differ[0] if differ else None)


def catalog_fingerprint() -> dict[str, Any]:
    """What identifies the policy catalog a process runs with: the SHA-256 of each data file
    it reads (policies, route classes, company lists: courierwatch/data/*.yaml), one SHA-256
    over all of them (`catalog_sha256`), and the code version."""
    data = resources.files("courierwatch").joinpath("data")
    files = {f.name: hashlib.sha256(f.read_bytes()).hexdigest()
             for f in sorted(data.iterdir(), key=lambda f: f.name) if f.name.endswith(".yaml")}
    combined = hashlib.sha256("".join(f"{n} {h}\n" for n, h in files.items()).encode())
    return {"policies_sha256": files.get("policies.yaml"),
            "route_classes_sha256": files.get("route_classes.yaml"),
            "files": files, "catalog_sha256": combined.hexdigest(), "code_version": __version__}


def record_catalog_if_changed(settings: Settings, wh: Warehouse | None = None) -> bool:
    """Append a `catalog.change` record when the catalog differs from the one last recorded
    (or none was): called by every worker at start. Returns whether it appended."""
    fp = catalog_fingerprint()
    last = next((r for r in reversed(read_journal(journal_path(settings.data_dir)).records)
                 if r.action == CATALOG_ACTION), None)
    if last is not None and dict(last.outputs) == fp:
        return False
    append(current_actor(), CATALOG_ACTION,
           {"previous": dict(last.outputs) if last else None}, fp, settings=settings, wh=wh)
    return True
