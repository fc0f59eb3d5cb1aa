"""Scopes: parsing, coverage, the region rule, and the bound SQL condition (issue 14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from courierwatch.cities import CITIES, YRD_REGION, is_yrd
from courierwatch.scope import Scope, ScopeError, parse_scope

TAIZHOU, HANGZHOU, NANJING, SHANGHAI, WUHAN = "331000", "330100", "320100", "310000", "420100"


@pytest.mark.parametrize(("text", "canonical"), [
    pytest.param("national", "national", id="national"),
    pytest.param(" NATIONAL ", "national", id="national-case-space"),
    pytest.param("province:33", "province:33", id="province"),
    pytest.param("city:331000", "city:331000", id="city"),
    pytest.param("city:331000,city:330100", "city:330100,city:331000", id="two-cities-sorted"),
    pytest.param("city:331000, city:331000", "city:331000", id="duplicate-city"),
    pytest.param("province:33,city:331000,city:420100", "province:33,city:420100",
                 id="city-inside-province-dropped"),
    pytest.param("province:31,province:32,province:33", "province:31,province:32,province:33",
                 id="yrd-provinces"),
])
def test_parse_gives_the_canonical_form_and_round_trips(text: str, canonical: str) -> None:
    """A scope's text form is canonical (sorted, minimal) and parses back to the same scope."""
    scope = parse_scope(text)
    assert str(scope) == canonical
    assert parse_scope(str(scope)) == scope


@pytest.mark.parametrize("text", [
    pytest.param("", id="empty"),
    pytest.param(",", id="only-comma"),
    pytest.param("province:3", id="province-one-digit"),
    pytest.param("province:033", id="province-three-digits"),
    pytest.param("province:03", id="province-leading-zero"),
    pytest.param("city:33100", id="city-five-digits"),
    pytest.param("city:031000", id="city-leading-zero"),
    pytest.param("city:٣٣١٠٠٠", id="city-arabic-indic-digits"),
    pytest.param("city:331000') OR 1=1 --", id="sql-injection"),
    pytest.param("national,city:331000", id="national-combined"),
    pytest.param("county:331002", id="unknown-kind"),
    pytest.param("331000", id="bare-code"),
    pytest.param(",".join(f"city:{330000 + i}" for i in range(1, 70)), id="too-many-items"),
])
def test_parse_refuses_anything_else(text: str) -> None:
    """Only national, province:NN and city:NNNNNN (ASCII digits, no leading 0) are scopes."""
    with pytest.raises(ScopeError):
        parse_scope(text)


@pytest.mark.parametrize(("scope", "city", "covered"), [
    pytest.param("national", WUHAN, True, id="national-any-city"),
    pytest.param("national", YRD_REGION, True, id="national-yrd"),
    pytest.param("province:33", TAIZHOU, True, id="province-own-city"),
    pytest.param("province:33", HANGZHOU, True, id="province-other-own-city"),
    pytest.param("province:33", NANJING, False, id="province-other-province"),
    pytest.param("province:33", YRD_REGION, False, id="province-not-whole-yrd"),
    pytest.param("city:331000", TAIZHOU, True, id="city-own"),
    pytest.param("city:331000", "321200", False, id="city-taizhou-jiangsu-is-another-city"),
    pytest.param("city:331000", WUHAN, False, id="city-wuhan"),
    pytest.param("city:331000", YRD_REGION, False, id="city-not-yrd"),
    pytest.param("province:31,province:32,province:33", YRD_REGION, True, id="yrd-provinces"),
    pytest.param("province:31,province:32", YRD_REGION, False, id="two-of-three-provinces"),
    pytest.param("city:310000,city:320100,city:330100", YRD_REGION, False,
                 id="some-yrd-cities-not-all"),
])
def test_covers(scope: str, city: str, covered: bool) -> None:
    """A scope covers its cities; the YRD only when every YRD city (31, 32, 33) is covered."""
    assert parse_scope(scope).covers(city) is covered


def test_yrd_rule_agrees_with_the_city_registry() -> None:
    """A scope covers the YRD iff it covers every known YRD city and could cover any other
    code in 31/32/33: checked here against the registry for the YRD provinces' scope."""
    yrd = parse_scope("province:31,province:32,province:33")
    assert all(yrd.covers(c) == is_yrd(c) for c in CITIES)
    city_set = Scope(False, cities=frozenset(c for c in CITIES if is_yrd(c)))
    assert all(city_set.covers(c) for c in CITIES if is_yrd(c))
    assert not city_set.covers(YRD_REGION)  # a listed set cannot vouch for unlisted codes


def test_sql_condition_binds_values_as_parameters() -> None:
    """The condition names typed placeholders; the codes are only in the parameters."""
    params: dict[str, object] = {}
    cond = parse_scope("province:32,city:331000,city:420100").sql_condition("city", params)
    assert cond == ("(substring(city, 1, 2) IN {scope_provinces:Array(String)} "
                    "OR city IN {scope_cities:Array(String)})")
    assert params == {"scope_provinces": ["32"], "scope_cities": ["331000", "420100"]}
    national: dict[str, object] = {}
    assert Scope.national().sql_condition("d_city", national) == "1" and national == {}
    yrd: dict[str, object] = {}
    cond = parse_scope("province:31,province:32,province:33").sql_condition("city", yrd)
    assert cond.endswith("OR city = {scope_region:String})") and yrd["scope_region"] == "YRD"


def test_sql_condition_refuses_a_column_that_is_not_an_identifier() -> None:
    """The column comes from code, but a non-identifier is refused rather than pasted."""
    with pytest.raises(ValueError):
        Scope.national().sql_condition("city) OR (1", {})


@given(st.text(max_size=80))
def test_any_text_is_refused_or_yields_only_digit_codes(text: str) -> None:
    """Whatever the input, a parsed scope holds only ASCII-digit codes of the right length,
    and its SQL condition contains none of them (they travel as parameters)."""
    try:
        scope = parse_scope(text)
    except ScopeError:
        return
    assert all(len(p) == 2 and p.isascii() and p.isdigit() for p in scope.provinces)
    assert all(len(c) == 6 and c.isascii() and c.isdigit() for c in scope.cities)
    cond = scope.sql_condition("city", {})
    assert not any(code in cond for code in scope.provinces | scope.cities)
