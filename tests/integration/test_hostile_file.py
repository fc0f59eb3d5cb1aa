"""Done means, issue 9 item 1: a file of valid events with a few percent of hostile lines.

The figures must be exactly those of the valid events alone (independent reference), with
one dead letter per hostile line, and no personal data anywhere in the store or on the
dead-letter topic. Lines are labelled by tests/hostile.py as they are built.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import orjson
import pytest

from courierwatch.contract import ascii_digits, text_has_personal_data
from load_tests.generator import GeneratorConfig, generate
from tests.conftest import Cli
from tests.hostile import ATTACKS, VALID_ALONE, hostile
from tests.integration.compare import assert_matches_reference

pytestmark = pytest.mark.integration


def test_hostile_lines_cost_nothing_and_leave_no_personal_data(tmp_path: Path) -> None:
    """6,000 events, 4% of them replaced by hostile lines of every attack: stored figures
    equal the reference over the valid lines alone; one dead letter per hostile line, each
    with a reason, partition, offset and SHA-256; no planted personal datum appears in any
    column of any table, nor on the dead-letter topic, and nothing there trips the screen."""
    from kafka import KafkaConsumer

    from runtime.broker import embedded_broker, ensure_topics
    from runtime.settings import load_settings
    from services.pipeline import end_offsets, publish_file, start_worker, wait_until_consumed
    from warehouse.client import Warehouse

    rng = random.Random(99)
    source = list(generate(GeneratorConfig(count=6_000, seed=17)))
    kinds = [k for k in ATTACKS if k not in VALID_ALONE]  # alone, `[event]` is an array
    lines, valid, planted = [], [], []
    for e in source:
        if rng.random() < 0.04:
            h = hostile(e, rng, rng.choice(kinds))
            lines.append(h.data)
            planted += [h.pii] if h.pii else []
        else:
            lines.append(orjson.dumps(e))
            valid.append(e)
    n_hostile = len(lines) - len(valid)
    assert n_hostile > 150 and len(planted) > 20
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    data_dir = tmp_path / "cw"
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(data_dir)})
    with embedded_broker(data_dir) as bootstrap:
        ensure_topics(bootstrap, settings)
        publish_file(bootstrap, settings.scan_topic, path, settings.partitions)
        targets = end_offsets(bootstrap, settings.scan_topic, settings.partitions)
        worker = start_worker(settings, bootstrap)
        try:
            wait_until_consumed(bootstrap, settings, targets, worker, timeout_s=300)
        finally:
            worker.stop()
        consumer = KafkaConsumer(settings.dlq_topic, bootstrap_servers=bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=5_000)
        dlq = [m.value for m in consumer]
        consumer.close()
    assert len(dlq) == n_hostile
    envelopes = [orjson.loads(v) for v in dlq]
    assert all(e["reason"] and len(e["raw_sha256"]) == 64 and e["offset"] >= 0
               for e in envelopes)

    wh = Warehouse(settings.clickhouse, settings.database)
    try:
        assert wh.query(f"SELECT count() FROM {wh.db}.dead_letters")[0][0] == n_hostile
        tables = [r[0] for r in wh.query(f"SHOW TABLES FROM {wh.db}")]
        stored = []
        for t in tables:
            cols = [r[0] for r in wh.query(f"DESCRIBE TABLE {wh.db}.`{t}`")
                    if "String" in r[1]]
            if cols and not t.endswith("_mv"):
                rows = wh.query(f"SELECT {', '.join(f'toString(`{c}`)' for c in cols)} "
                                f"FROM {wh.db}.`{t}`")
                stored.append("\n".join("\t".join(r) for r in rows))
    finally:
        wh.close()
    everything = ascii_digits("\n".join(stored) + "\n" + b"\n".join(dlq).decode())
    leaked = [p for p in planted if p in everything]
    assert not leaked, leaked[:5]
    dead_text = ascii_digits(b"\n".join(dlq).decode())
    assert not text_has_personal_data(dead_text)
    assert assert_matches_reference(Cli(data_dir).kpi_rows("--by", "hour"), valid, "hour") > 500

    # What an operator reads: `courierwatch dead-letters` lists each one, with its reason
    # and where it came from, and shows no planted personal datum either.
    cli = Cli(data_dir)
    listed = orjson.loads(cli.run("dead-letters", "--format", "json").stdout)
    assert len(listed) == n_hostile
    assert {(r["partition"], r["offset"], r["msg_index"]) for r in listed} == {
        (e["partition"], e["offset"], e["msg_index"]) for e in envelopes}
    shown = ascii_digits(orjson.dumps(listed).decode())
    assert not [p for p in planted if p in shown]
    by_reason = Counter(e["reason"] for e in envelopes)
    reason, n = by_reason.most_common(1)[0]
    narrowed = orjson.loads(cli.run("dead-letters", "--reason", reason, "--format",
                                    "json").stdout)
    assert len(narrowed) == n and {r["reason"] for r in narrowed} == {reason}
