"""The audit log's hash chain (pure) and its journal file (local file only, no network)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from courierwatch.audit_chain import GENESIS_HASH, AuditRecord, seal, verify_chain
from runtime.settings import load_settings
from services.audit import log as audit_log


def _chain(n: int) -> list[AuditRecord]:
    out: list[AuditRecord] = []
    for i in range(n):
        out.append(seal(out[-1] if out else None, f"2026-11-30T09:00:0{i}.000Z", "alice",
                        "replay", {"from": f"2026-11-0{i + 1}"}, {"rows": i * 10}))
    return out


def test_record_hash_is_sha256_of_sorted_compact_json_without_hash() -> None:
    """A record's hash can be recomputed by anyone with hashlib and a JSON encoder: SHA-256
    over the record minus `hash`, keys sorted, no whitespace; inputs pinned likewise."""
    rec = _chain(1)[0]
    body = {k: v for k, v in rec.to_json().items() if k != "hash"}
    text = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    assert rec.hash == hashlib.sha256(text).hexdigest()
    assert rec.inputs_sha256 == hashlib.sha256(b'{"from":"2026-11-01"}').hexdigest()
    assert rec.prev_hash == GENESIS_HASH and rec.seq == 1


def test_intact_chain_verifies_and_reports_its_head() -> None:
    """Five sealed records verify; the head is the last record's seq and hash."""
    chain = _chain(5)
    check = verify_chain(chain)
    assert check.ok and check.records == 5
    assert (check.head_seq, check.head_hash) == (5, chain[-1].hash)


@pytest.mark.parametrize(("k", "change", "reason"), [
    pytest.param(2, {"outputs": {"rows": 999}}, "outputs", id="outputs edited"),
    pytest.param(4, {"inputs": {"from": "2026-10-01"}}, "inputs", id="inputs edited"),
    pytest.param(1, {"actor": "mallory"}, "hash", id="actor edited"),
    pytest.param(5, {"ts": "2026-11-30T10:00:00.000Z"}, "hash", id="time edited"),
])
def test_one_tampered_record_is_named_by_its_seq(k: int, change: dict[str, object],
                                                 reason: str) -> None:
    """Changing any field of record k (without re-hashing) makes verify name exactly seq k."""
    chain = _chain(6)
    chain[k - 1] = replace(chain[k - 1], **change)  # type: ignore[arg-type]
    check = verify_chain(chain)
    assert check.broken_seq == k and reason in (check.reason or "")


def test_rehashed_forgery_breaks_the_next_link() -> None:
    """Re-sealing a changed record k hides it from k's own hashes, but record k+1's
    prev_hash still names the original: verify names k+1 as the broken link."""
    chain = _chain(5)
    forged = seal(chain[1], chain[2].ts, "alice", "replay", {"from": "x"}, {"rows": 0})
    chain[2] = forged
    check = verify_chain(chain)
    assert check.broken_seq == 4 and "prev_hash" in (check.reason or "")


@pytest.mark.parametrize(("mutate", "broken"), [
    pytest.param(lambda c: c.pop(2), 3, id="record removed"),
    pytest.param(lambda c: c.insert(1, c[1]), 3, id="record duplicated"),
])
def test_missing_or_repeated_record_is_a_seq_gap(mutate: object, broken: int) -> None:
    """A deleted or repeated record shows as a seq out of sequence at its position."""
    chain = _chain(5)
    mutate(chain)  # type: ignore[operator]
    assert verify_chain(chain).broken_seq == broken


def test_journal_append_chains_and_detects_an_edited_line(tmp_path: Path) -> None:
    """Appends through the journal API form a chain that verifies; editing one line's
    outputs in the file makes verify name that line's seq in the journal."""
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path)})
    for i in range(4):
        audit_log.append("bob", "import", {"file": f"f{i}"}, {"rows": i}, settings=settings)
    path = audit_log.journal_path(tmp_path)
    journal = audit_log.read_journal(path)
    assert [r.seq for r in journal.records] == [1, 2, 3, 4]
    assert verify_chain(journal.records).ok
    lines = path.read_bytes().splitlines()
    lines[2] = lines[2].replace(b'"rows":2', b'"rows":7')
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = audit_log.verify_records([], audit_log.read_journal(path))
    assert result.journal.broken_seq == 3


def test_append_refuses_to_extend_a_journal_with_a_garbled_line(tmp_path: Path) -> None:
    """A journal whose last line is not a record is not extended (a new record would chain
    to a guess); verify names the position of the garbled line."""
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path)})
    audit_log.append("bob", "import", {}, {}, settings=settings)
    with open(audit_log.journal_path(tmp_path), "ab") as fh:
        fh.write(b"{not json\n")
    with pytest.raises(ValueError, match="damaged"):
        audit_log.append("bob", "import", {}, {}, settings=settings)
    journal = audit_log.read_journal(audit_log.journal_path(tmp_path))
    assert audit_log.verify_records([], journal).journal.broken_seq == 2


def test_catalog_change_is_recorded_once_per_distinct_catalog(tmp_path: Path) -> None:
    """A worker start records the catalog fingerprint only when it differs from the last
    recorded one: two starts with the same catalog append one record."""
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path)})
    assert audit_log.record_catalog_if_changed(settings) is True
    assert audit_log.record_catalog_if_changed(settings) is False
    recs = audit_log.read_journal(audit_log.journal_path(tmp_path)).records
    want = hashlib.sha256((Path(__file__).parents[2] / "courierwatch/data/policies.yaml")
                          .read_bytes()).hexdigest()
    assert [r.action for r in recs] == ["catalog.change"]
    assert recs[0].outputs["policies_sha256"] == want
