"""Who may see what (issue 14), against the real worker (`courierwatch serve`) on the real
embedded broker and chDB, with generated events.

Expected rows come from tests/reference.py (plain Python over the generated events),
restricted to the cities each scope covers: the API, SQL and roll-ups share no code with it.
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
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from courierwatch.scope import parse_scope
from load_tests.generator import GeneratorConfig, generate
from services.pipeline import free_port
from tests.conftest import REPO, Cli, write_jsonl
from tests.integration.compare import _relevant, pipeline_cells
from tests.reference import expected, period

pytestmark = pytest.mark.integration

TAIZHOU, WUHAN = "331000", "420100"
SCOPES = {"taizhou": "city:331000", "wuhan": "city:420100", "zhejiang": "province:33",
          "national": "national", "yrd": "province:31,province:32,province:33",
          "flood": "city:331000", "gone": "city:331000"}


def _late_acceptance(n: int, city: str) -> dict[str, object]:
    """An ACCEPTED for 10:00 CST of the first day, sent after that hour was published."""
    return {"schema": "scan.v1", "event_id": f"LATE-{city}-{n}",
            "parcel_id": f"SF8{city}{n:05d}", "company": "SF", "type": "ACCEPTED",
            "ts": "2026-11-02T10:15:00.000+08:00", "city": city, "dest_city": "310000",
            "ecommerce": True,
            "packaging": {"standard": True, "e_waybill": True, "secondary_packaging": False,
                          "recycled_bag": True, "tape_mm": 80, "degradable": False},
            "security": {"real_name": True, "inspected": True, "xray": True}}


PHONE = "13812345678"
DEAD_LINES = (
    orjson.dumps({**_late_acceptance(7, TAIZHOU), "event_id": "DEAD-TZ", "remark": PHONE}),
    orjson.dumps({**_late_acceptance(8, WUHAN), "event_id": "DEAD-WH", "type": "TELEPORTED"}),
    b"this line is not json",
)


class Api:
    def __init__(self, base: str) -> None:
        self.base = base

    def get(self, path: str, token: str | None = None, headers: dict[str, str] | None = None,
            **params: str) -> tuple[int, Any, dict[str, str]]:
        url = self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")
        req = urllib.request.Request(url, headers=headers or {})
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310
                body = resp.read()
                status, hdrs = resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            body, status, hdrs = exc.read(), exc.code, dict(exc.headers)
        try:
            return status, orjson.loads(body), hdrs
        except orjson.JSONDecodeError:
            return status, body.decode(errors="replace"), hdrs

    def rows(self, path: str, token: str, **params: str) -> list[dict[str, Any]]:
        status, body, _ = self.get(path, token, **params)
        assert status == 200, (status, body)
        return list(body["rows"])


class Deployment:
    def __init__(self, cli: Cli, api: Api, events: list[dict[str, Any]],
                 tokens: dict[str, str], local_mode_status: int) -> None:
        self.cli, self.api, self.events, self.tokens = cli, api, events, tokens
        self.local_mode_status = local_mode_status


def _wait(api: Api, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if api.get("/api/status")[0] in (200, 401):
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(log.read_text()[-3000:])


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Generated events processed into chDB, late acceptances for published hours of
    Taizhou and Wuhan (restatements), then `serve` with tokens created while it runs."""
    tmp = tmp_path_factory.mktemp("access")
    # Lateness of 60 days: the generated complaints run weeks past the first day, and the
    # late acceptances below must count (restated), not only be archived.
    cli = Cli(tmp / "cw", COURIERWATCH_PUBLISH_INTERVAL_S="1", COURIERWATCH_API_RATE="5",
              COURIERWATCH_ALLOWED_LATENESS_S=str(60 * 86400),
              COURIERWATCH_API_BURST="200")
    events = list(generate(GeneratorConfig(count=8000, seed=14)))
    cli.run("process", "--input", str(write_jsonl(tmp / "a.jsonl", events)))
    late = [_late_acceptance(i, c) for c in (TAIZHOU, WUHAN) for i in range(2)]
    # The first late acceptance of each city re-sent with another site: a conflicting
    # re-send (GET /api/conflicts) that changes no figure.
    resent = [{**_late_acceptance(0, c), "site_id": "S-RESENT"} for c in (TAIZHOU, WUHAN)]
    # Dead letters of two cities and one that names none (GET /api/dead-letters); the
    # phone number must never be shown to anyone.
    cli.run("process", "--input", str(write_jsonl(tmp / "b.jsonl", late + resent,
                                                  extra_lines=DEAD_LINES)))
    port = free_port()
    log = tmp / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port",
                                 str(port)], env=cli.env, cwd=REPO, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    api = Api(f"http://127.0.0.1:{port}")
    try:
        _wait(api, proc, log)
        local_status = api.get("/api/status")[0]  # no token exists yet: local mode
        tokens = {name: orjson.loads(cli.run("tokens", "add", "--name", name, "--scope", scope,
                                             "--format", "json").stdout)["token"]
                  for name, scope in SCOPES.items()}
        cli.run("tokens", "revoke", "gone")
        yield Deployment(cli, api, events + late, tokens, local_status)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _want(events: list[dict[str, Any]], scope: str, by: str = "day") -> dict[Any, Any]:
    s = parse_scope(scope)
    return {k: v for k, v in _relevant(expected(events, by)).items() if s.covers(k[0])}


