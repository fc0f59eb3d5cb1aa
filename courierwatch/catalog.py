"""Policy catalog: the quantitative targets of the seed plans, each tied to its source sentence.

Contract: `load_catalog()` reads `courierwatch/data/policies.yaml` (or a given file), validates
every entry and returns an immutable `Catalog`; nothing else here does I/O or reads the
environment. A target with `measurable_by == "events"` names a KPI of `courierwatch.kpi` and
is expressed in that KPI's scaled unit, so `judge(kpi_value)` compares like with like.

Every target carries a `strength` read off its sentence (`aspirational` for 力争 "strive to"
and 基本 "basically", `binding` otherwise) and a `companies` scope (None: every company; a
tuple of brand codes, usually the `major_brands` list of data/companies.yaml, for sentences
about 主要快递品牌企业 / 重点快递企业). docs/policies.md states every reading rule.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from courierwatch.companies import load_company_lists
from courierwatch.kpi import KPI_BY_NAME

COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
}
UNITS: frozenset[str] = frozenset({
    # the scaled units of the event KPIs (courierwatch.kpi)
    "count", "ratio", "per_1000", "per_100000", "per_1000000", "mm_per_parcel",
    # reference-data units
    "parcels_per_year", "cny_per_year", "persons", "times_per_week", "score",
    "parcels_per_capita_per_year", "count_per_county", "square_metres",
})
SCOPES: frozenset[str] = frozenset({"city", "region"})
MEASURABLE_BY: frozenset[str] = frozenset({"events", "reference"})
BINDING, ASPIRATIONAL = "binding", "aspirational"
STRENGTHS: frozenset[str] = frozenset({BINDING, ASPIRATIONAL})
ALL_COMPANIES = "*"  # the company of the all-companies rows
ROUTE_CLASSES: frozenset[str] = frozenset({
    "yrd_key_12h", "yrd_24h", "national_key_48h",
    # Changzhou's own reading of the same sentence (000 二), counted in its cells only.
    "changzhou_key_12h", "changzhou_24h", "changzhou_national_key_48h"})
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
# A SafeLoader that leaves dates as strings, so a bad date is reported with its entry id.
_Loader: Any = type("_Loader", (yaml.SafeLoader,), {"yaml_implicit_resolvers": {
    key: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}})
REQUIRED: tuple[str, ...] = ("id", "metric", "comparator", "threshold", "unit", "scope", "cities",
                             "effective", "source", "section", "quote", "measurable_by",
                             "strength")
OPTIONAL: frozenset[str] = frozenset({"route_class", "note", "companies", "reading"})
LITERAL, INFERRED = "literal", "inferred"
READINGS: frozenset[str] = frozenset({LITERAL, INFERRED})


@dataclass(frozen=True, slots=True)
class PolicyTarget:
    """One target: `metric comparator threshold` (in `unit`), in force from `effective`.

    `cities` holds 6-digit codes or prefix patterns such as "32*" (every city whose code
    starts with 32). `route_class` is set only for on-time targets of one SLA route class.
    `companies` None applies the target to every company; a tuple of brand codes applies it
    only to those companies' own cells, never to an all-companies (`*`) row, which also sums
    the others. `strength` is `binding` or `aspirational` (力争 / 基本 in the sentence).
    `reading` is `literal`, or `inferred` when the figure is our inference from a sentence
    that sets none (the note says why): shown like an aspirational target, never paged.
    """

    id: str
    metric: str
    comparator: str
    threshold: float
    unit: str
    scope: str
    cities: tuple[str, ...]
    effective: dt.date
    source: str
    section: str
    quote: str
    measurable_by: str
    route_class: str | None = None
    note: str | None = None
    strength: str = BINDING
    companies: tuple[str, ...] | None = None
    reading: str = LITERAL

    def covers_company(self, company: str) -> bool:
        """True when the target judges this company's cells (`*` = the all-companies row).

        A target scoped to some companies is judged on each of those companies' cells only:
        an all-companies row also counts the other companies, so it is not judged against it.
        """
        if self.companies is None:
            return True
        return company != ALL_COMPANIES and company in self.companies

    @property
    def aspirational(self) -> bool:
        """True for a 力争 / 基本 target or an inferred reading: a breach is shown as such
        and pages nobody."""
        return self.strength == ASPIRATIONAL or self.reading == INFERRED

    def covers_city(self, city: str) -> bool:
        """True when `city` equals a listed code or starts with a listed "NN*" prefix."""
        return any(city.startswith(c[:-1]) if c.endswith("*") else city == c
                   for c in self.cities)

    def applies_to(self, city: str, on: dt.date) -> bool:
        """True when the target covers `city` and is in force on `on` (on >= effective)."""
        return on >= self.effective and self.covers_city(city)

    def judge(self, value: float) -> bool:
        """True = pass: `value comparator threshold` holds (value in the target's unit)."""
        return COMPARATORS[self.comparator](value, self.threshold)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the DESIGN export keys (id ... quote, with `companies` null for
        every company) plus measurable_by, route_class, note and reading."""
        return {
            "id": self.id, "metric": self.metric, "comparator": self.comparator,
            "threshold": self.threshold, "unit": self.unit, "scope": self.scope,
            "cities": list(self.cities),
            "companies": None if self.companies is None else list(self.companies),
            "strength": self.strength, "effective": self.effective.isoformat(),
            "source": self.source, "section": self.section, "quote": self.quote,
            "measurable_by": self.measurable_by, "route_class": self.route_class,
            "note": self.note, "reading": self.reading,
        }


@dataclass(frozen=True, slots=True)
class Catalog:
    """All targets, in file order; ids are unique."""

    targets: tuple[PolicyTarget, ...]

    def for_cell(self, city: str, metric: str, on: dt.date,
                 route_class: str | None = None,
                 company: str | None = None) -> list[PolicyTarget]:
        """Event-measurable targets for this KPI cell in force on `on`.

        `route_class` must match exactly: None selects targets on the KPI as a whole,
        a class name selects only that class's targets (on_time_rate per route class).
        `company` (a brand code, or `*` for the all-companies row) drops the targets whose
        company scope does not judge that cell; None keeps every target.
        """
        return [t for t in self.targets
                if t.measurable_by == "events" and t.metric == metric
                and t.route_class == route_class and t.applies_to(city, on)
                and (company is None or t.covers_company(company))]

    def by_id(self, target_id: str) -> PolicyTarget:
        """The target with this id; KeyError when there is none."""
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(target_id)

    def export(self) -> list[dict[str, Any]]:
        """The catalog as `courierwatch policies export` prints it."""
        return [t.to_json() for t in self.targets]

    def counts_sentence(self) -> str:
        """The README's sentence of catalog counts (`courierwatch policies counts` prints it;
        a unit test checks that the README holds exactly this sentence)."""
        total = len(self.targets)
        events = sum(t.measurable_by == "events" for t in self.targets)
        soft = sum(t.strength == ASPIRATIONAL for t in self.targets)
        scoped = sum(t.companies is not None for t in self.targets)
        return (f"`courierwatch/data/policies.yaml` holds {total} targets from the five seed "
                f"documents: {events} measurable from scan events and {total - events} from "
                f"reference data (volumes, revenue, coverage, facilities); {soft} of them are "
                f"aspirational (力争 / 基本 / 推动 / 鼓励) and {scoped} apply to the major brands "
                "only.")


def _date(value: object, tid: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ValueError(f"policy {tid}: effective must be a date, not a date-time")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"policy {tid}: effective {value!r} is not an ISO date") from None


def _companies(value: object, lists: Mapping[str, tuple[str, ...]],
               tid: str) -> tuple[str, ...] | None:
    """None (absent or null: every company), a named list, or an explicit list of codes."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in lists:
            raise ValueError(f"policy {tid}: unknown company list {value!r}")
        return lists[value]
    if isinstance(value, list) and value and all(isinstance(c, str) and c.isupper()
                                                 for c in value):
        return tuple(value)
    raise ValueError(f"policy {tid}: companies must be null, a list name or brand codes")


