"""A source for every event (issue 23, item 5; migration 0016).

Two generated files processed one after the other (each `process` starts a fresh embedded
broker, so their Kafka offsets both start at 0) and replayed together: in events.csv no
source position stands for two events, every event of both files is there, and each row's
position names the file (by a SHA-256 computed here) and the line that holds that event.
The manifest names both files with their hashes; dead letters show their file and line.

Broken versions seen failing: without the headers of publish_file (every event's source
the broker's) the two files' positions collide (`scan.v1/0/0#0` is two events); with
`source_line` not added to msg_index the line check fails from the second message on.

The migration is tested on a database made by the previous release (MIGRATIONS[:12]), in a
child process (chDB: one store per process).
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import REPO, Cli, write_jsonl

pytestmark = pytest.mark.integration


def test_two_runs_replayed_together_never_share_a_position(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "cw")
    files = []
    for seed in (31, 32):
        events = list(generate(GeneratorConfig(count=1500, seed=seed)))
        path = write_jsonl(tmp_path / f"s{seed}.jsonl", events,
                           extra_lines=(b"not json at all",))
        cli.run("process", "--input", str(path))
        files.append(path)
    digests = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in files}
    lines = {d: p.read_bytes().split(b"\n") for d, p in digests.items()}
    out = tmp_path / "replay"
    cli.run("replay", "--from", "2026-10-01", "--to", "2027-01-01", "--out", str(out))
    with open(out / "events.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    by_position: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        by_position[r["source_position"]].add(r["event_id"])
        # the position names the file by its hash and the line holding this event
        prefix, _, line = r["source_position"].rpartition(":")
        digest = prefix.removeprefix("file:sha256:")
        assert digest in lines, r["source_position"]
        assert orjson.loads(lines[digest][int(line) - 1])["event_id"] == r["event_id"]
    assert all(len(ids) == 1 for ids in by_position.values())
    # offsets alone do collide: both runs start at offset 0 of a fresh broker
    by_offset: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for r in rows:
        by_offset[(r["partition"], r["offset"], r["msg_index"])].add(r["event_id"])
    assert any(len(ids) > 1 for ids in by_offset.values())
    expected = {orjson.loads(x)["event_id"] for p in files
                for x in p.read_bytes().splitlines() if x.startswith(b"{")}
    assert {r["event_id"] for r in rows} == expected
    manifest = json.loads((out / "manifest.json").read_text())
    assert {s["sha256"] for s in manifest["sources"]} == set(digests)
    assert sum(s["rows"] for s in manifest["sources"]) == len(rows)
    dead = orjson.loads(cli.run("dead-letters", "--format", "json").stdout)
    assert sorted(d["source_position"] for d in dead) == sorted(
        f"file:sha256:{d}:{len(ls) - 1}" for d, ls in lines.items())


MIGRATION_SCRIPT = r"""
import json, sys
import warehouse.migrations as m
from warehouse.client import connect
dsn, db = sys.argv[1], "courierwatch"
client = connect(dsn)
full = m.MIGRATIONS
m.MIGRATIONS = full[:12]                       # the previous release
m.migrate(client, db)
client.command(f"INSERT INTO {db}.events_in (raw, ts_ms, promised_ms, late, topic, partition, "
               f"offset, msg_index, ingested_ms) VALUES ('{{\"event_id\":\"old-1\",\"type\":"
               f"\"ACCEPTED\",\"city\":\"331000\",\"company\":\"ZTO\"}}', 1793000000000, NULL,"
               f" 0, 'scan.v1', 0, 0, 0, 1793000000000)")
client.command(f"INSERT INTO {db}.dead_letters (received_at, stage, reason, detail, raw, topic,"
               f" partition, offset, msg_index) VALUES (now64(3), 'decode', 'not_json', 'x', "
               f"'x', 'scan.v1', 0, 1, 0)")
m.MIGRATIONS = full
applied = m.migrate(client, db)
client.command(f"INSERT INTO {db}.events_in (raw, ts_ms, promised_ms, late, topic, partition, "
               f"offset, msg_index, ingested_ms, source, source_line) VALUES ('{{\"event_id\":"
               f"\"new-1\",\"type\":\"ACCEPTED\",\"city\":\"331000\",\"company\":\"ZTO\"}}', "
               f"1793000000000, NULL, 0, 'scan.v1', 0, 0, 0, 1793000000000, "
               f"'file:sha256:ab', 7)")
events = client.query(f"SELECT event_id, source, source_line FROM {db}.events "
                      "ORDER BY event_id").result_rows
dead = client.query(f"SELECT source, source_line FROM {db}.dead_letters").result_rows
print(json.dumps({"applied": applied, "events": [list(r) for r in events],
                  "dead": [list(r) for r in dead]}))
"""


def test_migration_0016_on_a_database_of_the_previous_release(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", MIGRATION_SCRIPT,
                           f"chdb://{tmp_path / 'ch'}"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(REPO), "PATH": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "0016_source_ids" in result["applied"]
    assert result["events"] == [["new-1", "file:sha256:ab", 7],
                                ["old-1", "before source ids", 0]]
    assert result["dead"] == [["before source ids", 0]]
