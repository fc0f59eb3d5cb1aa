"""The policy catalog: every target traceable to a verbatim sentence of its seed document."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from courierwatch.catalog import COMPARATORS, UNITS, Catalog, PolicyTarget, load_catalog
from courierwatch.kpi import KPI_BY_NAME

# The repository's copy (docs/seeds), else the workplace's shared/seeds beside the clone.
_REPO = Path(__file__).resolve().parents[2]
SEEDS = next((p for p in (_REPO / "docs" / "seeds", _REPO.parent / "shared" / "seeds")
              if p.is_dir()), _REPO / "docs" / "seeds")
CATALOG = load_catalog()
IDS = [t.id for t in CATALOG.targets]
ROUTE_HOURS = {"yrd_key_12h": "12小时", "yrd_24h": "24小时", "national_key_48h": "48小时",
               "changzhou_key_12h": "12小时", "changzhou_24h": "24小时",
               "changzhou_national_key_48h": "48小时"}
# Wording the catalog reads as 100 % when no figure is given (the non-numeric rule of the
# policies.yaml header and docs/policies.md).
ALL_WORDS = ("100%", "全覆盖", "全面落实", "全面配备", "全面实施", "严格落实", "落实“",
             "不再二次包装", "乡乡有网点", "实现直达")


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)  # \s covers full-width spaces (U+3000) and tabs


def _fmt(x: float) -> str:
    return f"{round(x, 6):g}"


def _number_forms(t: PolicyTarget) -> list[str]:
    """Ways the threshold can be written in Chinese plan text."""
    x = t.threshold
    forms = [_fmt(x)]
    if t.unit == "ratio":
        forms.append(_fmt(x * 100))  # "90%" in text, "（%） 65 90" in the 专栏 table
    for scale, word in ((1e12, "万亿"), (1e8, "亿"), (1e4, "万")):
        if x >= scale:
            forms.append(_fmt(x / scale) + word)
    return forms


def _has_number(quote: str, form: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", quote) is not None


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_quote_is_verbatim_in_source(target: PolicyTarget) -> None:
    """Every quote occurs in its seed file once whitespace is removed from both."""
    if not SEEDS.is_dir():
        pytest.skip(f"seed folder {SEEDS} is absent")
    path = SEEDS / target.source
    assert path.is_file(), f"{target.id}: no seed file {target.source}"
    assert _norm(target.quote) in _norm(path.read_text("utf-8")), target.id


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_threshold_is_in_quote(target: PolicyTarget) -> None:
    """The threshold (or its %, 亿/万 form) is written in the quote; 1.0 may be 'all' wording,
    and route-class targets must name their hour limit."""
    quote = _norm(target.quote)
    spaced = re.sub(r"\s+", " ", target.quote)  # keep the 专栏 table's cells apart
    if target.route_class is not None:
        assert ROUTE_HOURS[target.route_class] in quote, target.id
    if any(_has_number(q, f) for q in (quote, spaced) for f in _number_forms(target)):
        return
    assert target.threshold == 1.0 and target.unit == "ratio", (target.id, _number_forms(target))
    assert target.route_class is not None or any(w in quote for w in ALL_WORDS), target.id


def test_ids_unique_and_slugs() -> None:
    """Ids are unique, lower-case slugs starting with the plan's place and year."""
    assert len(IDS) == len(set(IDS))
    for tid in IDS:
        assert re.fullmatch(r"(changzhou|taizhou|liaocheng|yrd|wuhan)-20\d\d-[a-z0-9-]+", tid), tid


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_metric_unit_known(target: PolicyTarget) -> None:
    """Units are known; event targets use a real KPI in its scaled unit; metric is snake_case;
    percentage-like ratios lie in 0..1."""
    assert target.unit in UNITS and target.comparator in COMPARATORS
    assert re.fullmatch(r"[a-z][a-z0-9_]*", target.metric), target.id
    if target.measurable_by == "events":
        assert KPI_BY_NAME[target.metric].unit == target.unit, target.id
    if target.unit == "ratio":
        assert 0.0 <= target.threshold <= 1.0, target.id
    assert (target.route_class is not None) == (target.metric == "on_time_rate"), target.id


