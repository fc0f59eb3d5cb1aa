"""SLA route classes of the seed cities: one table row per kind of city pair.

The sentences (seed 003 二(三), repeated by 000 二): "力争长三角地区内重点城市间12小时送达、
其他城市间24小时送达，基本实现重点快递企业国内重点城市间48小时投递"; Taizhou (001 一(二)2):
"重点快递企业国内重点城市间实现48小时送达". Key cities: docs/policies.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from courierwatch.catalog import load_catalog
from courierwatch.cities import CITIES, SEED_CITIES
from courierwatch.figures import ClassCount, JoinedCell, cell_figures
from courierwatch.routes import INTRA_CITY, cells_of, load_route_table

ROUTES = load_route_table()
CATALOG = load_catalog()
HOURS = {"intra_city": 24, "yrd_key_12h": 12, "yrd_24h": 24, "national_key_48h": 48,
         "changzhou_key_12h": 12, "changzhou_24h": 24, "changzhou_national_key_48h": 48}
TIER1 = ("310000", "320100", "320200", "330100", "330200", "330700")  # 003 四(一) 一级
TIER2 = ("320500", "320300", "320600", "320700", "320800", "330300", "330400", "331000")


YRD = "YRD"


@pytest.mark.parametrize(("origin", "dest", "company", "cell", "want"), [
    pytest.param("310000", "330100", "LOCALX", "310000", {"yrd_key_12h"},
                 id="Shanghai-Hangzhou LOCAL: 长三角地区内重点城市间12小时"),
    pytest.param("330100", "331000", "SF", "331000", {"yrd_key_12h", "national_key_48h"},
                 id="Hangzhou-Taizhou SF in Taizhou: nested, the YRD's 12h and Taizhou's 48h"),
    pytest.param("330100", "331000", "SF", YRD, {"yrd_key_12h", "national_key_48h"},
                 id="Hangzhou-Taizhou SF in the YRD row: the same classes"),
    pytest.param("330100", "331000", "LOCALX", "330100", {"yrd_key_12h"},
                 id="Hangzhou-Taizhou, no major brand: 12h only (48h is for 重点快递企业)"),
    pytest.param("331000", "110000", "SF", "110000", {"national_key_48h"},
                 id="Taizhou-Beijing SF in Beijing: 国内重点城市间48小时"),
    pytest.param("331000", "320500", "SF", "331000", {"yrd_key_12h", "national_key_48h"},
                 id="Taizhou-Suzhou: tier-2 park cities are YRD key cities"),
    pytest.param("320400", "310000", "YTO", "310000", {"yrd_24h"},
                 id="Changzhou-Shanghai in Shanghai: the YRD plan's lists do not name "
                    "Changzhou, so 其他城市间24小时"),
    pytest.param("320400", "310000", "YTO", YRD, {"yrd_24h"},
                 id="Changzhou-Shanghai in the YRD row: the YRD plan's classes only"),
    pytest.param("320400", "310000", "YTO", "320400",
                 {"yrd_24h", "changzhou_key_12h", "changzhou_national_key_48h"},
                 id="Changzhou-Shanghai in Changzhou: its own plan counts it a key city"),
    pytest.param("320400", "330500", "YTO", "320400", {"yrd_24h", "changzhou_24h"},
                 id="Changzhou-Huzhou in Changzhou: 其他城市间 in both readings"),
    pytest.param("330500", "320400", "STO", "330500", {"yrd_24h"},
                 id="Huzhou-Changzhou in Huzhou: Changzhou's own classes stay in its cells"),
    pytest.param("321200", "331100", "LOCALX", "321200", {"yrd_24h"},
                 id="Taizhou(Jiangsu)-Lishui: the 24h class covers any company"),
    pytest.param("310000", "420100", "SF", "420100", {"national_key_48h"},
                 id="Shanghai-Wuhan: national key cities, 国内重点城市间48小时"),
    pytest.param("420100", "320400", "JD", "420100", set(),
                 id="Wuhan-Changzhou in Wuhan: Changzhou is a key city only in its own plan"),
    pytest.param("420100", "320400", "JD", "320400", {"changzhou_national_key_48h"},
                 id="Wuhan-Changzhou in Changzhou: Changzhou's 48h target (000 二) has routes"),
    pytest.param("310000", "420100", "LOCALX", "310000", set(),
                 id="48h only for 重点快递企业 (major brands): other company unclassified"),
    pytest.param("371500", "420100", "JD", "371500", set(),
                 id="Liaocheng is no key city: unclassified"),
    pytest.param("330500", "110000", "SF", "330500", set(),
                 id="Huzhou-Beijing: Huzhou is YRD but no key city: unclassified"),
    pytest.param("310000", "310000", "ZTO", "310000", {"intra_city"},
                 id="Shanghai-Shanghai: same city, not 城市间: intra_city only, no 12h"),
    pytest.param("371500", "371500", "LOCALX", "371500", {"intra_city"},
                 id="Liaocheng-Liaocheng: intra_city for any company"),
])
def test_every_class_a_parcel_meets_in_a_cell(origin: str, dest: str, company: str, cell: str,
                                              want: set[str]) -> None:
    """Nested limits: a parcel is in every class whose route condition (endpoints,
    companies, 其他 = not the key pairs) it meets and that reports in the cell (a city's
    own reading only in its cells); same-city parcels are intra_city only."""
    got = ROUTES.classes_in(origin, dest, company, cell)
    assert {rc.name for rc in got} == want
    for rc in got:
        assert rc.hours == HOURS[rc.name]
        assert rc.judged is (rc.name != INTRA_CITY)


@pytest.mark.parametrize(("origin", "dest", "want"), [
    pytest.param("330100", "331000", ("330100", "331000", "YRD"),
                 id="both YRD: 2 cities + YRD once"),
    pytest.param("331000", "110000", ("331000", "110000", "YRD"), id="one YRD end: YRD once"),
    pytest.param("110000", "420100", ("110000", "420100"), id="no YRD end: no YRD row"),
    pytest.param("331000", "331000", ("331000", "YRD"), id="same city: its cell once"),
])
def test_a_parcel_counts_at_both_ends_and_once_in_the_region(
        origin: str, dest: str, want: tuple[str, ...]) -> None:
    """Both ends (docs/semantics.md): origin and destination cells, once when the same,
    the YRD row once when either end is in the YRD."""
    assert cells_of(origin, dest) == want


def test_key_city_lists_are_the_documented_reading() -> None:
    """YRD key cities = the tier-1 and tier-2 express-park cities of 003 四(一), without
    Changzhou (the YRD plan names it in neither list); national key cities contain every
    YRD key city; Changzhou's own classes add Changzhou and nothing else."""
    yrd_key = ROUTES.by_name("yrd_key_12h").endpoints
    national = ROUTES.by_name("national_key_48h").endpoints
    assert yrd_key == frozenset(TIER1 + TIER2)
    assert national is not None and yrd_key is not None and yrd_key <= national
    assert {"110000", "120000", "310000", "500000", "420100", "440300"} <= national
    assert "320400" not in national
    assert ROUTES.by_name("changzhou_key_12h").endpoints == yrd_key | {"320400"}
    assert ROUTES.by_name("changzhou_national_key_48h").endpoints == national | {"320400"}
    for name in ("changzhou_key_12h", "changzhou_24h", "changzhou_national_key_48h"):
        assert ROUTES.by_name(name).plan_cities == frozenset({"320400"})


