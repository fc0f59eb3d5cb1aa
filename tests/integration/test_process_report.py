"""`process` reports its own input, and refuses input that is mostly rejected (issue 23).

Expected counts are computed here from the generated lines (distinct ids vs lines), not
from the code under test. Broken versions seen failing: the summary before this change
(database-wide totals: `distinct_events` 2,000 on the second run where this run added 0);
`rejection_verdict` returning None (exit 0 on an all-bad file); the worker's raw log tail
(escape codes, several lines) instead of `failure_reason`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import REPO, Cli, write_jsonl

pytestmark = pytest.mark.integration


def run(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cli", *args], env=cli.env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def summary_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    return dict(orjson.loads(proc.stdout))


def test_each_run_reports_its_own_lines(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "cw")
    events = list(generate(GeneratorConfig(count=2000, seed=21, duplicate_rate=0.1)))
    distinct = len({e["event_id"] for e in events})
    assert distinct < len(events)  # the file holds duplicates of its own
    bad = [b"not json", b'{"event_id": 1}', b"\xff\xfe"]
    path = write_jsonl(tmp_path / "a.jsonl", events, extra_lines=tuple(bad))
    first = summary_of(cli.run("process", "--input", str(path), "--format", "json"))
    assert first["lines_read"] == len(events) + len(bad)
    assert first["stored"] == len(events)
    assert first["new_events"] == distinct
    assert first["duplicates"] == len(events) - distinct
    assert first["rejected"] == len(bad) and sum(first["rejected_by_reason"].values()) == 3
    # The same file again: nothing new, every stored line a duplicate, and this run's
    # rejections only (the store holds both runs' dead letters).
    second = summary_of(cli.run("process", "--input", str(path), "--format", "json"))
    assert second["new_events"] == 0
    assert second["duplicates"] == second["stored"] == len(events)
    assert second["rejected"] == len(bad)
    assert second["store"]["distinct_events"] == distinct
    # dead-letters: the same file twice gives the same source positions, so one dead
    # letter per bad line (3); the total, and the note when only a part is shown
    shown = run(cli, "dead-letters", "--limit", "2")
    assert shown.returncode == 0, shown.stderr
    assert "the newest 2 of 3" in " ".join(shown.stdout.split()), shown.stdout
    assert "--limit" in shown.stdout


def test_all_rejected_exits_non_zero_with_the_reason_and_the_import_hint(tmp_path: Path
                                                                           ) -> None:
    cli = Cli(tmp_path / "cw")
    csv = tmp_path / "orders.csv"
    csv.write_text("order_id,status,purchased\n" + "".join(
        f"o{i},delivered,2026-11-02 10:{i % 60:02d}:00\n" for i in range(40)))
    proc = run(cli, "process", "--input", str(csv), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert "every line" in line and "not_json" in line and "import FILE --mapping" in line
    summary = summary_of(proc)
    assert summary["lines_read"] == 41 and summary["rejected"] == 41
    assert summary["stored"] == 0


def test_a_stopped_worker_is_one_clean_line(tmp_path: Path) -> None:
    """The worker halts on a flood of rejections (streams.flood) after 10 events here: the
    command prints that reason alone, no escape codes, no log tail, no older lines."""
    cli = Cli(tmp_path / "cw", COURIERWATCH_DLQ_MIN_EVENTS="10")
    cli.data_dir.mkdir(parents=True)
    (cli.data_dir / "worker.log").write_text("[old] [1] [ERROR] a stale line of a past run\n")
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(f"garbage {i}\n" for i in range(3000)))
    proc = run(cli, "process", "--input", str(path))
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("courierwatch:")]
    assert len(lines) == 1, proc.stderr
    assert "\x1b" not in lines[0] and "stale" not in lines[0] and "[CRITICAL]" not in lines[0]
    assert "rejected" in lines[0] and "worker stopped" in lines[0]
