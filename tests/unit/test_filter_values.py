"""The values readers and token scopes name, resolved and refused by one set of rules
(issue 23, items 1 and 4). Pure: no store.

Seen failing: before, `parse_scope("city:台州")` raised ScopeError (codes only), and
`zto` was refused by the API's filter while the CLI passed it on unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from courierwatch.filter_values import (
    FilterError,
    check_range,
    kpi_matches,
    parse_city,
    parse_company,
    parse_kpis,
)
from courierwatch.scope import ScopeError, parse_scope

CST = timezone(timedelta(hours=8))


@pytest.mark.parametrize(("text", "code"), [("台州", "331000"), ("泰州", "321200"),
                                            ("Taizhou (Zhejiang)", "331000"),
                                            ("taizhou (jiangsu)", "321200"),
                                            ("331000", "331000"), ("yrd", "YRD")])
def test_city_names_and_codes(text: str, code: str) -> None:
    assert parse_city(text) == code


def test_an_ambiguous_city_is_refused_with_both_candidates_and_codes() -> None:
    with pytest.raises(FilterError) as err:
        parse_city("taizhou")
    assert "台州 331000" in str(err.value) and "泰州 321200" in str(err.value)


@pytest.mark.parametrize("text", ["99999", "Atlantis", "33100a", "0310000"])
def test_malformed_or_unknown_cities_are_refused(text: str) -> None:
    with pytest.raises(FilterError):
        parse_city(text)


def test_companies_in_any_case_and_star() -> None:
    assert parse_company("zto") == "ZTO" and parse_company(" Yunda ") == "YUNDA"
    assert parse_company("*") == "*"
    for bad in ("Z T O", "SF'--", ""):
        with pytest.raises(FilterError):
            parse_company(bad)


def test_kpi_lists() -> None:
    assert parse_kpis("on_time_rate, delay_rate") == ("on_time_rate", "delay_rate")
    assert kpi_matches("on_time_rate.intra_city", ("on_time_rate",))
    assert not kpi_matches("delay_rate", ("on_time_rate",))
    for bad in ("speed", "on_time_rate,", ",", "on_time_rate.X Y"):
        if bad.strip(", "):
            with pytest.raises(FilterError):
                parse_kpis(bad if bad != "on_time_rate," else "on_time_rate,speed")


def test_reversed_and_empty_ranges_are_refused() -> None:
    a, b = datetime(2026, 11, 10, tzinfo=CST), datetime(2026, 11, 20, tzinfo=CST)
    check_range(a, b)
    check_range(None, b)
    with pytest.raises(FilterError, match="reversed"):
        check_range(b, a)
    with pytest.raises(FilterError, match="empty"):
        check_range(a, a)


@pytest.mark.parametrize(("text", "canonical"), [
    ("city:台州", "city:331000"), ("city:Taizhou (Zhejiang)", "city:331000"),
    ("province:浙江", "province:33"), ("province:Jiangsu", "province:32"),
    ("province:浙江省,city:武汉", "province:33,city:420100")])
def test_scopes_by_name(text: str, canonical: str) -> None:
    assert str(parse_scope(text)) == canonical


@pytest.mark.parametrize("text", ["city:taizhou", "city:Atlantis", "province:Atlantis",
                                  "city:YRD", "province:3"])
def test_scopes_naming_nothing_or_two_things_are_refused(text: str) -> None:
    with pytest.raises(ScopeError):
        parse_scope(text)


def test_an_ambiguous_scope_names_its_candidates() -> None:
    with pytest.raises(ScopeError, match="台州 331000.*|泰州 321200"):
        parse_scope("city:Taizhou")