def _target(raw: Mapping[str, Any], index: int,
            lists: Mapping[str, tuple[str, ...]]) -> PolicyTarget:
    """Validate one YAML entry; ValueError names the entry id (or its index)."""
    tid = str(raw.get("id") or f"#{index}")
    missing = [k for k in REQUIRED if raw.get(k) in (None, "", [])]
    if missing:
        raise ValueError(f"policy {tid}: missing field(s) {', '.join(missing)}")
    unknown = set(raw) - set(REQUIRED) - OPTIONAL
    if unknown:
        raise ValueError(f"policy {tid}: unknown field(s) {', '.join(sorted(unknown))}")
    checks: list[tuple[bool, str]] = [
        (str(raw["comparator"]) in COMPARATORS, f"bad comparator {raw['comparator']!r}"),
        (str(raw["unit"]) in UNITS, f"unknown unit {raw['unit']!r}"),
        (str(raw["scope"]) in SCOPES, f"bad scope {raw['scope']!r}"),
        (str(raw["measurable_by"]) in MEASURABLE_BY, f"bad measurable_by {raw['measurable_by']!r}"),
        (str(raw["strength"]) in STRENGTHS, f"strength {raw['strength']!r} is not "
                                            f"{' or '.join(sorted(STRENGTHS))}"),
        (isinstance(raw["threshold"], int | float) and not isinstance(raw["threshold"], bool),
         f"threshold {raw['threshold']!r} is not a number"),
        (isinstance(raw["cities"], list)
         and all(isinstance(c, str) and (c.isdigit() and len(c) == 6
                                         or c.endswith("*") and c[:-1].isdigit())
                 for c in raw["cities"]), f"bad cities {raw['cities']!r}"),
        (raw.get("route_class") is None or str(raw["route_class"]) in ROUTE_CLASSES,
         f"unknown route_class {raw.get('route_class')!r}"),
        (raw.get("route_class") is None or raw["metric"] == "on_time_rate",
         "route_class is only valid on on_time_rate"),
        (str(raw.get("reading", LITERAL)) in READINGS,
         f"reading {raw.get('reading')!r} is not {' or '.join(sorted(READINGS))}"),
    ]
    if raw["measurable_by"] == "events":
        kpi = KPI_BY_NAME.get(str(raw["metric"]))
        checks.append((kpi is not None, f"metric {raw['metric']!r} is not a KPI name"))
        checks.append((kpi is None or kpi.unit == raw["unit"],
                       f"unit {raw['unit']!r} differs from the KPI's "
                       f"{kpi.unit if kpi else ''!r}"))
    for ok, message in checks:
        if not ok:
            raise ValueError(f"policy {tid}: {message}")
    note = raw.get("note")
    return PolicyTarget(
        id=tid, metric=str(raw["metric"]), comparator=str(raw["comparator"]),
        threshold=float(raw["threshold"]), unit=str(raw["unit"]), scope=str(raw["scope"]),
        cities=tuple(raw["cities"]), effective=_date(raw["effective"], tid),
        source=str(raw["source"]), section=str(raw["section"]), quote=str(raw["quote"]),
        measurable_by=str(raw["measurable_by"]), route_class=raw.get("route_class"),
        note=None if note is None else str(note), strength=str(raw["strength"]),
        companies=_companies(raw.get("companies"), lists, tid),
        reading=str(raw.get("reading", LITERAL)),
    )