@pytest.mark.parametrize("name", ["taizhou", "wuhan", "zhejiang", "national"])
def test_each_scope_gets_exactly_its_cities_figures(deployment: Deployment, name: str) -> None:
    """/api/kpi with a token answers, cell by cell, the reference figures of exactly the
    cities of the token's scope (nothing missing, nothing extra)."""
    rows = deployment.api.rows("/api/kpi", deployment.tokens[name], by="day")
    got = _relevant(pipeline_cells(rows))
    want = _want(deployment.events, SCOPES[name])
    assert got == want
    assert len(want) > 100
    cities = {k[0] for k in want}
    scope = parse_scope(SCOPES[name])
    assert cities == {c for c in {e["city"] for e in deployment.events} if scope.covers(c)} | (
        {"YRD"} if scope.covers("YRD") else set())


def test_a_city_outside_the_scope_is_403_whether_or_not_it_has_data(
        deployment: Deployment) -> None:
    """Taizhou's token asking for Wuhan (has data) and for Beijing (has none) gets the same
    403 on every endpoint that takes a city; Wuhan's token likewise for Taizhou."""
    api, tz = deployment.api, deployment.tokens["taizhou"]
    answers = set()
    for path in ("/api/kpi", "/api/restatements", "/api/probe"):
        for city in (WUHAN, "110000", "YRD"):
            status, body, _ = api.get(path, tz, city=city, prefix="M")
            assert status == 403
            answers.add(orjson.dumps(body))
    assert len(answers) == 1
    assert api.get("/api/kpi", deployment.tokens["wuhan"], city=TAIZHOU)[0] == 403
    assert api.get("/api/kpi", deployment.tokens["zhejiang"], city="320100")[0] == 403
    assert api.get("/api/kpi", deployment.tokens["zhejiang"], city="330100")[0] == 200


def test_restatements_are_scoped(deployment: Deployment) -> None:
    """The late acceptances restated Taizhou's and Wuhan's 10:00 hour: each city's token sees
    its own restatement (old + 2 accepted) and no other city's; national sees both."""
    api, t = deployment.api, deployment.tokens
    before = Counter(e["city"] for e in deployment.events if e["type"] == "ACCEPTED"
                     and e["company"] == "SF" and not str(e["event_id"]).startswith("LATE")
                     and period(e["ts"], "hour") == "2026-11-02 10:00:00")
    for name, city in (("taizhou", TAIZHOU), ("wuhan", WUHAN)):
        rows = api.rows("/api/restatements", t[name])
        assert rows and {r["city"] for r in rows} == {city}
        hour = [r for r in rows if r["kpi"] == "volume" and r["company"] == "SF"
                and r["period"] == "hour"]
        assert [(r["old_numerator"], r["new_numerator"]) for r in hour] == [
            (before[city], before[city] + 2)]
    assert {r["city"] for r in api.rows("/api/restatements", t["national"])} >= {TAIZHOU, WUHAN}
    assert {r["city"] for r in api.rows("/api/restatements", t["zhejiang"])} == {TAIZHOU}


