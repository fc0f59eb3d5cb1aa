"""Done means, issue 24: no single message can stop the pipeline.

- A file holding valid events and one line of each nesting depth 1..3,000 (the issue's
  form: a schema key, then an extra field of `depth` nested arrays) is processed to the
  end by `courierwatch process --input`: every nested line is a dead letter (too_deep past
  the contract's two levels), and the figures equal the reference over the valid events.
- With COURIERWATCH_FAULT_POISON naming one event, decoding raises on it: `process` exits
  0, exactly that event is a dead letter (reason crash), and the figures equal the
  reference without it.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import Cli
from tests.integration.compare import assert_matches_reference

pytestmark = pytest.mark.integration

DEPTHS = range(1, 3_001)


def nested_line(depth: int) -> bytes:
    return b'{"schema": "scan.v1", "x": ' + b"[" * depth + b"]" * depth + b"}"


def _dead_letters(data_dir: Path) -> list[tuple[Any, ...]]:
    from runtime.settings import load_settings
    from warehouse.client import Warehouse

    settings = load_settings({"COURIERWATCH_DATA_DIR": str(data_dir)})
    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        return [tuple(r) for r in wh.query(
            f"SELECT reason, raw_sha256, detail FROM {wh.db}.dead_letters")]
    finally:
        wh.close()


def test_a_line_of_every_depth_to_3000_is_a_dead_letter_and_costs_nothing(
        tmp_path: Path) -> None:
    rng = random.Random(24)
    valid = list(generate(GeneratorConfig(count=6_000, seed=24)))
    lines = [orjson.dumps(e) for e in valid] + [nested_line(d) for d in DEPTHS]
    rng.shuffle(lines)
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    cli = Cli(tmp_path / "cw")
    summary = orjson.loads(cli.run("process", "--input", str(path), "--format",
                                   "json").stdout)
    assert summary["dead_letters"] == len(DEPTHS)
    dead = _dead_letters(tmp_path / "cw")
    assert sorted(sha for _, sha, _ in dead) == sorted(
        hashlib.sha256(nested_line(d)).hexdigest() for d in DEPTHS)
    # depth 1 ({"x": []}, missing fields) is a schema error; every deeper line too_deep
    assert Counter(reason for reason, _, _ in dead) == {"too_deep": len(DEPTHS) - 1,
                                                        "schema": 1}
    assert assert_matches_reference(cli.kpi_rows("--by", "hour"), valid, "hour") > 500


def test_a_poisoned_event_is_quarantined_alone(tmp_path: Path) -> None:
    valid = list(generate(GeneratorConfig(count=5_000, seed=25)))
    victim = dict(valid[2_345])
    victim["parcel_id"] = "PX-POISON-24"
    kept = valid[:2_345] + valid[2_346:]
    lines = [orjson.dumps(e) for e in valid[:2_345]] + [orjson.dumps(victim)] + [
        orjson.dumps(e) for e in valid[2_346:]]
    path = tmp_path / "poisoned.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    cli = Cli(tmp_path / "cw", COURIERWATCH_FAULT_POISON="PX-POISON-24")
    summary = orjson.loads(cli.run("process", "--input", str(path), "--format",
                                   "json").stdout)  # exits 0, or run() raises
    assert summary["dead_letters"] == 1
    [(reason, sha, detail)] = _dead_letters(tmp_path / "cw")
    assert reason == "crash" and detail.startswith("InjectedPoison")
    assert sha == hashlib.sha256(orjson.dumps(victim)).hexdigest()
    assert assert_matches_reference(cli.kpi_rows("--by", "hour"), kept, "hour") > 500
