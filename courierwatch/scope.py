"""Who may see what: the scope a caller's figures are filtered by (DESIGN.md "Who may see
what", issue 14).

A scope is `national` (every city), or a union of provinces (the 2-digit prefix of a GB/T
2260 code: 32 Jiangsu, 33 Zhejiang) and single cities. Text form, as `courierwatch tokens
add --scope` takes it: `national`, `province:33`, `city:331000`, or several comma-separated
items (`city:331000,city:330100`, `province:31,province:32,province:33`).

A region (the YRD: every city whose code starts 31, 32 or 33, seed 003) is visible only to
a scope that covers all of its cities: national, or one holding all three provinces. A
region row sums its cities, so a partial scope would read other provinces' figures through
it.

The SQL condition is built with bound parameters only: the scope's values travel as
`{scope_cities:Array(String)}` and `{scope_provinces:Array(String)}`, never as SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from courierwatch.cities import YRD_PROVINCE_PREFIXES, YRD_REGION, resolve_province
from courierwatch.filter_values import parse_city

NATIONAL = "national"
_PROVINCE = re.compile(r"[1-9][0-9]")
_CITY = re.compile(r"[1-9][0-9]{5}")
MAX_SCOPE_ITEMS = 64  # a token is one office; more items than this is a mistake


class ScopeError(ValueError):
    """The text is not a scope; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Scope:
    """A set of cities. Build with `Scope.national()`, `parse_scope` or the fields.

    Invariant: a national scope has no provinces and no cities listed; any other scope has at
    least one of either (an empty scope would see nothing and is refused when parsed).
    """

    is_national: bool
    provinces: frozenset[str] = frozenset()
    cities: frozenset[str] = frozenset()

    @staticmethod
    def national() -> Scope:
        return Scope(is_national=True)

    def covers(self, city: str) -> bool:
        """True when every row of `city` (a 6-digit code, or YRD) is visible in this scope."""
        if self.is_national:
            return True
        if city == YRD_REGION:
            return all(p in self.provinces for p in YRD_PROVINCE_PREFIXES)
        return city[:2] in self.provinces or city in self.cities

    def __str__(self) -> str:
        """The canonical text form (sorted items), the inverse of `parse_scope`."""
        if self.is_national:
            return NATIONAL
        return ",".join([f"province:{p}" for p in sorted(self.provinces)]
                        + [f"city:{c}" for c in sorted(self.cities)])

    def sql_condition(self, column: str, params: dict[str, object]) -> str:
        """A boolean SQL expression true exactly for rows of `column` inside this scope.

        `column` is an identifier chosen by the caller's code (never request input); the
        scope's codes are added to `params` and referenced as typed placeholders. National
        is the explicit condition `1`: every row, by decision, not by omission.
        """
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", column):
            raise ValueError(f"not a column identifier: {column!r}")
        if self.is_national:
            return "1"
        conds = []
        if self.provinces:
            params["scope_provinces"] = sorted(self.provinces)
            conds.append(f"substring({column}, 1, 2) IN {{scope_provinces:Array(String)}}")
        if self.cities:
            params["scope_cities"] = sorted(self.cities)
            conds.append(f"{column} IN {{scope_cities:Array(String)}}")
        if self.covers(YRD_REGION):  # stored region rows (published figures, alerts)
            params["scope_region"] = YRD_REGION
            conds.append(f"{column} = {{scope_region:String}}")
        return "(" + " OR ".join(conds) + ")"

    def sql_values(self) -> tuple[list[str], list[str]]:
        """(provinces, cities), sorted: for DDL that cannot take parameters (row policies)."""
        return sorted(self.provinces), sorted(self.cities)


def _named(resolve: Callable[[str], str], text: str, kind: str) -> str:
    """The code of a scope item given by code or name, by the resolver `kpi --city` uses:
    an ambiguous name (Taizhou) is refused with its candidates."""
    try:
        code = resolve(text)
    except ValueError as exc:
        raise ScopeError(str(exc)) from None
    pattern = _PROVINCE if kind == "province" else _CITY
    if not pattern.fullmatch(code):
        raise ScopeError(f"{kind}:{text} is not a {kind} code or name")
    return code


def parse_scope(text: str) -> Scope:
    """`national` | `province:NN` | `city:NNNNNN`, items joined by commas; raises ScopeError.
    A province or city may be named instead (`province:浙江`, `city:台州`, `city:Taizhou
    (Zhejiang)`), resolved as `kpi --city` resolves it; an ambiguous name is refused.

    Codes are checked strictly (a province is two digits not starting 0, a city six), so
    that a scope's values are known-safe before they ever reach a query or a DDL statement.
    """
    t = text.strip()
    if t.lower() == NATIONAL:
        return Scope.national()
    items = [i.strip() for i in t.split(",") if i.strip()]
    if not items:
        raise ScopeError("empty scope; use national, province:NN or city:NNNNNN[,city:...]")
    if len(items) > MAX_SCOPE_ITEMS:
        raise ScopeError(f"a scope lists at most {MAX_SCOPE_ITEMS} items, not {len(items)}")
    provinces: set[str] = set()
    cities: set[str] = set()
    for item in items:
        kind, _, code = item.partition(":")
        kind = kind.strip().lower()
        code = code.strip()
        if kind == "province" and code:
            provinces.add(_named(resolve_province, code, "province"))
        elif kind == "city" and code:
            cities.add(_named(parse_city, code, "city"))
        elif kind == NATIONAL:
            raise ScopeError("national cannot be combined with other items")
        else:
            raise ScopeError(f"not a scope item: {item!r}; expected province:NN or a name "
                             "(province:33, province:浙江) or city:NNNNNN or a name "
                             "(city:331000, city:台州, city:Taizhou (Zhejiang))")
    # A city inside a listed province adds nothing; drop it so the canonical form is minimal.
    cities = {c for c in cities if c[:2] not in provinces}
    return Scope(False, frozenset(provinces), frozenset(cities))
