"""The values a reader may ask for (city, company, KPI, time range, period), checked once.

The command line and the HTTP API take the same values with the same rules, so a mistake is
refused the same way in both, in one line that says what would have been right:

- a city is a known name (台州, Taizhou (Zhejiang), taizhou is ambiguous and refused with
  the candidates and their codes), a 6-digit code, or YRD (courierwatch.cities);
- a company is a brand code in any case (zto -> ZTO), or `*` for the all-company rows;
- a KPI list is comma-separated identifiers of courierwatch.kpi (or `on_time_rate.<class>`);
- a range has its end after its start.

Whether a well-formed code nobody registered is *known* depends on the data (an import may
bring city 990000 or company OLIST): the store decides that (warehouse.filters.unknown_values).
Pure: no I/O.
"""

from __future__ import annotations

import re
from datetime import datetime

from courierwatch.cities import YRD_REGION, resolve_city
from courierwatch.kpi import KPI_NAMES, ROUTE_UNCLASSIFIED_KPI

ALL_COMPANIES = "*"
PERIODS = ("hour", "day", "week", "month", "range")
_CITY_CODE = re.compile(r"[1-9][0-9]{5}")
_COMPANY = re.compile(r"[A-Z][A-Z0-9_]{0,15}")  # scan.v1's brand code (courierwatch.contract)
_ROUTE_CLASS = re.compile(r"[a-z0-9_]{1,32}")


class FilterError(ValueError):
    """A value a reader asked for that names nothing: the message says what would."""


def parse_city(text: str) -> str:
    """The code of a city name, code or YRD. Raises FilterError for an unknown or ambiguous
    name (naming the candidates with their codes) and for a code of the wrong shape."""
    try:
        code = resolve_city(text)
    except ValueError as exc:
        raise FilterError(str(exc)) from None
    if code != YRD_REGION and not _CITY_CODE.fullmatch(code):
        raise FilterError(f"city {text!r}: not a 6-digit GB/T 2260 code, a known city name "
                          "or YRD")
    return code


def parse_company(text: str) -> str:
    """A brand code, upper-cased (`zto` is ZTO), or `*` (the rows summing every company)."""
    code = text.strip().upper()
    if code == ALL_COMPANIES:
        return code
    if not _COMPANY.fullmatch(code):
        raise FilterError(f"company {text!r}: not a brand code (letters, digits and _, such "
                          "as SF, ZTO, YUNDA) or * for all companies")
    return code


def parse_kpis(text: str) -> tuple[str, ...]:
    """KPI identifiers, comma-separated; each must be a KPI of courierwatch.kpi (or
    `on_time_rate.<route class>`, or route_unclassified_share)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise FilterError("kpi: give one or more KPI names, comma-separated")
    for n in names:
        base, _, route_class = n.partition(".")
        ok = (n in KPI_NAMES or n == ROUTE_UNCLASSIFIED_KPI
              or (base == "on_time_rate" and bool(_ROUTE_CLASS.fullmatch(route_class))))
        if not ok:
            raise FilterError(f"unknown KPI {n!r}; known: {', '.join(KPI_NAMES)}")
    return names


def parse_period(text: str) -> str:
    if text not in PERIODS:
        raise FilterError(f"by {text!r}: one of {', '.join(PERIODS)}")
    return text


def check_range(start: datetime | None, end: datetime | None) -> None:
    """Refuse a range whose end is not after its start (reversed, or empty)."""
    if start is not None and end is not None and end <= start:
        kind = "empty" if end == start else "reversed"
        raise FilterError(f"the range is {kind}: --to ({end.isoformat()}) must be after "
                          f"--from ({start.isoformat()})")


def kpi_matches(kpi: str, wanted: tuple[str, ...]) -> bool:
    """True when a row's KPI is asked for: `on_time_rate` also takes its route classes."""
    return kpi in wanted or kpi.split(".", 1)[0] in wanted