@pytest.mark.parametrize("target", CATALOG.targets, ids=IDS)
def test_scope_and_cities(target: PolicyTarget) -> None:
    """The YRD plan (seed 003) is regional over 31*/32*/33*; every other plan is its city's."""
    expected = {"000_7b0928e13d512c50.txt": ("city", ("320400",)),
                "001_9f9979403268b96b.txt": ("city", ("331000",)),
                "002_859884e0d471a69c.txt": ("city", ("371500",)),
                "003_919ced1e3435c65d.txt": ("region", ("31*", "32*", "33*")),
                "004_5f6d5c30ca0e718a.txt": ("city", ("420100",))}
    assert (target.scope, target.cities) == expected[target.source], target.id


# id, metric, comparator, threshold, unit, effective, measurable_by: read off the seeds by hand.
KNOWN = [
    ("taizhou-2022-locker-share", "locker_share", ">=", 0.12, "ratio", "2022-01-01", "events"),
    ("taizhou-2022-standard-packaging-share", "standard_packaging_share", ">", 0.95, "ratio",
     "2022-01-01", "events"),
    ("taizhou-2022-no-secondary-packaging", "no_secondary_packaging_share", ">=", 0.85, "ratio",
     "2022-01-01", "events"),
    ("taizhou-2022-recycled-bag-share", "recycled_bag_share", ">=", 0.9, "ratio", "2022-01-01",
     "events"),
    ("taizhou-2022-outlet-standardisation", "outlet_standardisation_rate", ">=", 0.9, "ratio",
     "2022-01-01", "reference"),
    ("taizhou-2022-annual-volume", "annual_volume", ">", 1.45e9, "parcels_per_year",
     "2022-01-01", "reference"),
    ("taizhou-2022-township-delivery-frequency", "township_delivery_frequency_per_week", ">=", 5,
     "times_per_week", "2022-01-01", "reference"),
    ("yrd-2020-delay-rate", "delay_rate", "<=", 2, "per_1000", "2020-01-01", "events"),
    ("yrd-2020-damage-rate", "damage_rate", "<=", 2, "per_100000", "2020-01-01", "events"),
    ("yrd-2020-loss-rate", "loss_rate", "<=", 1, "per_100000", "2020-01-01", "events"),
    ("yrd-2020-valid-complaint-rate", "valid_complaint_rate", "<=", 10.5, "per_1000000",
     "2020-01-01", "events"),
    ("yrd-2020-locker-share", "locker_share", ">=", 0.12, "ratio", "2020-01-01", "events"),
    ("yrd-2020-e-waybill-share", "e_waybill_share", ">=", 0.9, "ratio", "2020-01-01", "events"),
    ("yrd-2020-satisfaction-score", "satisfaction_score", ">=", 80, "score", "2020-01-01",
     "reference"),
    ("yrd-2020-annual-volume", "annual_volume", ">=", 2.65e10, "parcels_per_year", "2020-01-01",
     "reference"),
    ("changzhou-2020-complaint-satisfaction", "company_complaint_satisfaction", ">=", 0.98,
     "ratio", "2020-01-01", "events"),
    ("changzhou-2020-regulator-appeal-satisfaction", "complaint_satisfaction", ">=", 0.99,
     "ratio", "2020-01-01", "events"),
    ("changzhou-2020-university-express-room", "university_express_room_area_min", ">=", 50,
     "square_metres", "2020-01-01", "reference"),
    ("changzhou-2020-new-development-express-room", "new_development_express_room_area_min",
     ">=", 20, "square_metres", "2020-01-01", "reference"),
    ("taizhou-2022-real-name", "real_name_rate", ">=", 1.0, "ratio", "2020-08-22", "events"),
    ("yrd-2020-world-renowned-brands", "world_renowned_brand_count_hq_in_region", ">=", 1,
     "count", "2020-01-01", "reference"),
    ("changzhou-2020-12305-acceptance", "complaint_acceptance_rate", ">=", 1.0, "ratio",
     "2020-01-01", "events"),
    ("changzhou-2020-annual-volume", "annual_volume", ">", 3e8, "parcels_per_year", "2020-01-01",
     "reference"),
    ("liaocheng-2024-village-station-coverage", "village_delivery_station_coverage", ">", 0.85,
     "ratio", "2024-01-01", "reference"),
    ("liaocheng-2025-village-station-coverage", "village_delivery_station_coverage", ">=", 1.0,
     "ratio", "2025-01-01", "reference"),
    ("liaocheng-2025-annual-volume", "annual_postal_express_volume", ">", 4e8,
     "parcels_per_year", "2025-01-01", "reference"),
    ("wuhan-2025-annual-volume", "annual_volume", ">", 2.3e9, "parcels_per_year", "2025-01-01",
     "reference"),
    ("wuhan-2025-revenue", "express_revenue_cny", ">=", 2.12e10, "cny_per_year", "2025-01-01",
     "reference"),
    ("wuhan-2025-green-packaging", "green_packaging_use_rate", ">=", 0.9, "ratio", "2025-01-01",
     "reference"),
]