def load_catalog(path: Path | None = None,
                 company_lists: Mapping[str, tuple[str, ...]] | None = None) -> Catalog:
    """Load and validate the catalog from `path`, or the packaged policies.yaml when None.

    `company_lists` resolves `companies: <list name>` (default: data/companies.yaml).
    Raises ValueError naming the entry id for a missing field, bad comparator, unknown unit,
    scope, route class, strength, company list or KPI, a malformed date or city, or a
    duplicate id.
    """
    lists = load_company_lists() if company_lists is None else company_lists
    text = (path.read_text("utf-8") if path is not None else
            resources.files("courierwatch").joinpath("data/policies.yaml").read_text("utf-8"))
    try:
        doc = yaml.load(text, Loader=_Loader)  # a SafeLoader without timestamps
    except yaml.YAMLError as exc:
        raise ValueError(f"policy catalog: not valid YAML: {exc}") from exc
    entries = doc.get("targets") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ValueError("policy catalog: expected a mapping with a 'targets' list")
    targets: list[PolicyTarget] = []
    seen: set[str] = set()
    for i, raw in enumerate(entries):
        if not isinstance(raw, dict):
            raise ValueError(f"policy #{i}: entry is not a mapping")
        target = _target(raw, i, lists)
        if target.id in seen:
            raise ValueError(f"policy {target.id}: duplicate id")
        seen.add(target.id)
        targets.append(target)
    return Catalog(tuple(targets))
