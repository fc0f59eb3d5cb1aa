"""The audit log's hash chain: sealing a record and checking a sequence of them. Pure.

A record says who (`actor`: the OS user, or an API token's name) did what (`action`, e.g.
`replay`, `import`, `catalog.loaded`, `provision.grafana`, `tokens.add`) when (`ts`, UTC,
milliseconds), on which inputs and with which outputs (JSON objects; each is also pinned by
the SHA-256 of its canonical form). Each record carries the hash of the one before
(`prev_hash`; the first carries 64 zeros) and its own `hash`: SHA-256 over its canonical
JSON without `hash`. Canonical JSON is orjson with sorted keys, no whitespace.

So changing any byte of record k breaks record k (its hash no longer matches its content);
recomputing k's hash to hide that breaks record k+1 (its prev_hash no longer matches), as in
a transparency log. A chain alone cannot reveal that its tail was cut off: `verify` returns
the head (last seq and hash) for the operator to pin outside the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

GENESIS_HASH = "0" * 64


def canonical_json(value: object) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the bytes every hash here is taken over."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One sealed entry of the log. `inputs`/`outputs` are JSON objects."""

    seq: int
    ts: str
    actor: str
    action: str
    inputs: Mapping[str, Any]
    inputs_sha256: str
    outputs: Mapping[str, Any]
    outputs_sha256: str
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """Every field but `hash`: what `hash` is computed over."""
        return {"seq": self.seq, "ts": self.ts, "actor": self.actor, "action": self.action,
                "inputs": dict(self.inputs), "inputs_sha256": self.inputs_sha256,
                "outputs": dict(self.outputs), "outputs_sha256": self.outputs_sha256,
                "prev_hash": self.prev_hash}

    def to_json(self) -> dict[str, Any]:
        return self.body() | {"hash": self.hash}

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> AuditRecord:
        """Parse a stored record as it is, without checking it (that is `verify_chain`'s job).

        Raises ValueError for a missing field or a field of the wrong type."""
        try:
            rec = AuditRecord(
                seq=int(raw["seq"]), ts=str(raw["ts"]), actor=str(raw["actor"]),
                action=str(raw["action"]), inputs=dict(raw["inputs"]),
                inputs_sha256=str(raw["inputs_sha256"]), outputs=dict(raw["outputs"]),
                outputs_sha256=str(raw["outputs_sha256"]), prev_hash=str(raw["prev_hash"]),
                hash=str(raw["hash"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"audit record malformed: {exc!r}") from exc
        return rec


def seal(prev: AuditRecord | None, ts: str, actor: str, action: str,
         inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> AuditRecord:
    """The record that follows `prev` (None: the first record, seq 1)."""
    draft = AuditRecord(
        seq=1 if prev is None else prev.seq + 1, ts=ts, actor=actor, action=action,
        inputs=dict(inputs), inputs_sha256=sha256_hex(canonical_json(dict(inputs))),
        outputs=dict(outputs), outputs_sha256=sha256_hex(canonical_json(dict(outputs))),
        prev_hash=GENESIS_HASH if prev is None else prev.hash, hash="")
    return AuditRecord(**(draft.body() | {"hash": sha256_hex(canonical_json(draft.body()))}))


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The outcome of `verify_chain`: ok, or the first broken record and why."""

    records: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


def _fault(rec: AuditRecord, expected_seq: int, prev_hash: str) -> str | None:
    if rec.seq != expected_seq:
        return f"seq {rec.seq} where {expected_seq} was expected (a record missing or inserted)"
    if rec.prev_hash != prev_hash:
        return "prev_hash does not match the hash of the record before"
    if rec.inputs_sha256 != sha256_hex(canonical_json(dict(rec.inputs))):
        return "inputs do not match inputs_sha256"
    if rec.outputs_sha256 != sha256_hex(canonical_json(dict(rec.outputs))):
        return "outputs do not match outputs_sha256"
    if rec.hash != sha256_hex(canonical_json(rec.body())):
        return "hash does not match the record's content"
    return None


def verify_chain(records: Iterable[AuditRecord]) -> ChainCheck:
    """Check seq continuity (1, 2, ...), each prev_hash link, both content hashes and each
    record's own hash, in order; stop at the first fault and name its seq.

    The broken seq is the record's position (expected seq) when its own seq is wrong."""
    prev_hash, n = GENESIS_HASH, 0
    for rec in records:
        fault = _fault(rec, n + 1, prev_hash)
        if fault:
            return ChainCheck(n, n, prev_hash, broken_seq=n + 1, reason=fault)
        prev_hash, n = rec.hash, n + 1
    return ChainCheck(n, n, prev_hash)