@pytest.mark.parametrize(("tid", "metric", "comp", "threshold", "unit", "eff", "by"), KNOWN,
                         ids=[k[0] for k in KNOWN])
def test_known_targets(tid: str, metric: str, comp: str, threshold: float, unit: str, eff: str,
                       by: str) -> None:
    """Hand-checked targets match the seeds.

    超过/突破 is '>', 以上/不低于/达到 is '>=', the 专栏 delay/damage/loss/complaint rates '<='.
    """
    t = CATALOG.by_id(tid)
    assert (t.metric, t.comparator, t.unit, t.effective.isoformat(), t.measurable_by) == (
        metric, comp, unit, eff, by)
    assert t.threshold == pytest.approx(threshold)


@pytest.mark.parametrize(("route_class", "ids"), [
    ("yrd_key_12h", {"yrd-2020-yrd-key-12h"}),
    ("yrd_24h", {"yrd-2020-yrd-24h"}),
    ("national_key_48h", {"yrd-2020-national-key-48h"}),
    ("changzhou_key_12h", {"changzhou-2020-yrd-key-12h"}),
    ("changzhou_24h", {"changzhou-2020-yrd-24h"}),
    ("changzhou_national_key_48h", {"changzhou-2020-national-key-48h"}),
])
def test_route_class_targets(route_class: str, ids: set[str]) -> None:
    """The 12h/24h/48h limits are on-time targets of their route class, 100 % literal; in
    Changzhou's cells the YRD plan's targets read the YRD plan's classes and Changzhou's own
    targets its own reading (Changzhou a key city), never the other's."""
    found = CATALOG.for_cell("320400", "on_time_rate", dt.date(2020, 6, 1), route_class)
    assert {t.id for t in found} == ids
    assert all(t.comparator == ">=" and t.threshold == 1.0 for t in found)
    assert CATALOG.for_cell("320400", "on_time_rate", dt.date(2020, 6, 1)) == []


@pytest.mark.parametrize(("city", "expected"), [
    ("331000", True), ("310000", True), ("320400", True), ("321200", True),
    ("371500", False), ("420100", False), ("340100", False),
])
def test_yrd_prefix_patterns(city: str, expected: bool) -> None:
    """YRD targets (31*, 32*, 33*) cover Shanghai/Jiangsu/Zhejiang cities only."""
    assert CATALOG.by_id("yrd-2020-delay-rate").applies_to(city, dt.date(2021, 1, 1)) is expected


def test_city_targets_cover_only_their_city() -> None:
    """A city plan's target never applies to another city, even a YRD one."""
    t = CATALOG.by_id("taizhou-2022-locker-share")
    assert t.applies_to("331000", dt.date(2023, 1, 1))
    assert not t.applies_to("321200", dt.date(2023, 1, 1))  # 泰州 Jiangsu, not 台州
    assert not t.applies_to("3310001", dt.date(2023, 1, 1))


@pytest.mark.parametrize(("on", "expected"), [
    (dt.date(2021, 12, 31), False), (dt.date(2022, 1, 1), True), (dt.date(2030, 1, 1), True),
])
def test_effective_date(on: dt.date, expected: bool) -> None:
    """A target is in force from its effective date on, not before."""
    assert CATALOG.by_id("taizhou-2022-locker-share").applies_to("331000", on) is expected


def test_for_cell_filters() -> None:
    """for_cell returns only event targets for that metric, city and date."""
    taizhou = {t.id for t in CATALOG.for_cell("331000", "locker_share", dt.date(2022, 6, 1))}
    assert taizhou == {"taizhou-2022-locker-share", "yrd-2020-locker-share"}
    assert {t.id for t in CATALOG.for_cell("331000", "locker_share", dt.date(2021, 6, 1))} == {
        "yrd-2020-locker-share"}
    assert CATALOG.for_cell("371500", "locker_share", dt.date(2030, 1, 1)) == []
    assert CATALOG.for_cell("420100", "green_packaging_use_rate", dt.date(2030, 1, 1)) == []
    liaocheng = CATALOG.for_cell("371500", "no_secondary_packaging_share", dt.date(2026, 1, 1))
    assert [t.id for t in liaocheng] == ["liaocheng-2025-no-secondary-packaging"]