def test_the_yrd_region_only_for_a_scope_covering_all_its_cities(
        deployment: Deployment) -> None:
    """YRD rows (sums over Shanghai, Jiangsu, Zhejiang) reach national and a 31+32+33 scope,
    equal to the reference sums; Zhejiang's token gets none and a 403 when asking."""
    api, t = deployment.api, deployment.tokens
    want = Counter(e["city"][:2] in ("31", "32", "33") for e in deployment.events
                   if e["type"] == "ACCEPTED")[True]
    for name in ("national", "yrd"):
        rows = api.rows("/api/kpi", t[name], city="YRD")
        vol = sum(r["numerator"] for r in rows if r["kpi"] == "volume" and r["company"] == "*")
        assert vol == want
    assert not [r for r in api.rows("/api/kpi", t["zhejiang"]) if r["city"] == "YRD"]
    assert api.get("/api/kpi", t["zhejiang"], city="YRD")[0] == 403


def test_missing_wrong_and_revoked_tokens_are_401(deployment: Deployment) -> None:
    """Before any token existed, loopback was the local single-user mode (200); now every
    request needs a valid token, loopback included; a proxied request never counts as local."""
    api = deployment.api
    assert deployment.local_mode_status == 200
    for token in (None, deployment.tokens["gone"], "x" * 43, ""):
        status, _, headers = api.get("/api/kpi", token)
        assert status == 401 and headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert api.get("/api/status", headers={"Authorization": "Basic YTpi"})[0] == 401
    assert api.get("/metrics")[0] == 401
    assert api.get("/")[0] == 200  # the page itself holds no figures


@pytest.mark.parametrize("params", [
    {"city": "331000' OR 1=1 --"}, {"city": "331000) OR (1"}, {"company": "SF' OR '1'='1"},
    {"company": "sf;DROP TABLE x"}, {"from": "2026-11-02' OR 1=1"},
    {"to": "now()"}, {"from": "2026-11-03", "to": "2026-11-02"}, {"by": "hour' --"},
    {"from": "2020-01-01", "to": "2026-01-01"}, {"city": "3" * 5000},
])
def test_hostile_values_are_rejected_before_sql(deployment: Deployment,
                                                params: dict[str, str]) -> None:
    """A hostile city, company or time is refused (400, or 414 for an oversized query) for
    every token, national included: the value is checked, never pasted into SQL."""
    status, body, _ = deployment.api.get("/api/kpi", deployment.tokens["national"], **params)
    assert status in (400, 414), (status, body)
    assert "error" in body


def test_status_and_metrics_below_national(deployment: Deployment) -> None:
    """Whole-stream counters and per-city metric labels are national-only."""
    api, t = deployment.api, deployment.tokens
    full = api.get("/api/status", t["national"])[1]
    assert {"archived", "late", "dead_lettered", "watermark_ms"} <= set(full)
    city = api.get("/api/status", t["taizhou"])[1]
    assert city == {"watermark_ms": full["watermark_ms"]}
    status, text, _ = api.get("/metrics", t["taizhou"])
    assert status == 200 and "courierwatch_events_total" in text and 'city="' not in text


