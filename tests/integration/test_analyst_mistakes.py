"""Every mistake an analyst can make is refused in one line with a non-zero exit (issue 23):
at the command line with the store opened directly, at the command line while `serve` runs
(the read goes through its API), and over HTTP (400 with a JSON error). Never a traceback,
never an empty answer that looks like "no data".

Broken versions seen failing: with the registry/store check of warehouse.filters removed,
the unknown company and city cases exit 0 with no rows; with `check_range` removed the
reversed and empty ranges do; with the old resolver message the ambiguity case loses 321200.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from load_tests.generator import GeneratorConfig, generate
from runtime.ports import free_port
from tests.conftest import REPO, Cli, write_jsonl

pytestmark = pytest.mark.integration

# (id, kpi arguments, API query, a pattern the one-line message must hold)
MISTAKES: list[tuple[str, list[str], dict[str, str], str]] = [
    ("unknown-company", ["--company", "XYZ"], {"company": "XYZ"}, "unknown company 'XYZ'"),
    ("unknown-city-code", ["--city", "999999"], {"city": "999999"}, "unknown city '999999'"),
    ("unknown-city-name", ["--city", "Atlantis"], {"city": "Atlantis"}, "unknown city"),
    ("ambiguous-city", ["--city", "taizhou"], {"city": "taizhou"},
     "ambiguous.*台州 331000.*|ambiguous.*泰州 321200"),
    ("reversed-range", ["--from", "2026-11-20", "--to", "2026-11-10"],
     {"from": "2026-11-20", "to": "2026-11-10"}, "reversed"),
    ("empty-range", ["--from", "2026-11-10", "--to", "2026-11-10"],
     {"from": "2026-11-10", "to": "2026-11-10"}, "empty"),
    ("unknown-kpi", ["--kpi", "on_time_rate,speed"], {"kpi": "on_time_rate,speed"},
     "unknown KPI 'speed'"),
    ("malformed-company", ["--company", "Z T O"], {"company": "Z T O"}, "not a brand code"),
]


class Served:
    def __init__(self, cli: Cli, base: str) -> None:
        self.cli, self.base = cli, base

    def get(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        url = f"{self.base}{path}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(url, timeout=120) as resp:  # noqa: S310
                return resp.status, orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, orjson.loads(exc.read())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    tmp = tmp_path_factory.mktemp("mistakes")
    cli = Cli(tmp / "cw")
    path = write_jsonl(tmp / "a.jsonl", list(generate(GeneratorConfig(count=3000, seed=5))))
    cli.run("process", "--input", str(path))
    return cli


def start_serve(cli: Cli, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`courierwatch serve` on a free port, once its API answers."""
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)],
                                env=cli.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(base + "/api/status", timeout=5):  # noqa: S310
                return proc, base
        except OSError:
            time.sleep(0.3)
    stop_serve(proc)
    raise TimeoutError(log.read_text()[-3000:])


