"""Replay as an auditor uses it: canonical kpis.json, a manifest that pins the input,
explained differences, a self-contained report, and a record in the audit log."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from tests.conftest import Cli, write_jsonl
from tests.integration.test_restatements import _late_acceptance
from tests.reference import period

pytestmark = pytest.mark.integration

RANGE = ("--from", "2026-11-02", "--to", "2026-11-09")


LIVE_DIFF = """
import orjson
from datetime import datetime, timezone, timedelta
from runtime.settings import load_settings
from services.audit.diff import explained_differences
from warehouse.client import Warehouse
from courierwatch.catalog import load_catalog
from courierwatch.scope import Scope
from warehouse.queries import CellFilter
s = load_settings()
wh = Warehouse(s.clickhouse, s.database)
cst = timezone(timedelta(hours=8))
flt = CellFilter("331000", "SF", datetime(2026, 11, 2, tzinfo=cst),
                 datetime(2026, 11, 3, tzinfo=cst), scope=Scope.national())
cell = ("331000", "SF", "2026-11-02 00:00:00", "volume")
out = explained_differences(wh, flt, {cell: (1.0, 0.0)}, {cell: (2.0, 0.0)},
                            "2000-01-01 00:00:00.000", load_catalog(), s.min_sample)
wh.close()
print(orjson.dumps(out["from_live"][0]["causes"]).decode())
"""


def _live_difference_causes(cli: Cli) -> list[dict[str, object]]:
    """The causes the replay would give a live cell that differs from the replayed one if
    the replay's snapshot had been taken before any event arrived (in a subprocess: one
    process at a time may open the chDB directory)."""
    from tests.conftest import REPO

    proc = subprocess.run([sys.executable, "-c", LIVE_DIFF], env=cli.env, cwd=REPO,
                          capture_output=True, text=True, timeout=300, check=True)
    return list(orjson.loads(proc.stdout.strip().splitlines()[-1]))


def _renders_and_prints_in_chromium(page: Path, tmp: Path) -> None:
    """Real headless Chromium, offline (every proxy connection refused), renders the page
    to a PNG and prints it to a multi-page PDF."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is needed (apt-get install chromium; see .ci/run)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--proxy-server=127.0.0.1:9",
             "--window-size=1000,3000"]
    png, pdf = tmp / "report.png", tmp / "report.pdf"
    for out in (f"--screenshot={png}", f"--print-to-pdf={pdf}"):
        subprocess.run([browser, *flags, out, page.as_uri()], capture_output=True,
                       timeout=120, check=True)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.read_bytes().count(b"/Type /Page") > 2


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_replay_of_a_week_for_one_city_is_reproducible_pinned_and_explained(
        tmp_path: Path) -> None:
    """Two replays of one city's week write byte-identical kpis.json, manifest.json,
    differences.json and report.html; kpis.json holds exactly the live `kpi --format json`
    rows; the manifest's counts equal the generated events of the city in the range and its
    hashes those of the files; a figure restated after publication is reported as a
    difference from the published figure caused by a restatement (and a conflicting
    re-send); a live cell differing from a replay pinned before every arrival is explained
    as late data with the count of the cell's arrivals; the report renders and prints in
    Chromium; both replays are in an audit log that verifies."""
    cli = Cli(tmp_path / "cw", COURIERWATCH_PUBLISH_INTERVAL_S="1")
    events = list(generate(GeneratorConfig(count=6000, seed=5)))
    cli.run("process", "--input", str(write_jsonl(tmp_path / "a.jsonl", events)))
    late = [_late_acceptance(i) for i in range(3)]
    # and a conflicting re-send: an archived SF acceptance of that day again, same id,
    # another tape length (its tape counts in a second bucket of the same cell). Not from the
    # file's first 500 lines: the second run's broker starts at offset 0 again, and the
    # archive key (partition, offset, index in message) of a line there could coincide.
    original = next(e for e in events[500:] if e["type"] == "ACCEPTED" and e["city"] == "331000"
                    and e["company"] == "SF" and str(e["ts"]).startswith("2026-11-02T1"))
    resend = dict(original)
    resend["packaging"] = dict(original["packaging"]) | {  # type: ignore[call-overload]
        "tape_mm": original["packaging"]["tape_mm"] + 7}  # type: ignore[index]
    cli.run("process", "--input", str(write_jsonl(tmp_path / "b.jsonl", [*late, resend])))
    events += [*late, resend]  # the archive keeps every arrival, the re-send too

    outs = [tmp_path / "r1", tmp_path / "r2"]
    for out in outs:
        cli.run("replay", "--city", "331000", *RANGE, "--out", str(out), "--format", "json")
    for name in ("kpis.json", "manifest.json", "differences.json", "report.html", "events.csv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name

    rows = orjson.loads((outs[0] / "kpis.json").read_bytes())
    live = cli.kpi_rows("--city", "331000", *RANGE)
    key = lambda r: (r["period_start"], r["city"], r["company"], r["kpi"])  # noqa: E731
    assert rows == sorted(live, key=key) and len(rows) > 50

    manifest = orjson.loads((outs[0] / "manifest.json").read_bytes())
    in_range = [e for e in events if e["city"] == "331000"
                and "2026-11-02" <= period(str(e["ts"]), "day")[:10] < "2026-11-09"]
    assert manifest["events"]["rows_in_period"] == len(in_range)
    assert sum(a["rows"] for a in manifest["archive_ranges"]) == manifest["events"]["rows"]
    assert {a["topic"] for a in manifest["archive_ranges"]} == {"scan.v1"}
    assert manifest["input_events"]["sha256"] == _sha(outs[0] / "events.csv")
    assert manifest["kpis"]["sha256"] == _sha(outs[0] / "kpis.json")
    assert manifest["report"]["sha256"] == _sha(outs[0] / "report.html")
    assert len(manifest["policy_catalog"]["policies_sha256"]) == 64

    diffs = orjson.loads((outs[0] / "differences.json").read_bytes())
    assert diffs["from_live"] == []
    restated = {(d["company"], d["kpi"]): d for d in diffs["from_published"]
                if d["period_start"] == "2026-11-02T00:00:00+08:00"}
    sf_volume = restated[("SF", "volume")]
    assert sf_volume["replayed"]["numerator"] == sf_volume["published"]["numerator"] + 3
    assert [c["cause"] for c in sf_volume["causes"]][0] == "restatement"
    conflicting = [c for c in sf_volume["causes"] if c["cause"] == "conflicting_resend"]
    assert conflicting and conflicting[0]["count"] == 1
    assert all(d["causes"] for d in diffs["from_published"])

    sf_day = [e for e in events if (e["city"], e["company"]) == ("331000", "SF")
              and period(str(e["ts"]), "day") == "2026-11-02 00:00:00"]
    late_cause = _live_difference_causes(cli)
    assert {"cause": "late_data", "count": len(sf_day)} in [
        {k: c[k] for k in ("cause", "count")} for c in late_cause]

    html = (outs[0] / "report.html").read_text("utf-8")
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<svg") >= 5 and "@media print" in html
    _renders_and_prints_in_chromium(outs[0] / "report.html", tmp_path)

    log = orjson.loads(cli.run("audit", "list", "--format", "json").stdout)
    replays = [r for r in log if r["action"] == "replay"]
    assert len(replays) == 2
    assert replays[1]["outputs"]["kpis_sha256"] == manifest["kpis"]["sha256"]
    assert orjson.loads(cli.run("audit", "verify", "--format", "json").stdout)["ok"]


BENCH_REPLAY = """
import orjson, sys
from rich.console import Console
from load_tests.bench_modes import replay
from runtime.settings import load_settings
print(orjson.dumps(replay(load_settings(), 0, Console(quiet=True), events=60_000)).decode())
"""


def test_bench_replay_mode_still_measures_the_replay(tmp_path: Path) -> None:
    """`bench --mode replay`'s code path (a small archive here) runs the new replay: it
    replays every archived event, finds no difference from live, and reports a positive
    events/s for the target check."""
    from tests.conftest import REPO

    cli = Cli(tmp_path / "cw")
    proc = subprocess.run([sys.executable, "-c", BENCH_REPLAY], env=cli.env, cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=True)
    r = orjson.loads(proc.stdout.strip().splitlines()[-1])
    assert r["replay_events"] == r["archived_events"] >= 60_000
    assert r["differences_from_live"] == 0 and r["figures"] > 0
    assert r["replay_events_per_s"] > 0 and r["targets"][0]["name"] == "replay_events_per_s"