def _target(comparator: str, threshold: float = 0.5) -> PolicyTarget:
    return PolicyTarget("t", "locker_share", comparator, threshold, "ratio", "city", ("331000",),
                        dt.date(2022, 1, 1), "s.txt", "一、", "q", "events")


@pytest.mark.parametrize(("comparator", "below", "equal", "above"), [
    (">=", False, True, True), (">", False, False, True), ("<=", True, True, False),
    ("<", True, False, False), ("==", False, True, False),
])
def test_judge(comparator: str, below: bool, equal: bool, above: bool) -> None:
    """judge(value) is True exactly when `value comparator threshold` holds."""
    t = _target(comparator)
    assert (t.judge(0.4), t.judge(0.5), t.judge(0.6)) == (below, equal, above)


def test_export_keys_and_json() -> None:
    """export() has the DESIGN keys, ISO dates and list cities for every target."""
    rows = CATALOG.export()
    assert len(rows) == len(CATALOG.targets)
    design = {"id", "metric", "comparator", "threshold", "unit", "scope", "cities", "effective",
              "source", "section", "quote"}
    for row in rows:
        assert design <= row.keys()
        assert isinstance(row["cities"], list)
        assert dt.date.fromisoformat(row["effective"])


GOOD = """\
targets:
- id: a
  metric: locker_share
  comparator: ">="
  threshold: 0.12
  unit: ratio
  scope: city
  cities: ["331000"]
  effective: 2022-01-01
  source: x.txt
  section: "一、"
  quote: "q"
  measurable_by: events
  strength: binding
"""


def test_loader_accepts_good_file(tmp_path: Path) -> None:
    """A well-formed file loads into a Catalog."""
    p = tmp_path / "p.yaml"
    p.write_text(GOOD, "utf-8")
    cat = load_catalog(p)
    assert isinstance(cat, Catalog) and cat.targets[0].effective == dt.date(2022, 1, 1)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('comparator: ">="', 'comparator: "=>"', "bad comparator"),
    ("unit: ratio", "unit: percent", "unknown unit"),
    ("  quote: \"q\"\n", "", "missing field(s) quote"),
    ("metric: locker_share", "metric: locker_rate", "not a KPI name"),
    ("unit: ratio", "unit: per_1000", "differs from the KPI"),
    ("effective: 2022-01-01", "effective: 2022-13-01", "not an ISO date"),
    ('cities: ["331000"]', 'cities: ["Taizhou"]', "bad cities"),
    ("scope: city", "scope: world", "bad scope"),
    ("threshold: 0.12", "threshold: twelve", "not a number"),
    ("measurable_by: events", "measurable_by: events\n  route_class: x_1h", "unknown route_class"),
    ("strength: binding", "strength: soft", "strength 'soft' is not aspirational or binding"),
    ("strength: binding\n", "", "missing field(s) strength"),
    ("strength: binding", "strength: binding\n  companies: big_ones", "unknown company list"),
    ("strength: binding", "strength: binding\n  companies: [zto]", "companies must be null"),
])
def test_loader_errors_name_the_entry(tmp_path: Path, old: str, new: str, message: str) -> None:
    """A bad entry raises ValueError naming its id and the problem."""
    p = tmp_path / "p.yaml"
    p.write_text(GOOD.replace(old, new), "utf-8")
    with pytest.raises(ValueError, match=r"policy a: .*") as err:
        load_catalog(p)
    assert message in str(err.value)


def test_loader_rejects_duplicate_id(tmp_path: Path) -> None:
    """Two entries with one id are refused, naming the id."""
    p = tmp_path / "p.yaml"
    p.write_text(GOOD + GOOD.removeprefix("targets:\n"), "utf-8")
    with pytest.raises(ValueError, match="policy a: duplicate id"):
        load_catalog(p)


def test_loader_rejects_non_catalog(tmp_path: Path) -> None:
    """A file without a 'targets' list is refused."""
    p = tmp_path / "p.yaml"
    p.write_text("- 1\n", "utf-8")
    with pytest.raises(ValueError, match="targets"):
        load_catalog(p)
