"""The pure core: KPI scaling, route classes, figures and roll-ups, city names, batches."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from courierwatch.cities import YRD_REGION, resolve_city
from courierwatch.figures import (
    ROUTE_UNCLASSIFIED_KPI,
    ClassCount,
    Figure,
    JoinedCell,
    cell_figures,
    roll_up,
)
from courierwatch.kpi import KPI_BY_NAME
from runtime.settings import load_settings
from streams.decode import Arrival, process_batch
from warehouse.schema import STAGING_COLUMN_NAMES


@pytest.mark.parametrize(("kpi", "num", "den", "want"), [
    pytest.param("delay_rate", 3, 1000, 3.0, id="delay per thousand"),
    pytest.param("damage_rate", 2, 100_000, 2.0, id="damage per 100k"),
    pytest.param("valid_complaint_rate", 21, 2_000_000, 10.5, id="complaints per million"),
    pytest.param("locker_share", 12, 100, 0.12, id="ratio"),
    pytest.param("tape_mm_mean", 600, 5, 120.0, id="mm per parcel"),
    pytest.param("volume", 42, 0, 42.0, id="count needs no denominator"),
    pytest.param("locker_share", 0, 0, None, id="no data is not zero"),
])
def test_kpi_values_are_scaled_in_the_units_of_the_plans(kpi: str, num: float, den: float,
                                                         want: float | None) -> None:
    """千分之/十万分之/百万分之 scales, ratios in 0..1, and an empty denominator gives None."""
    assert KPI_BY_NAME[kpi].value(num, den) == want


@pytest.mark.parametrize(("text", "code"), [
    ("台州", "331000"), ("taizhou (zhejiang)", "331000"), ("泰州", "321200"),
    ("Wuhan", "420100"), ("331000", "331000"), ("长三角", YRD_REGION), ("yrd", YRD_REGION),
])
def test_cities_resolve_from_codes_chinese_and_english_names(text: str, code: str) -> None:
    """Users may name a city by code, Chinese or English name."""
    assert resolve_city(text) == code


def test_ambiguous_and_unknown_city_names_are_refused_with_the_options() -> None:
    """'Taizhou' is both 台州 (Zhejiang) and 泰州 (Jiangsu): refuse and name both codes."""
    with pytest.raises(ValueError, match="331000.*321200|321200.*331000"):
        resolve_city("Taizhou")
    with pytest.raises(ValueError, match="unknown city"):
        resolve_city("Atlantis")


def test_cell_figures_split_on_time_by_route_class_and_exclude_unclassified() -> None:
    """Each class is a figure of its own (a parcel may be in several: nested limits); the
    overall on_time_rate is the store's each-parcel-once count, not a sum of the classes;
    unclassified deliveries are reported separately and have no class figure."""
    key = ("331000", "SF", "2026-11-02 00:00:00")
    joined = {key: JoinedCell(parcels=20, unclassified=6, judged=12, judged_on_time=11,
                              promised=10, kept=7,
                              classes=(ClassCount("yrd_key_12h", 10, 9),
                                       ClassCount("national_key_48h", 12, 12)))}
    figs = {f.kpi: (f.numerator, f.denominator) for f in cell_figures({}, joined)}
    assert figs["on_time_rate"] == (11, 12)
    assert figs["on_time_rate.yrd_key_12h"] == (9, 10)
    assert figs["on_time_rate.national_key_48h"] == (12, 12)
    assert figs["promise_kept_rate"] == (7, 10)
    assert figs[ROUTE_UNCLASSIFIED_KPI] == (6, 20)
    assert "on_time_rate.unclassified" not in figs


cities = st.sampled_from(["331000", "320400", "310000", "371500", "420100"])
companies = st.sampled_from(["SF", "ZTO", "JD"])
figure_sets = st.lists(st.tuples(cities, companies, st.integers(0, 50), st.integers(0, 50)),
                       max_size=30, unique_by=lambda t: (t[0], t[1]))


@given(figure_sets)
def test_roll_ups_sum_numerators_and_denominators(cells: list[tuple[str, str, int, int]]
                                                  ) -> None:
    """company '*' rows sum a city's companies; YRD rows sum the YRD cities only (never an
    average of ratios)."""
    base = [Figure(c, co, "2026-11-02 00:00:00", "delay_rate", n, d) for c, co, n, d in cells]
    out = {(f.city, f.company): (f.numerator, f.denominator) for f in roll_up(base)}
    for city in {c for c, *_ in cells}:
        assert out[(city, "*")] == (sum(n for c, _, n, _ in cells if c == city),
                                    sum(d for c, _, _, d in cells if c == city))
    yrd = [(n, d) for c, _, n, d in cells if c[:2] in ("31", "32", "33")]
    if yrd:
        assert out[(YRD_REGION, "*")] == (sum(n for n, _ in yrd), sum(d for _, d in yrd))
    else:
        assert (YRD_REGION, "*") not in out


def _event(event_id: str, ts: str) -> bytes:
    return orjson.dumps({"schema": "scan.v1", "event_id": event_id, "parcel_id": "SF1",
                         "company": "SF", "type": "ARRIVED", "ts": ts, "city": "331000"})


def test_batch_flags_events_older_than_the_lateness_and_advances_the_watermark() -> None:
    """Lateness is judged against the watermark of earlier batches; the new watermark is
    the latest ts seen; every valid event becomes a row, every bad one a dead letter with
    its partition and offset."""
    # 2026-11-10T00:00Z: 20,767 days after 1970-01-01 (56 years, 14 of them leap, + 304 + 9).
    wm = 1_794_268_800_000
    arrivals = [Arrival("scan.v1", 2, 7, _event("a", "2026-11-09T23:00:00Z") + b"\nnot json\n" +
                        _event("b", "2026-11-01T00:00:00Z")),
                Arrival("scan.v1", 3, 9, _event("c", "2026-11-11T00:00:00Z"))]
    res = process_batch(arrivals, datetime(2026, 11, 12, tzinfo=UTC), wm, 3 * 86_400_000)
    cols = dict(zip(STAGING_COLUMN_NAMES, res.rows.columns, strict=True))
    assert [orjson.loads(raw)["event_id"] for raw in cols["raw"]] == ["a", "b", "c"]
    assert cols["late"] == [0, 1, 0]
    assert (cols["partition"], cols["offset"]) == ([2, 2, 3], [7, 7, 9])
    assert cols["msg_index"] == [0, 2, 0]  # the position in its message, the bad line counted
    assert res.late == 1
    assert res.watermark_ms == 1_794_355_200_000  # 2026-11-11T00:00Z, event c: one day on
    assert [(d.reason, d.partition, d.offset, d.msg_index) for d in res.dead_letters] == [
        ("not_json", 2, 7, 1)]
    assert Counter(d.stage for d in res.dead_letters) == {"decode": 1}


def test_settings_come_from_the_environment_and_mask_passwords() -> None:
    """One settings object from the environment; printing it never shows a password."""
    s = load_settings({"COURIERWATCH_CLICKHOUSE": "http://cw:s3cret@ch:8123",
                       "COURIERWATCH_PARTITIONS": "8", "COURIERWATCH_DATA_DIR": "/tmp/x"})
    assert s.partitions == 8 and s.clickhouse.endswith("@ch:8123")
    assert "s3cret" not in str(s.masked())