def test_the_cli_reads_through_the_api_with_its_token(deployment: Deployment) -> None:
    """`kpi` sends COURIERWATCH_TOKEN: Taizhou's officer gets Taizhou's reference figures
    only, and a refusal (non-zero exit, 403 named) for Wuhan; without a token, 401."""
    cli = deployment.cli
    env = cli.env | {"COURIERWATCH_TOKEN": deployment.tokens["taizhou"]}
    out = subprocess.run([sys.executable, "-m", "cli", "kpi", "--format", "json"],
                         env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert _relevant(pipeline_cells(orjson.loads(out.stdout))) == _want(deployment.events,
                                                                        "city:331000")
    refused = subprocess.run([sys.executable, "-m", "cli", "kpi", "--city", "武汉"],
                             env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "403" in refused.stderr
    anonymous = subprocess.run([sys.executable, "-m", "cli", "restatements"],
                               env=cli.env, cwd=REPO, capture_output=True, text=True,
                               timeout=300)
    assert anonymous.returncode != 0 and "401" in anonymous.stderr


def test_requests_beyond_the_rate_get_429(deployment: Deployment) -> None:
    """One token past its burst (200) at 5 requests/s gets 429 with Retry-After; another
    token is unaffected."""
    api, t = deployment.api, deployment.tokens
    statuses = Counter()
    retry = None
    for _ in range(260):
        status, _, headers = api.get("/api/status", t["flood"])
        statuses[status] += 1
        retry = headers.get("Retry-After", retry)
    assert statuses[429] >= 260 - 200 - 30 and statuses[200] >= 200 and retry
    assert api.get("/api/status", t["national"])[0] == 200


def test_serve_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    """`serve --host 0.0.0.0` with no token in the data directory exits with a message
    naming `tokens add`, before starting anything."""
    cli = Cli(tmp_path / "fresh")
    out = subprocess.run([sys.executable, "-m", "cli", "serve", "--host", "0.0.0.0",
                          "--port", str(free_port())], env=cli.env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "tokens add" in out.stderr


def test_conflicts_are_scoped(deployment: Deployment) -> None:
    """Each city's conflicting re-send (two versions of one event id) is listed for that
    city's token only; national sees both ids."""
    api, t = deployment.api, deployment.tokens
    ids = {name: {r["event_id"] for r in api.rows("/api/conflicts", t[name])}
           for name in ("taizhou", "wuhan", "national", "zhejiang")}
    assert ids["taizhou"] == ids["zhejiang"] == {f"LATE-{TAIZHOU}-0"}
    assert ids["wuhan"] == {f"LATE-{WUHAN}-0"}
    assert ids["national"] == ids["taizhou"] | ids["wuhan"]
    assert len(api.rows("/api/conflicts", t["taizhou"])) == 2  # both versions


def test_dead_letters_are_scoped_by_the_city_their_copy_names(deployment: Deployment) -> None:
    """GET /api/dead-letters: each city's token sees its own city's dead letter, the
    province its city's, national all three (the line that is not JSON names no city:
    national only); no response shows the rejected phone number."""
    api, t = deployment.api, deployment.tokens
    seen = {name: api.rows("/api/dead-letters", t[name])
            for name in ("taizhou", "wuhan", "zhejiang", "national")}
    cities = {name: sorted(str(r["city"]) for r in rows) for name, rows in seen.items()}
    assert cities == {"taizhou": [TAIZHOU], "wuhan": [WUHAN], "zhejiang": [TAIZHOU],
                      "national": sorted(["", TAIZHOU, WUHAN])}
    assert {r["reason"] for r in seen["national"]} >= {"not_json", "pii"}
    assert all(PHONE not in orjson.dumps(rows).decode() for rows in seen.values())
    assert api.get("/api/dead-letters", t["taizhou"], city=WUHAN)[0] == 403


def test_audit_log_is_national_and_records_every_token_change(
        deployment: Deployment) -> None:
    """GET /api/audit: 403 below national; the national view holds one tokens.add per token
    created (name, scope, the stored hash) and the revocation, never a token."""
    api, t = deployment.api, deployment.tokens
    assert api.get("/api/audit", t["taizhou"])[0] == 403
    status, body, _ = api.get("/api/audit", t["national"])
    assert status == 200
    records = [r for r in body["records"] if r["action"].startswith("tokens.")]
    added = {r["inputs"]["name"]: r["inputs"]["scope"] for r in records
             if r["action"] == "tokens.add"}
    assert added == {n: str(parse_scope(s)) for n, s in SCOPES.items()}
    assert [r["inputs"]["name"] for r in records if r["action"] == "tokens.revoke"] == ["gone"]
    text = orjson.dumps(body).decode()
    assert not any(token in text for token in t.values())


def test_breach_board_and_its_latest_event_are_scoped(deployment: Deployment) -> None:
    """GET /api/board (the dashboard's board and overview) holds cells of the token's cities
    only: Taizhou's token sees Taizhou alone, its volume the ACCEPTED counted from the
    events; Wuhan is 403 for it; the "data up to" time is the latest event of the scope's
    own cities, never a later one elsewhere."""
    api, t = deployment.api, deployment.tokens
    status, body, _ = api.get("/api/board", t["taizhou"])
    assert status == 200
    assert {c["city"] for c in body["cells"]} == {TAIZHOU}
    assert {c["city"] for c in body["cities"]} == {TAIZHOU}
    volume = next(c for c in body["cells"] if c["company"] == "*" and c["kpi"] == "volume")
    accepted = {e["event_id"] for e in deployment.events
                if e["city"] == TAIZHOU and e["type"] == "ACCEPTED"}
    assert volume["value"] == len(accepted)
    assert api.get("/api/board", t["taizhou"], city=WUHAN)[0] == 403
    for name, city in (("taizhou", TAIZHOU), ("wuhan", WUHAN)):
        latest = max(datetime.fromisoformat(str(e["ts"])) for e in deployment.events
                     if e["city"] == city)
        status, body, _ = api.get("/api/board", t[name], latest="1")
        assert status == 200
        assert body["data_up_to_ms"] == int(latest.timestamp() * 1000)