def stop_serve(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def served(store: Cli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    proc, base = start_serve(store, tmp_path_factory.mktemp("serve") / "serve.log")
    try:
        yield Served(store, base)
    finally:
        stop_serve(proc)


def refused(cli: Cli, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "cli", *args], env=cli.env, cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0, f"accepted: {args}\n{proc.stdout[:2000]}"
    assert proc.stdout == "", proc.stdout[:2000]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize(("args", "pattern"), [pytest.param(a, p, id=i)
                                               for i, a, _, p in MISTAKES])
def test_cli_refuses_each_mistake_in_one_line(store: Cli, args: list[str],
                                              pattern: str) -> None:
    import re

    assert re.search(pattern, refused(store, "kpi", *args))


def test_cli_accepts_what_only_looks_odd(store: Cli) -> None:
    """Lower-case codes, `*` and names all answer with rows (not an error, not empty)."""
    lower = store.kpi_rows("--company", "zto", "--kpi", "volume")
    assert lower and {r["company"] for r in lower} == {"ZTO"}
    total = store.kpi_rows("--company", "*", "--kpi", "volume")
    assert total and {r["company"] for r in total} == {"*"}
    # the all-company volume of a city is the sum of its companies' volumes (3,000 events)
    by_company = store.kpi_rows("--kpi", "volume")
    assert sum(r["numerator"] for r in total if r["city"] not in ("YRD",)) == sum(
        r["numerator"] for r in by_company if r["company"] != "*" and r["city"] != "YRD")
    named = store.kpi_rows("--city", "Taizhou (Zhejiang)", "--kpi", "delay_rate")
    assert named and {r["city"] for r in named} == {"331000"}
    assert {r["kpi"] for r in named} == {"delay_rate"}


def test_week_month_and_range_rows_sum_the_events(store: Cli) -> None:
    """--by range: one row per cell for the whole range, its volume the number of distinct
    ACCEPTED events of the generated file in the city (counted here); --by week rows start
    on a Monday."""
    events = list(generate(GeneratorConfig(count=3000, seed=5)))
    accepted: dict[str, set[str]] = {}
    for e in events:
        if e["type"] == "ACCEPTED":
            accepted.setdefault(str(e["city"]), set()).add(str(e["event_id"]))
    rows = store.kpi_rows("--by", "range", "--from", "2026-10-01", "--to", "2027-01-01",
                          "--company", "*", "--kpi", "volume")
    got = {r["city"]: r["numerator"] for r in rows if r["city"] != "YRD"}
    assert set(accepted) <= set(got)
    assert got == {c: len(accepted.get(c, ())) for c in got}
    assert {r["period_start"] for r in rows} == {"2026-10-01T00:00:00+08:00"}
    weeks = store.kpi_rows("--by", "week", "--kpi", "volume", "--company", "*")
    from datetime import datetime
    assert weeks and all(datetime.fromisoformat(r["period_start"]).weekday() == 0
                         for r in weeks)


def test_other_readers_refuse_unknown_values(store: Cli) -> None:
    assert "unknown city" in refused(store, "restatements", "--city", "999999")
    assert "unknown company" in refused(store, "dead-letters", "--company", "nobody")
    assert "ambiguous" in refused(store, "policies", "list", "--city", "taizhou")


def test_replay_while_serve_runs_gives_the_quiet_replays_kpis(
        store: Cli, tmp_path: Path) -> None:
    """Issue 23, item 6: `replay` beside the live service exits 0 (the worker replays and
    hands the files over), and its kpis.json is byte-identical to a replay with nothing
    running. Seen failing before: exit 2, "a courierwatch worker ... owns ..."."""
    window = ("--from", "2026-11-01", "--to", "2026-11-04")
    store.run("replay", *window, "--out", str(tmp_path / "quiet"))
    proc, _ = start_serve(store, tmp_path / "serve.log")
    try:
        busy = store.run("replay", *window, "--out", str(tmp_path / "busy"), "--format",
                         "json")
        assert "replayed_by" in orjson.loads(busy.stdout)
        audit = store.run("audit", "verify")  # the audit log too, through the worker
        assert "ok" in audit.stdout
    finally:
        stop_serve(proc)
    quiet = (tmp_path / "quiet" / "kpis.json").read_bytes()
    assert len(orjson.loads(quiet)) > 100
    assert (tmp_path / "busy" / "kpis.json").read_bytes() == quiet
    for name in ("manifest.json", "events.csv", "report.html", "differences.json"):
        assert (tmp_path / "busy" / name).is_file()


@pytest.mark.parametrize(("args", "query", "pattern"),
                         [pytest.param(a, q, p, id=i) for i, a, q, p in MISTAKES])
def test_api_and_cli_through_it_refuse_each_mistake(served: Served, args: list[str],
                                                    query: dict[str, str],
                                                    pattern: str) -> None:
    import re

    status, body = served.get("/api/kpi", query)
    assert status == 400, body
    assert set(body) == {"error"} and re.search(pattern, body["error"]), body
    line = refused(served.cli, "kpi", *args)  # through the running service's API
    assert re.search(pattern, line), line