@pytest.mark.parametrize(
    "target", [t for t in CATALOG.targets if t.route_class and t.scope == "city"],
    ids=lambda t: t.id)
def test_every_seed_city_on_time_target_has_routes(target: object) -> None:
    """Each seed city's own 12h/24h/48h target can be reached: some known city sends a
    major brand's parcel to the seed city on that target's route class, counted in the
    seed city's cell, so the target has data on real traffic."""
    from courierwatch.catalog import PolicyTarget
    assert isinstance(target, PolicyTarget)
    (city,) = target.cities
    company = target.companies[0] if target.companies else "ZTO"
    origins = [o for o in CITIES if target.route_class in
               {rc.name for rc in ROUTES.classes_in(o, city, company, city)}]
    assert origins, target.id


def test_every_route_class_target_names_a_judged_class() -> None:
    """No target is set on intra_city: no plan sets a same-city time limit."""
    for t in CATALOG.targets:
        if t.route_class is not None:
            assert ROUTES.by_name(t.route_class).judged, t.id
    assert not CATALOG.for_cell("310000", "on_time_rate", dt.date(2026, 1, 1), INTRA_CITY)


def test_intra_city_is_reported_but_outside_the_overall_on_time_rate() -> None:
    """on_time_rate.intra_city is a figure of its own; the overall on_time_rate is the
    judged parcels' count (12 of 14), not 12+5 of 14+8."""
    key = ("310000", "ZTO", "2026-11-02 00:00:00")
    joined = {key: JoinedCell(parcels=22, unclassified=0, judged=14, judged_on_time=12,
                              promised=0, kept=0,
                              classes=(ClassCount("yrd_key_12h", 10, 9),
                                       ClassCount("yrd_24h", 4, 3),
                                       ClassCount(INTRA_CITY, 8, 5)))}
    figs = {f.kpi: (f.numerator, f.denominator) for f in cell_figures({}, joined)}
    assert figs["on_time_rate"] == (12, 14)
    assert figs["on_time_rate.intra_city"] == (5, 8)


@pytest.mark.parametrize(("yaml_text", "message"), [
    pytest.param("classes:\n- {name: a, hours: 1, scope: s, endpoints: nowhere}\n",
                 "unknown endpoints", id="unknown-list"),
    pytest.param("classes:\n- {name: a, hours: 1, scope: s, endpoints: x}\n"
                 "city_lists:\n  x: [{include: x}]\n", "circular", id="circular-include"),
    pytest.param("classes:\n- {name: intra_city, hours: 1, scope: s, endpoints: same_city}\n",
                 "judged must be False", id="intra-city-judged"),
    pytest.param("classes:\n- {name: a, hours: 1, scope: s, endpoints: yrd_all, "
                 "companies: nobody}\n", "unknown company list", id="unknown-companies"),
])
def test_route_file_errors(tmp_path: Path, yaml_text: str, message: str) -> None:
    """A malformed route-class file is refused with a message naming the problem."""
    p = tmp_path / "r.yaml"
    p.write_text(yaml_text, "utf-8")
    with pytest.raises(ValueError, match=message):
        load_route_table(p)


def test_seed_cities_are_known() -> None:
    """The four seed cities have names (the route tests above use them by code)."""
    assert all(c in CITIES for c in SEED_CITIES)
