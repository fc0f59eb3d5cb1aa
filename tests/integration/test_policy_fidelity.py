"""Issue 20's figures, hand-computed: nested time limits, both ends of a route, cohorts.

Drives the real ingest step (streams.ingest.Ingestor) into the real chDB engine in this
process, then reads the figures the API and `courierwatch kpi` serve (warehouse.report).
The expectations are literals computed by hand from the rules of docs/semantics.md; the
independent reference (tests/reference.py) must agree with the pipeline on every cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from courierwatch.catalog import load_catalog
from courierwatch.cities import YRD_REGION
from courierwatch.periods import CST
from courierwatch.routes import load_route_table
from courierwatch.scope import Scope, parse_scope
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from tests.integration.compare import assert_matches_reference
from warehouse.client import Warehouse
from warehouse.conflicts import list_conflicts
from warehouse.queries import CellFilter
from warehouse.report import kpi_report
from warehouse.sink import ClickHouseSink

pytestmark = pytest.mark.integration

HANGZHOU, TAIZHOU, BEIJING = "330100", "331000", "110000"
ACCEPTED_AT = datetime(2026, 11, 2, 8, 0, tzinfo=CST)
NOW = datetime(2026, 11, 20, tzinfo=UTC)
_databases = itertools.count()


@pytest.fixture(scope="module")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('chdb') / 'clickhouse'}"


class _ReleaseSink(ClickHouseSink):
    """Writes only the columns the database has, as the release that made it did (today's
    ingest step also writes the source ids of migration 0016)."""

    def write(self, table: str, columns: Sequence[Sequence[Any]],
              names: Sequence[str]) -> None:
        have = {r[0] for r in self.wh.query(
            "SELECT name FROM system.columns WHERE database = {db:String} AND table = "
            "{t:String}", {"db": self.wh.db, "t": table})}
        kept = [(c, n) for c, n in zip(columns, names, strict=True) if n in have]
        super().write(table, [c for c, _ in kept], [n for _, n in kept])


def ingest(dsn: str, events: list[dict[str, Any]], db: str | None = None) -> Warehouse:
    wh = Warehouse(dsn, db or f"fidelity_{next(_databases)}")
    s = load_settings({"COURIERWATCH_ALLOWED_LATENESS_S": str(7 * 86400)})
    ingestor = Ingestor(s, _ReleaseSink(wh), 0, clock=lambda: NOW)
    for i in range(0, len(events), 500):
        ingestor.handle([Arrival("scan.v1", 0, i, b"\n".join(
            orjson.dumps(e) for e in events[i:i + 500]))])
    return wh


def _ts(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def accepted(pid: str, origin: str, dest: str, at: datetime, company: str = "SF"
             ) -> dict[str, Any]:
    return {"schema": "scan.v1", "event_id": f"a-{pid}", "parcel_id": pid, "company": company,
            "type": "ACCEPTED", "ts": _ts(at), "city": origin, "dest_city": dest,
            "ecommerce": False,
            "packaging": {"standard": True, "e_waybill": True, "secondary_packaging": False,
                          "recycled_bag": False, "tape_mm": 0, "degradable": False},
            "security": {"real_name": True, "inspected": True, "xray": True}}


def delivered(pid: str, city: str, at: datetime, company: str = "SF") -> dict[str, Any]:
    return {"schema": "scan.v1", "event_id": f"d-{pid}", "parcel_id": pid, "company": company,
            "type": "DELIVERED", "ts": _ts(at), "city": city, "mode": "DOOR"}


def six_hundred_sf_parcels() -> list[dict[str, Any]]:
    """300 Hangzhou -> Taizhou and 300 Taizhou -> Beijing, SF, accepted 2026-11-02 08:00
    CST; of each 300, 200 delivered after 10 h (same day) and 100 after 61 h (11-04)."""
    events = []
    for route, (origin, dest) in enumerate(((HANGZHOU, TAIZHOU), (TAIZHOU, BEIJING))):
        for i in range(300):
            pid = f"SF{route}{i:05d}"
            hours = 61 if i % 3 == 0 else 10
            events += [accepted(pid, origin, dest, ACCEPTED_AT),
                       delivered(pid, dest, ACCEPTED_AT + timedelta(hours=hours))]
    return events


def figures(wh: Warehouse, scope: Scope | None = None, **flt: Any) -> dict[tuple[str, ...],
                                                                          dict[str, Any]]:
    rows = kpi_report(wh, CellFilter(**flt, scope=scope or Scope.national()),
                      load_route_table(), load_catalog())
    cut = 13 if flt.get("by") == "hour" else 10  # 'YYYY-MM-DD HH' or 'YYYY-MM-DD'
    return {(r.figure.city, r.figure.company, r.figure.period_start[:cut], r.figure.kpi):
            r.to_json() for r in rows}


def pair(rows: dict[tuple[str, ...], dict[str, Any]], *key: str) -> tuple[float, float]:
    r = rows.get(key)
    return (r["numerator"], r["denominator"]) if r else (0, 0)


def totals(rows: dict[tuple[str, ...], dict[str, Any]], city: str, kpi: str
           ) -> tuple[float, float]:
    days = [pair(rows, city, "SF", d, kpi) for d in ("2026-11-02", "2026-11-04")]
    return sum(n for n, _ in days), sum(d for _, d in days)


# Hand-computed: (city, kpi) -> (on time, parcels) summed over the two delivery days.
# H->T is in yrd_key_12h (both YRD key cities) and national_key_48h (both national key
# cities, SF a major brand), not in yrd_24h (其他城市间); T->B only in national_key_48h.
# A parcel counts at both ends and once in the YRD row; 200 of each 300 are on time under
# every limit (10 h), 100 late under every limit (61 h).
EXPECTED = {
    (TAIZHOU, "on_time_rate.national_key_48h"): (400, 600),   # the binding 48 h target
    (TAIZHOU, "on_time_rate.yrd_key_12h"): (200, 300),
    (TAIZHOU, "on_time_rate"): (400, 600),                    # each parcel once
    (HANGZHOU, "on_time_rate.yrd_key_12h"): (200, 300),
    (HANGZHOU, "on_time_rate.national_key_48h"): (200, 300),
    (BEIJING, "on_time_rate.national_key_48h"): (200, 300),   # T->B once
    (BEIJING, "on_time_rate.yrd_key_12h"): (0, 0),
    (YRD_REGION, "on_time_rate.yrd_key_12h"): (200, 300),     # the YRD's 12 h: H->T once
    (YRD_REGION, "on_time_rate.national_key_48h"): (400, 600),
    (YRD_REGION, "on_time_rate"): (400, 600),
    (TAIZHOU, "on_time_rate.yrd_24h"): (0, 0),
    (TAIZHOU, "route_unclassified_share"): (0, 600),
}


@pytest.fixture(scope="module")
def six_hundred(chdb_dsn: str) -> tuple[Warehouse, list[dict[str, Any]]]:
    events = six_hundred_sf_parcels()
    return ingest(chdb_dsn, events), events


@pytest.mark.parametrize(("city", "kpi"), list(EXPECTED), ids=lambda x: str(x))
def test_six_hundred_sf_parcels_counted_at_both_ends_in_every_class(
        six_hundred: tuple[Warehouse, list[dict[str, Any]]], city: str, kpi: str) -> None:
    """Nested limits and both ends: each cell x class counts exactly the hand-counted
    parcels (Taizhou's 48 h class: 400 on time of 600, both routes, both directions)."""
    wh, _ = six_hundred
    assert totals(figures(wh, by="day"), city, kpi) == EXPECTED[(city, kpi)]


def test_taizhou_binding_48h_target_is_breached_and_per_day_rows(
        six_hundred: tuple[Warehouse, list[dict[str, Any]]]) -> None:
    """Taizhou's own 48 h target (binding, 001 一(二)2) judges all 600 parcels with Taizhou
    at either end: 400 on time on 11-02, 0 of 200 on 11-04, a binding breach; the YRD's
    12 h target (aspirational) still judges the 300 Hangzhou -> Taizhou parcels."""
    wh, _ = six_hundred
    rows = figures(wh, by="day")
    late_day = rows[(TAIZHOU, "SF", "2026-11-04", "on_time_rate.national_key_48h")]
    assert (late_day["numerator"], late_day["denominator"]) == (0, 200)
    assert pair(rows, TAIZHOU, "SF", "2026-11-02", "on_time_rate.national_key_48h") == (400, 400)
    assert late_day["breach_strength"] == "binding"
    judged = {t["policy_id"]: t["status"] for t in late_day["thresholds"]}
    assert judged["taizhou-2022-national-key-48h"] == "breach"
    yrd_12h = rows[(YRD_REGION, "SF", "2026-11-04", "on_time_rate.yrd_key_12h")]
    assert (yrd_12h["numerator"], yrd_12h["denominator"]) == (0, 100)
    assert {t["policy_id"] for t in yrd_12h["thresholds"]} == {"yrd-2020-yrd-key-12h"}
    assert late_day["counted_at"] == "origin+destination"


def test_six_hundred_match_the_reference_and_a_city_read(
        six_hundred: tuple[Warehouse, list[dict[str, Any]]]) -> None:
    """The independent reference computes the same figures on every cell, YRD included;
    a read of one city, and a city-scoped read, give that city's cells unchanged."""
    wh, events = six_hundred
    every = figures(wh, by="day")
    rows = [r for r in every.values()]
    assert assert_matches_reference(rows, events, "day") > 20
    for flt in ({"city": BEIJING}, {"scope": parse_scope(f"city:{BEIJING}")}):
        scope = flt.pop("scope", None)
        one = figures(wh, scope, by="day", **flt)  # type: ignore[arg-type]
        assert one and all(k[0] == BEIJING for k in one)
        assert {k: (v["numerator"], v["denominator"]) for k, v in one.items()} == {
            k: (v["numerator"], v["denominator"]) for k, v in every.items() if k[0] == BEIJING}


def complaint(cid: str, stage: str, at: datetime, city: str = TAIZHOU,
              channel: str | None = None, **extra: Any) -> dict[str, Any]:
    e = {"schema": "scan.v1", "event_id": f"c-{cid}-{stage}", "parcel_id": f"P{cid}",
         "company": "ZTO", "type": "COMPLAINT", "ts": _ts(at), "city": city,
         "complaint_id": cid, "stage": stage, **extra}
    if channel:
        e["channel"] = channel
    return e


def test_complaints_are_a_cohort_of_their_filing_with_one_channel(chdb_dsn: str) -> None:
    """Two appeals filed on 11-02 23:30 and accepted on 11-03: acceptance 2 of 2 on
    11-02 and nothing on 11-03 (never 2 of 0); one filed in the hour before, never
    accepted: 2 of 3 by day. A complaint naming COMPANY on FILED only is a company
    complaint at RESOLVED too; one whose stages contradict is listed as a conflict and
    counts by its earliest naming stage."""
    t = datetime(2026, 11, 2, 23, 30, tzinfo=CST)
    h = timedelta(hours=1)
    events = [
        complaint("A1", "FILED", t), complaint("A1", "ACCEPTED", t + h),
        complaint("A2", "FILED", t), complaint("A2", "ACCEPTED", t + h),
        complaint("A3", "FILED", t - h),
        complaint("C1", "FILED", t, channel="COMPANY"),
        complaint("C1", "RESOLVED", t + 2 * h, valid=False, satisfied=True),
        complaint("X1", "FILED", t, channel="APPEAL"),
        complaint("X1", "RESOLVED", t + 2 * h, channel="COMPANY", valid=True,
                  satisfied=False),
        complaint("Z9", "ACCEPTED", t),  # never filed: in no cohort yet
    ]
    wh = ingest(chdb_dsn, events)
    day = figures(wh, by="day")
    assert pair(day, TAIZHOU, "ZTO", "2026-11-02", "complaint_acceptance_rate") == (2, 4)
    assert pair(day, TAIZHOU, "ZTO", "2026-11-03", "complaint_acceptance_rate") == (0, 0)
    assert pair(day, TAIZHOU, "ZTO", "2026-11-02", "company_complaint_satisfaction") == (1, 1)
    assert pair(day, TAIZHOU, "ZTO", "2026-11-02", "complaint_satisfaction") == (0, 1)
    assert pair(day, YRD_REGION, "*", "2026-11-02", "complaint_acceptance_rate") == (2, 4)
    hour = figures(wh, by="hour")
    assert pair(hour, TAIZHOU, "ZTO", "2026-11-02 22", "complaint_acceptance_rate") == (0, 1)
    assert pair(hour, TAIZHOU, "ZTO", "2026-11-02 23", "complaint_acceptance_rate") == (2, 3)
    assert pair(hour, YRD_REGION, "*", "2026-11-03 00", "complaint_acceptance_rate") == (0, 0)
    listed = [r for r in list_conflicts(wh, CellFilter(scope=Scope.national()))
              if r.get("kind") == "channel"]
    assert {(r["complaint_id"], r["channel"], r["counts"]) for r in listed} == {
        ("X1", "APPEAL", True), ("X1", "COMPANY", False)}
    assert day[(TAIZHOU, "ZTO", "2026-11-02", "complaint_acceptance_rate")]["counted_at"] \
        == "filed"


def test_a_database_of_the_previous_release_gets_the_new_figures_from_its_archive(
        chdb_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database made by the previous release (migrations 0001-0012) holding the 600
    parcels' events, then migrated by this one: the figures follow the new rules from its
    archive (they are computed at query time from `events` and `accepts`; no stored
    object holds the old rules), equal to the hand-computed ones."""
    from warehouse import migrations

    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:12])
    old = ingest(chdb_dsn, six_hundred_sf_parcels(), db="previous_release")
    assert old.applied[-1] == "0012_hour_arrivals" and len(old.applied) == 12
    monkeypatch.undo()
    upgraded = Warehouse(chdb_dsn, "previous_release")
    assert [m.id for m in migrations.MIGRATIONS[12:]] == upgraded.applied
    rows = figures(upgraded, by="day")
    for (city, kpi), want in EXPECTED.items():
        assert totals(rows, city, kpi) == want, (city, kpi)
