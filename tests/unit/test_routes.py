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
from courierwatch.figures import cell_figures
from courierwatch.routes import INTRA_CITY, load_route_table
from warehouse.queries import OnTimeCounts

ROUTES = load_route_table()
CATALOG = load_catalog()
HOURS = {"intra_city": 24, "yrd_key_12h": 12, "yrd_24h": 24, "national_key_48h": 48}
TIER1 = ("310000", "320100", "320200", "330100", "330200", "330700")  # 003 四(一) 一级
TIER2 = ("320500", "320300", "320600", "320700", "320800", "330300", "330400", "331000")


@pytest.mark.parametrize(("origin", "dest", "company", "want"), [
    pytest.param("310000", "330100", "ZTO", "yrd_key_12h",
                 id="Shanghai-Hangzhou: tier-1 park cities, 长三角地区内重点城市间12小时"),
    pytest.param("331000", "320500", "SF", "yrd_key_12h",
                 id="Taizhou-Suzhou: tier-2 park cities are YRD key cities"),
    pytest.param("320400", "310000", "YTO", "yrd_key_12h",
                 id="Changzhou-Shanghai: Changzhou's own plan (000 二) counts it a key city"),
    pytest.param("330500", "320400", "STO", "yrd_24h",
                 id="Huzhou-Changzhou: YRD, Huzhou no key city, 其他城市间24小时"),
    pytest.param("321200", "331100", "LOCALX", "yrd_24h",
                 id="Taizhou(Jiangsu)-Lishui: the 24h class covers any company"),
    pytest.param("310000", "420100", "SF", "national_key_48h",
                 id="Shanghai-Wuhan: national key cities, 国内重点城市间48小时"),
    pytest.param("331000", "420100", "EMS", "national_key_48h",
                 id="Taizhou-Wuhan: a YRD key city is a national key city (001 一(二)2)"),
    pytest.param("420100", "320400", "JD", "national_key_48h",
                 id="Wuhan-Changzhou: Changzhou's 48h target (000 二) has routes"),
    pytest.param("310000", "420100", "LOCALX", None,
                 id="48h only for 重点快递企业 (major brands): other company unclassified"),
    pytest.param("371500", "420100", "JD", None, id="Liaocheng is no key city: unclassified"),
    pytest.param("330500", "110000", "SF", None,
                 id="Huzhou-Beijing: Huzhou is YRD but no key city: unclassified"),
    pytest.param("310000", "310000", "ZTO", "intra_city",
                 id="Shanghai-Shanghai: same city, not 城市间, intra_city"),
    pytest.param("371500", "371500", "LOCALX", "intra_city",
                 id="Liaocheng-Liaocheng: intra_city for any company"),
])
def test_route_class_of_each_kind_of_city_pair(origin: str, dest: str, company: str,
                                                want: str | None) -> None:
    """The first class whose endpoints and companies qualify applies; same-city parcels are
    intra_city before any inter-city class; a pair no class covers is unclassified (None)."""
    rc = ROUTES.classify(origin, dest, company)
    assert (rc.name if rc else None) == want
    if rc is not None:
        assert rc.hours == HOURS[rc.name]
        assert rc.judged is (rc.name != INTRA_CITY)


def test_key_city_lists_are_the_documented_reading() -> None:
    """YRD key cities = the tier-1 and tier-2 express-park cities of 003 四(一) plus
    Changzhou; national key cities contain every YRD key city (no contradiction)."""
    yrd_key = ROUTES.by_name("yrd_key_12h").endpoints
    national = ROUTES.by_name("national_key_48h").endpoints
    assert yrd_key == frozenset(TIER1 + TIER2 + ("320400",))
    assert national is not None and yrd_key is not None and yrd_key <= national
    assert {"110000", "120000", "310000", "500000", "420100"} <= national


@pytest.mark.parametrize(
    "target", [t for t in CATALOG.targets if t.route_class and t.scope == "city"],
    ids=lambda t: t.id)
def test_every_seed_city_on_time_target_has_routes(target: object) -> None:
    """Each seed city's own 12h/24h/48h target can be reached: some known city sends a
    major brand's parcel to the seed city on that target's route class (cell = delivery
    city), so the target has data on real traffic."""
    from courierwatch.catalog import PolicyTarget
    assert isinstance(target, PolicyTarget)
    (city,) = target.cities
    company = target.companies[0] if target.companies else "ZTO"
    origins = [o for o in CITIES
               if (rc := ROUTES.classify(o, city, company)) and rc.name == target.route_class]
    assert origins, target.id


def test_every_route_class_target_names_a_judged_class() -> None:
    """No target is set on intra_city: no plan sets a same-city time limit."""
    for t in CATALOG.targets:
        if t.route_class is not None:
            assert ROUTES.by_name(t.route_class).judged, t.id
    assert not CATALOG.for_cell("310000", "on_time_rate", dt.date(2026, 1, 1), INTRA_CITY)


def test_intra_city_is_reported_but_outside_the_overall_on_time_rate() -> None:
    """on_time_rate.intra_city is a figure of its own; the overall on_time_rate sums only the
    judged inter-city classes (9 of 10 + 3 of 4 = 12 of 14, not 12+5 of 14+8)."""
    key = ("310000", "ZTO", "2026-11-02 00:00:00")
    joined = {key: [OnTimeCounts("yrd_key_12h", 10, 9, 0, 0),
                    OnTimeCounts("yrd_24h", 4, 3, 0, 0),
                    OnTimeCounts(INTRA_CITY, 8, 5, 0, 0)]}
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
