"""The synthetic scan.v1 generator (load_tests/): exact, deterministic, valid and realistic."""

from __future__ import annotations

import hashlib
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from courierwatch.contract import decode_message, has_personal_data
from courierwatch.routes import load_route_table
from load_tests.generator import (
    DEFAULT_COMPANIES,
    DEFAULT_START,
    GeneratorConfig,
    Incident,
    generate,
    generate_batches,
    parse_incident,
    write_jsonl,
)
from load_tests.rows import format_ts

CST = timezone(timedelta(hours=8))
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+08:00$")
PARCEL_RE = re.compile("^(?:" + "|".join(DEFAULT_COMPANIES) + r")\d{12}$")
ALL_TYPES = {"ACCEPTED", "ARRIVED", "DEPARTED", "OUT_FOR_DELIVERY", "DELIVERED", "EXCEPTION",
             "COMPLAINT"}
Event = dict[str, Any]

MESSY = GeneratorConfig(
    count=20_000, seed=11, duplicate_rate=0.05, disorder_s=1800.0,
    incidents=(parse_incident("delay:310000:ZTO:2026-11-02T06:00:00+08:00:12:30"),
               parse_incident("locker_outage:*:*:2026-11-02T12:00:00+08:00:24:5")))


def ms(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


def digest(config: GeneratorConfig) -> str:
    h = hashlib.sha256()
    for batch in generate_batches(config):
        h.update(batch)
    return h.hexdigest()


def rejections(events: list[Event], now: datetime = FAR_FUTURE) -> list[Any]:
    out = []
    for i in range(0, len(events), 500):
        good, bad = decode_message(orjson.dumps(events[i:i + 500]), now)
        assert len(good) + len(bad) == len(events[i:i + 500])
        out.extend(bad)
    return out


@pytest.fixture(scope="module")
def plain() -> list[Event]:
    return list(generate(GeneratorConfig(count=20_000, seed=7)))


@pytest.fixture(scope="module")
def messy() -> list[Event]:
    return list(generate(MESSY))


# --- determinism and count -------------------------------------------------------------------

@pytest.mark.parametrize("config", [
    pytest.param(GeneratorConfig(count=3_000, seed=1), id="plain"),
    pytest.param(GeneratorConfig(count=3_000, seed=2, duplicate_rate=0.2, disorder_s=600,
                                 incidents=MESSY.incidents), id="messy"),
    pytest.param(GeneratorConfig(count=3_000, seed=3, realtime=True,
                                 start=datetime(2026, 11, 22, 9, tzinfo=CST)), id="realtime"),
])
def test_same_config_gives_byte_identical_output(config: GeneratorConfig) -> None:
    """Same config => the same bytes; another seed => a different stream."""
    assert digest(config) == digest(config)
    assert digest(replace(config, seed=config.seed + 100)) != digest(config)


def test_output_does_not_depend_on_the_process() -> None:
    """Nothing (hash seed, global RNG, clock) outside the config changes the stream."""
    config = GeneratorConfig(count=2_000, seed=9, duplicate_rate=0.1, disorder_s=60)
    random.seed(12345)  # the global RNG must not matter either
    code = ("from load_tests.generator import GeneratorConfig, generate_batches; import hashlib;"
            "h = hashlib.sha256(); [h.update(b) for b in generate_batches(GeneratorConfig("
            "count=2000, seed=9, duplicate_rate=0.1, disorder_s=60))]; print(h.hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == digest(config)


@pytest.mark.parametrize("count", [0, 1, 2, 7, 499, 5_000])
@pytest.mark.parametrize("extra", [
    pytest.param({}, id="plain"),
    pytest.param({"duplicate_rate": 0.3, "disorder_s": 7200.0}, id="dups+disorder"),
    pytest.param({"realtime": True}, id="realtime"),
    pytest.param({"span_hours": 0.01}, id="short-span"),
])
def test_exactly_count_events(count: int, extra: dict[str, Any]) -> None:
    """`count` events are emitted, duplicates included, whatever else is configured."""
    assert sum(1 for _ in generate(GeneratorConfig(count=count, **extra))) == count


# --- contract and personal data --------------------------------------------------------------

def test_every_event_is_valid_under_the_contract(plain: list[Event],
                                                 messy: list[Event]) -> None:
    """decode_message accepts every event of plain and messy streams (no rejections)."""
    assert rejections(plain) == []
    assert rejections(messy) == []


def test_realtime_stream_is_valid_now_and_ends_near_start() -> None:
    """realtime: acceptances begin span_hours before `start` ("now"), the stream ends within
    a few hours of it, and no event is too far in the future for the contract at `start`."""
    start = datetime(2026, 11, 22, 14, 30, tzinfo=CST)
    events = list(generate(GeneratorConfig(count=10_000, realtime=True, start=start)))
    accepted = [ms(e["ts"]) for e in events if e["type"] == "ACCEPTED"]
    assert min(accepted) >= ms((start - timedelta(hours=24)).isoformat())
    assert abs(ms(events[-1]["ts"]) - ms(start.isoformat())) < 6 * 3_600_000
    assert rejections(events, now=start) == []


def test_no_personal_data_and_realistic_ids(messy: list[Event]) -> None:
    """No event looks like it carries a phone or ID-card number; ids follow their formats."""
    for i in range(0, len(messy), 1000):
        assert not has_personal_data(orjson.dumps(messy[i:i + 1000]))
    for ev in messy:
        assert PARCEL_RE.match(ev["parcel_id"]), ev["parcel_id"]
        assert ev["event_id"].startswith("E11-N")
        assert TS_RE.match(ev["ts"]), ev["ts"]
        if "promised_by" in ev:
            assert TS_RE.match(ev["promised_by"])


@pytest.mark.parametrize("epoch_ms", [
    0, 1_793_548_800_000, 1_793_548_799_999, 1_793_635_199_999, 1_798_732_800_123,
    *random.Random(5).sample(range(1_700_000_000_000, 1_900_000_000_000), 20)])
def test_format_ts_matches_datetime(epoch_ms: int) -> None:
    """The cached formatter equals datetime's RFC 3339 rendering at +08:00 with ms."""
    expect = datetime.fromtimestamp(epoch_ms / 1000, CST).isoformat(timespec="milliseconds")
    assert format_ts(epoch_ms) == expect


# --- duplicates and disorder -----------------------------------------------------------------

def test_duplicates_are_exact_resends_at_the_configured_rate(messy: list[Event],
                                                             plain: list[Event]) -> None:
    """round(count * duplicate_rate) re-sends (bar any cut off at the end), each identical to
    its first send and emitted after it; with rate 0 every event_id is unique."""
    first: dict[str, Event] = {}
    resends = 0
    for ev in messy:
        if ev["event_id"] in first:
            resends += 1
            assert ev == first[ev["event_id"]]
            assert ev is not first[ev["event_id"]]
        else:
            first[ev["event_id"]] = ev
    assert abs(resends - round(MESSY.count * MESSY.duplicate_rate)) <= 20
    assert len({e["event_id"] for e in plain}) == len(plain)


def test_disorder_is_bounded(messy: list[Event], plain: list[Event]) -> None:
    """Emission order: no event is emitted after one whose ts is more than disorder_s later
    (for i before j, ts_i <= ts_j + disorder_s); disorder 0 means sorted by ts. The bound is
    used: some events do come late, and some parcel scans overtake their acceptance."""
    bound = int(MESSY.disorder_s * 1000)
    latest = late = 0
    for ev in messy:
        t = ms(ev["ts"])
        assert latest - t <= bound
        late += latest > t
        latest = max(latest, t)
    assert late > len(messy) // 10
    ts = [ms(e["ts"]) for e in plain]
    assert ts == sorted(ts)
    seen: set[str] = set()
    overtaken = 0
    for ev in messy:
        overtaken += ev["type"] != "ACCEPTED" and ev["parcel_id"] not in seen
        seen.add(ev["parcel_id"])
    assert overtaken > 0


# --- realism ---------------------------------------------------------------------------------

def test_all_event_types_modes_and_stages_occur(plain: list[Event]) -> None:
    """A 20k-event stream holds every type, delivery mode and complaint stage."""
    assert {e["type"] for e in plain} == ALL_TYPES
    assert {e["mode"] for e in plain if e["type"] == "DELIVERED"} == {
        "DOOR", "LOCKER", "STATION", "SELF_PICKUP"}
    assert {e["stage"] for e in plain if e["type"] == "COMPLAINT"} == {
        "FILED", "ACCEPTED", "RESOLVED"}
    # The healthy baseline delays 1 parcel in 10 000 (a 20k stream may hold none): RETURN
    # (5 in 10 000) is the exception every such stream holds.
    assert "RETURN" in {e["kind"] for e in plain if e["type"] == "EXCEPTION"}


def test_all_route_classes_occur_and_mostly_meet_their_hours(plain: list[Event]) -> None:
    """12h, 24h, 48h and intra-city classes and unclassified routes all occur; 90-99.5 % of
    delivered parcels of each class arrive within its hours (a few miss)."""
    table = load_route_table()
    accepted = {e["parcel_id"]: e for e in plain if e["type"] == "ACCEPTED"}
    on_time: dict[str | None, list[bool]] = {}
    for ev in plain:
        if ev["type"] != "DELIVERED":
            continue
        acc = accepted[ev["parcel_id"]]
        assert ev["city"] == acc["dest_city"]
        rc = table.classify(acc["city"], acc["dest_city"], acc["company"])
        hours = (ms(ev["ts"]) - ms(acc["ts"])) / 3_600_000
        on_time.setdefault(rc.name if rc else None, []).append(rc is not None and
                                                               hours <= rc.hours)
    assert set(on_time) == {"intra_city", "yrd_key_12h", "yrd_24h", "national_key_48h", None}
    for name in ("intra_city", "yrd_key_12h", "yrd_24h", "national_key_48h"):
        assert 0.90 <= sum(on_time[name]) / len(on_time[name]) <= 0.995, name


def test_each_parcel_scans_in_a_sensible_order(plain: list[Event]) -> None:
    """Without disorder a parcel starts with ACCEPTED at its origin, every later scan is no
    earlier, and OUT_FOR_DELIVERY/DELIVERED happen in its destination city."""
    accepted: dict[str, Event] = {}
    for ev in plain:
        pid = ev["parcel_id"]
        if ev["type"] == "ACCEPTED":
            assert pid not in accepted
            accepted[pid] = ev
            continue
        acc = accepted[pid]
        assert ev["ts"] >= acc["ts"]
        if ev["type"] in ("OUT_FOR_DELIVERY", "DELIVERED", "COMPLAINT"):
            assert ev["city"] == acc["dest_city"]


ShareFn = Callable[[list[Event]], float]


def _share(events: list[Event], event_type: str, test: Callable[[Event], bool]) -> float:
    chosen = [e for e in events if e["type"] == event_type]
    return sum(map(test, chosen)) / len(chosen)


@pytest.mark.parametrize(("share", "low", "high"), [
    pytest.param(lambda ev: _share(ev, "ACCEPTED", lambda e: e["ecommerce"]), 0.66, 0.74,
                 id="ecommerce"),
    pytest.param(lambda ev: _share(ev, "ACCEPTED", lambda e: e["packaging"]["standard"]),
                 0.98, 1.0, id="standard_packaging"),
    pytest.param(lambda ev: _share(ev, "ACCEPTED", lambda e: e["security"]["xray"]),
                 1.0, 1.0, id="xray"),
    pytest.param(lambda ev: _share(ev, "ACCEPTED", lambda e: "promised_by" in e), 0.56, 0.64,
                 id="promised_by"),
    pytest.param(lambda ev: _share(ev, "DELIVERED", lambda e: e["mode"] == "LOCKER"),
                 0.26, 0.34, id="locker_share"),
    pytest.param(lambda ev: _share(ev, "ACCEPTED", lambda e: 40 <= e["packaging"]["tape_mm"]
                                   <= 160), 1.0, 1.0, id="tape_mm_range"),
])
def test_rates_are_near_the_model(plain: list[Event], share: ShareFn, low: float,
                                  high: float) -> None:
    """Shares in a 20k-event stream sit near the documented model rates."""
    assert low <= share(plain) <= high


# --- incidents -------------------------------------------------------------------------------

CELL_CITY, CELL_COMPANY = "310000", "ZTO"
WINDOW_START = DEFAULT_START


def _in_cell(ev: Event) -> bool:
    return bool(ev["city"] == CELL_CITY and ev["company"] == CELL_COMPANY)


def _count_kind(kind: str) -> Callable[[list[Event]], float]:
    return lambda evs: sum(1 for e in evs if _in_cell(e) and e.get("kind") == kind)


def _complaints(evs: list[Event]) -> float:
    return sum(1 for e in evs if _in_cell(e) and e.get("stage") == "FILED")


def _no_xray(evs: list[Event]) -> float:
    return sum(1 for e in evs if _in_cell(e) and e["type"] == "ACCEPTED"
               and not e["security"]["xray"])


def _lockers(evs: list[Event]) -> float:
    return sum(1 for e in evs if _in_cell(e) and e.get("mode") == "LOCKER")


INCIDENT_COUNT, INCIDENT_SEED = 20_000, 6


@pytest.fixture(scope="module")
def baseline() -> list[Event]:
    return list(generate(GeneratorConfig(count=INCIDENT_COUNT, seed=INCIDENT_SEED)))


@pytest.mark.parametrize(("kind", "factor", "metric", "raises"), [
    pytest.param("delay", 1800.0, _count_kind("DELAY"), True, id="delay"),
    pytest.param("damage", 100_000.0, _count_kind("DAMAGE"), True, id="damage"),
    pytest.param("loss", 200_000.0, _count_kind("LOSS"), True, id="loss"),
    pytest.param("complaint", 300.0, _complaints, True, id="complaint"),
    pytest.param("no_xray", 10.0, _no_xray, True, id="no_xray"),
    pytest.param("locker_outage", 20.0, _lockers, False, id="locker_outage"),
])
def test_incident_moves_the_targeted_rate_in_its_cell(
        baseline: list[Event], kind: str, factor: float,
        metric: Callable[[list[Event]], float], raises: bool) -> None:
    """An incident on (Shanghai, ZTO) multiplies its kind of trouble there: several times
    the baseline count (locker_outage: a fraction of the baseline's locker deliveries)."""
    incident = Incident(CELL_CITY, CELL_COMPANY, kind, WINDOW_START, 96.0, factor)
    events = list(generate(GeneratorConfig(count=INCIDENT_COUNT, seed=INCIDENT_SEED,
                                           incidents=(incident,))))
    before, after = metric(baseline), metric(events)
    if raises:
        assert after >= 10 and after >= 4 * (before + 1), (before, after)
    else:
        assert before >= 10 and after <= before / 3, (before, after)


def test_incident_outside_its_window_or_cell_changes_nothing(baseline: list[Event]) -> None:
    """An incident of a company that is not generated, or a window before the stream,
    leaves the stream byte-identical."""
    quiet = (Incident("310000", "NOPE", "delay", WINDOW_START, 96.0, 50.0),
             Incident("310000", "ZTO", "delay", WINDOW_START - timedelta(days=9), 96.0, 50.0))
    events = list(generate(GeneratorConfig(count=INCIDENT_COUNT, seed=INCIDENT_SEED,
                                           incidents=quiet)))
    assert orjson.dumps(events) == orjson.dumps(baseline)


@pytest.mark.parametrize(("text", "expect"), [
    pytest.param("delay:331000:ZTO:2026-11-02T08:00:00+08:00:6:20",
                 Incident("331000", "ZTO", "delay", datetime(2026, 11, 2, 8, tzinfo=CST), 6, 20),
                 id="code"),
    pytest.param("no_xray:台州:sf:2026-11-02T08:00:00:1.5:3",
                 Incident("331000", "SF", "no_xray", datetime(2026, 11, 2, 8, tzinfo=CST),
                          1.5, 3), id="name-naive-time"),
    pytest.param("locker_outage:*:*:2026-11-02T00:00:00Z:24:10",
                 Incident("*", "*", "locker_outage", datetime(2026, 11, 2, tzinfo=UTC), 24, 10),
                 id="wildcards"),
])
def test_parse_incident(text: str, expect: Incident) -> None:
    """kind:city:company:start_iso:hours:factor; names resolve, naive times are CST."""
    assert parse_incident(text) == expect


@pytest.mark.parametrize("text", [
    "delay:331000:ZTO", "flood:331000:ZTO:2026-11-02T08:00:00:6:2",
    "delay:331000:ZTO:yesterday:6:2", "delay:331000:ZTO:2026-11-02T08:00:00:-1:2",
    "delay:nowhere:ZTO:2026-11-02T08:00:00:6:2"])
def test_parse_incident_rejects_malformed_text(text: str) -> None:
    """A malformed incident is a ValueError naming the problem, never a silent default."""
    with pytest.raises(ValueError):
        parse_incident(text)


# --- outputs and config ----------------------------------------------------------------------

def test_batches_and_jsonl_carry_the_same_stream(tmp_path: Path) -> None:
    """generate_batches (JSON arrays) and write_jsonl (JSON lines) hold exactly the events of
    generate, in order; write_jsonl returns the count and reports progress in increments
    that add up to it."""
    config = GeneratorConfig(count=12_345, seed=4, duplicate_rate=0.02, disorder_s=30)
    events = list(generate(config))
    batches = list(generate_batches(config, batch_size=1000))
    assert len(batches) == 13
    assert [e for b in batches for e in orjson.loads(b)] == events
    seen: list[int] = []
    path = tmp_path / "events.jsonl"
    assert write_jsonl(config, path, progress=seen.append) == config.count
    lines = path.read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == events
    assert sum(seen) == config.count and seen[:-1] == [10_000] * (len(seen) - 1)


@pytest.mark.parametrize("bad", [
    {"count": -1}, {"span_hours": 0}, {"duplicate_rate": 1.0}, {"disorder_s": -1},
    {"cities": ()}, {"cities": ("31000",)}, {"companies": ("zto",)},
    {"start": datetime(2026, 11, 2)},
])
def test_config_rejects_nonsense(bad: dict[str, Any]) -> None:
    """Impossible settings fail at construction, not halfway through a run."""
    with pytest.raises(ValueError):
        GeneratorConfig(**{"count": 10, **bad})


def test_batch_stream_accepts_parcels_over_the_span(plain: list[Event]) -> None:
    """Batch mode: acceptances start at `start` and stop about span_hours later; the stream
    then runs on while those parcels are delivered."""
    accepted = [ms(e["ts"]) for e in plain if e["type"] == "ACCEPTED"]
    start = ms(DEFAULT_START.isoformat())
    assert min(accepted) == start
    assert 22 * 3_600_000 <= max(accepted) - start <= 26 * 3_600_000
    assert ms(plain[-1]["ts"]) - start > 48 * 3_600_000
