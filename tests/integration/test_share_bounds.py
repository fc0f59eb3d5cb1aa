"""Property: no share passes 100 % (issue 20): every numerator is a subset of its
denominator by construction, in every row the figures API serves.

Generated traffic (load_tests.generator: duplicates, 6 h disorder) plus hypothesis-drawn
complaints (stages in any order and period, channels that agree, are absent or contradict)
and exceptions on random parcels, through the real ingest step into chDB with an allowed
lateness of 3 h (so some events are late and out of the figures), then every row of every
KPI that is a share or a rate of parcels, by hour and by day, for cities, companies, `*`
and the YRD: numerator <= denominator.

Not checked, by definition: `volume` (a count) and `tape_mm_mean` (millimetres per parcel).
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courierwatch.catalog import load_catalog
from courierwatch.cities import CITIES
from courierwatch.kpi import unit_of
from courierwatch.routes import load_route_table
from courierwatch.scope import Scope
from load_tests.generator import DEFAULT_START, GeneratorConfig, generate
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from warehouse.client import Warehouse
from warehouse.queries import CellFilter
from warehouse.report import kpi_report
from warehouse.sink import ClickHouseSink

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, tzinfo=UTC)
NOT_SHARES = ("count", "mm_per_parcel")
_databases = itertools.count()


@pytest.fixture(scope="module")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('chdb') / 'clickhouse'}"


def _ingest(dsn: str, events: list[dict[str, Any]], lateness_s: float, rnd: random.Random
            ) -> Warehouse:
    """In the given order (the generator's disorder), in messages of random size."""
    wh = Warehouse(dsn, f"bounds_{next(_databases)}")
    s = load_settings({"COURIERWATCH_ALLOWED_LATENESS_S": str(lateness_s)})
    ingestor = Ingestor(s, ClickHouseSink(wh), 0, clock=lambda: NOW)
    i = offset = 0
    while i < len(events):
        n = rnd.randint(1, 200)
        ingestor.handle([Arrival("scan.v1", 0, offset, b"\n".join(
            orjson.dumps(e) for e in events[i:i + n]))])
        i, offset = i + n, offset + 1
    return wh


def _violations(wh: Warehouse) -> list[tuple[Any, ...]]:
    bad = []
    for by in ("hour", "day"):
        for r in kpi_report(wh, CellFilter(by=by, scope=Scope.national()), load_route_table(),
                            load_catalog(), min_sample=1):
            f = r.figure
            if unit_of(f.kpi) not in NOT_SHARES and f.numerator > f.denominator:
                bad.append((by, f.city, f.company, f.period_start, f.kpi, f.numerator,
                            f.denominator))
    return bad


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


stages = st.lists(st.tuples(st.sampled_from(["FILED", "ACCEPTED", "RESOLVED"]),
                            st.integers(-40, 40),                       # hours from the base
                            st.sampled_from([None, "APPEAL", "COMPANY"]),
                            st.booleans(), st.booleans()), min_size=1, max_size=5)
complaints = st.lists(st.tuples(st.sampled_from(["331000", "310000", "320400", "110000"]),
                                st.sampled_from(["SF", "ZTO"]), stages), max_size=25)


def _complaint_events(drawn: list[tuple[str, str, list[Any]]], parcels: list[str]
                      ) -> list[dict[str, Any]]:
    out = []
    base = DEFAULT_START + timedelta(hours=12)
    for n, (city, company, stage_list) in enumerate(drawn):
        pid = parcels[n % len(parcels)] if parcels else f"P{n}"
        for k, (stage, hours, channel, valid, satisfied) in enumerate(stage_list):
            e: dict[str, Any] = {
                "schema": "scan.v1", "event_id": f"hc-{n}-{k}", "parcel_id": pid,
                "company": company, "type": "COMPLAINT", "ts": _ts(base + timedelta(hours=hours)),
                "city": city, "complaint_id": f"HC{n}", "stage": stage}
            if channel:
                e["channel"] = channel
            if stage == "RESOLVED":
                e |= {"valid": valid, "satisfied": satisfied}
            out.append(e)
    return out


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), drawn=complaints,
       exceptions=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
           ["DELAY", "DAMAGE", "LOSS"]), st.integers(-30, 60)), max_size=20),
       dup=st.sampled_from([0.0, 0.2]))
def test_no_share_row_exceeds_its_denominator(chdb_dsn: str, seed: int,
                                               drawn: list[tuple[str, str, list[Any]]],
                                               exceptions: list[tuple[int, str, int]],
                                               dup: float) -> None:
    """Any traffic, duplicates, 6 h disorder, late data, complaints in any stage order and
    period, repeated exceptions: every share row has numerator <= denominator."""
    rnd = random.Random(seed)
    events = list(generate(GeneratorConfig(count=1200, seed=seed, duplicate_rate=dup,
                                           disorder_s=6 * 3600)))
    accepted = [e for e in events if e["type"] == "ACCEPTED"]
    extra = _complaint_events(drawn, [str(e["parcel_id"]) for e in accepted])
    for n, (i, kind, hours) in enumerate(exceptions):
        if accepted:
            a = accepted[i % len(accepted)]
            at = datetime.fromisoformat(str(a["ts"])) + timedelta(hours=hours)
            extra += [{"schema": "scan.v1", "event_id": f"hx-{n}-{j}",
                       "parcel_id": a["parcel_id"], "company": a["company"],
                       "type": "EXCEPTION", "ts": _ts(at + timedelta(minutes=j)),
                       "city": a["dest_city"], "kind": kind} for j in range(2)]
    for e in extra:  # interleave, within the disorder
        events.insert(rnd.randrange(len(events) + 1), e)
    wh = _ingest(chdb_dsn, events, lateness_s=3 * 3600, rnd=rnd)
    late = wh.query(f"SELECT count() FROM {wh.db}.events WHERE late = 1")[0][0]
    assert late > 0  # the late path is exercised: 6 h disorder, 3 h allowed lateness
    assert _violations(wh) == []


def test_two_days_of_national_traffic_have_no_share_above_100_percent(chdb_dsn: str) -> None:
    """Two days of traffic between every known city (the national network): no row of any
    share, by hour or by day, city, company, `*` or YRD, is above 100 %."""
    events = list(generate(GeneratorConfig(count=12_000, seed=20, span_hours=48,
                                           cities=tuple(CITIES), duplicate_rate=0.05,
                                           disorder_s=6 * 3600)))
    wh = _ingest(chdb_dsn, events, lateness_s=7 * 86400, rnd=random.Random(20))
    assert _violations(wh) == []
    kpis = {r.figure.kpi for r in kpi_report(wh, CellFilter(by="day", scope=Scope.national()),
                                              load_route_table(), load_catalog())}
    assert {"complaint_acceptance_rate", "on_time_rate.national_key_48h", "delay_rate",
            "route_unclassified_share"} <= kpis
