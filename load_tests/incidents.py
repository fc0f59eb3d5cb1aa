"""Incidents: a window in which one cell (city x company) has more of one kind of trouble.

An incident multiplies a base rate of the parcel model (load_tests/lifecycle.py) for the
parcels it touches, so that dashboards and alerts have something to find:

| kind            | what `factor` multiplies                      | side of the parcel checked  |
| --------------- | --------------------------------------------- | --------------------------- |
| `delay`         | EXCEPTION DELAY probability (parcel then late) | origin at acceptance, dest  |
| `damage`        | EXCEPTION DAMAGE probability                   | at planned arrival; the     |
| `loss`          | EXCEPTION LOSS probability                     | exception is emitted there  |
| `complaint`     | COMPLAINT FILED probability                    | dest at delivery            |
| `no_xray`       | sets ACCEPTED without `security.xray` to factor %  | origin at acceptance     |
| `locker_outage` | divides the LOCKER delivery share (to STATION) | dest at delivery            |
| `late`          | share of parcels delivered after their class's | dest, at acceptance         |
|                 | hours (1.02-1.5x them: 49-72 h on a 48 h route) |                             |

Probabilities are capped at 1. The baseline X-ray share is 100 %, so `no_xray` sets the
share of acceptances without X-ray to `factor` per cent instead of multiplying it.
`city` and `company` may be `*` (any).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from courierwatch.cities import resolve_city
from courierwatch.periods import CST

KINDS = ("delay", "damage", "loss", "complaint", "no_xray", "locker_outage", "late")
ANY = "*"


@dataclass(frozen=True, slots=True)
class Incident:
    """`kind` trouble in `city` x `company` for `hours` from `start` (aware), rate x `factor`."""

    city: str
    company: str
    kind: str
    start: datetime
    hours: float
    factor: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"incident kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.start.tzinfo is None:
            raise ValueError("incident start must be timezone-aware")
        if self.hours <= 0 or self.factor < 0:
            raise ValueError("incident hours must be > 0 and factor >= 0")


def parse_incident(text: str) -> Incident:
    """Parse the CLI form `kind:city:company:start_iso:hours:factor`.

    `city` is a GB/T 2260 code or a name `resolve_city` knows (`台州`, `wuhan`), or `*`;
    `company` a brand code or `*`; `start_iso` an ISO 8601 time (it contains colons; a time
    without offset is read as China Standard Time, UTC+8); `hours` and `factor` numbers.
    Example: `delay:331000:ZTO:2026-11-02T08:00:00+08:00:6:20` (Taizhou ZTO delays x20 for
    six hours from 08:00). Raises ValueError on a malformed text.
    """
    head = text.split(":", 3)
    tail = head[-1].rsplit(":", 2) if len(head) == 4 else []
    if len(tail) != 3:
        raise ValueError(f"incident {text!r} is not kind:city:company:start_iso:hours:factor")
    kind, city, company = (part.strip() for part in head[:3])
    start_text, hours, factor = (part.strip() for part in tail)
    try:
        start = datetime.fromisoformat(start_text)
        hours_f, factor_f = float(hours), float(factor)
    except ValueError as exc:
        raise ValueError(f"incident {text!r}: {exc}") from exc
    if start.tzinfo is None:
        start = start.replace(tzinfo=CST)
    code = ANY if city == ANY else resolve_city(city)
    return Incident(code, company.upper(), kind.lower(), start, hours_f, factor_f)


class IncidentBook:
    """Incidents indexed for the per-parcel question "by how much is this rate raised?"."""

    def __init__(self, incidents: Iterable[Incident]) -> None:
        self._by_kind: dict[str, list[tuple[str, str, int, int, float]]] = {}
        for inc in incidents:
            start_ms = int(inc.start.timestamp() * 1000)
            end_ms = start_ms + int(inc.hours * 3_600_000)
            self._by_kind.setdefault(inc.kind, []).append(
                (inc.city, inc.company, start_ms, end_ms, inc.factor))
        self.companies = frozenset(c for rows in self._by_kind.values() for _, c, *_ in rows)

    def __bool__(self) -> bool:
        return bool(self._by_kind)

    def touches(self, company: str) -> bool:
        """False when no incident can apply to `company` (the fast path skips the book)."""
        return bool(self._by_kind) and (company in self.companies or ANY in self.companies)

    def factor(self, kind: str, city: str, company: str, t_ms: int) -> float:
        """Product of the factors of `kind` incidents covering city x company at `t_ms`."""
        f = 1.0
        for i_city, i_company, start_ms, end_ms, factor in self._by_kind.get(kind, ()):
            if (start_ms <= t_ms < end_ms and i_city in (city, ANY)
                    and i_company in (company, ANY)):
                f *= factor
        return f
