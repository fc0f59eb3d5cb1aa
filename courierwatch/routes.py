"""SLA route classes: which delivery-time target applies to a parcel's route.

Seed 003 二(三) (repeated by seed 000 二): 长三角地区内重点城市间 12 小时送达、其他城市间
24 小时送达，基本实现重点快递企业国内重点城市间 48 小时投递. The key-city lists are our
documented reading (data/route_classes.yaml, docs/policies.md), loaded once and passed
around. Same-city parcels get their own class, `intra_city`: the sentences are about routes
between cities (城市间), so that class is reported and never judged.

The limits are nested (docs/policies.md, "Route classes and key cities"): a parcel is in
every class whose route condition it meets, and it counts at both ends of its route: in
the origin city's cell, in the destination city's (once when they are the same city) and
once in the YRD row when either end is in the YRD (`cells_of`). A class of one city's own
reading (`plan_cities`) counts only in that city's cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from courierwatch.cities import YRD_REGION, is_yrd
from courierwatch.companies import load_company_lists

UNCLASSIFIED = "unclassified"
INTRA_CITY = "intra_city"
SAME_CITY, YRD_ALL = "same_city", "yrd_all"  # the endpoint rules that are not city lists
# Classes no plan sets a limit for: reported, never judged, outside the overall on_time_rate.
NOT_JUDGED: frozenset[str] = frozenset({UNCLASSIFIED, INTRA_CITY})


@dataclass(frozen=True, slots=True)
class RouteClass:
    """One class: parcels whose route qualifies are on time within `hours` of acceptance.

    `endpoints` None with `same_city` False: any two YRD cities; `same_city`: origin equals
    destination (every other class needs two different cities: 城市间). `companies` None:
    every company. `judged` False: reported only (no plan sets a limit for it), kept out of
    the overall on_time_rate. `except_classes`: a route meeting one of these classes' route
    conditions is not in this class (其他城市间). `plan_cities` None: counted in every cell
    and the YRD row; else only in these cities' cells (one plan's own reading).
    """

    name: str
    hours: int
    scope: str
    endpoints: frozenset[str] | None  # None: any YRD city (or the same city)
    companies: frozenset[str] | None  # None: every company
    judged: bool = True
    same_city: bool = False
    except_classes: tuple[RouteClass, ...] = ()
    plan_cities: frozenset[str] | None = None

    def route_meets(self, origin: str, dest: str, company: str) -> bool:
        """The route condition: endpoints, companies, and none of `except_classes`."""
        if self.companies is not None and company not in self.companies:
            return False
        if self.same_city:
            return origin == dest
        if origin == dest:
            return False
        if self.endpoints is None:
            ok = is_yrd(origin) and is_yrd(dest)
        else:
            ok = origin in self.endpoints and dest in self.endpoints
        return ok and not any(x.route_meets(origin, dest, company) for x in self.except_classes)

    def counts_in(self, cell: str) -> bool:
        """Whether the class is reported in `cell` (a city code or YRD)."""
        return self.plan_cities is None or cell in self.plan_cities


def cells_of(origin: str, dest: str) -> tuple[str, ...]:
    """The cells a joined parcel counts in: its origin city, its destination city (once when
    the same) and the YRD row once when either end is in the YRD."""
    cells = (origin,) if origin == dest else (origin, dest)
    return (*cells, YRD_REGION) if is_yrd(origin) or is_yrd(dest) else cells


@dataclass(frozen=True, slots=True)
class RouteTable:
    classes: tuple[RouteClass, ...]

    def classify(self, origin: str, dest: str, company: str) -> RouteClass | None:
        """The first class counted everywhere (in file order: the tightest kind first; no
        one city's own reading) whose route condition holds, else None: a parcel's principal
        class, used by the traffic generator's timing model. Figures use `classes_in`,
        every class that applies."""
        for rc in self.classes:
            if rc.plan_cities is None and rc.route_meets(origin, dest, company):
                return rc
        return None

    def classes_in(self, origin: str, dest: str, company: str,
                   cell: str) -> tuple[RouteClass, ...]:
        """Every class the parcel counts in when reported in `cell` (nested limits)."""
        return tuple(rc for rc in self.classes
                     if rc.counts_in(cell) and rc.route_meets(origin, dest, company))

    def by_name(self, name: str) -> RouteClass:
        return next(rc for rc in self.classes if rc.name == name)


def _city_lists(doc: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """Resolve every city list to its codes: the union of its groups' codes and includes."""
    raw = doc.get("city_lists") or {}
    out: dict[str, frozenset[str]] = {}

    def resolve(name: str, seen: tuple[str, ...]) -> frozenset[str]:
        if name in out:
            return out[name]
        if name in seen or name not in raw:
            raise ValueError(f"route classes: city list {name!r} is unknown or circular")
        codes: set[str] = set()
        for group in raw[name]:
            if "include" in group:
                codes |= resolve(str(group["include"]), (*seen, name))
            codes |= {str(c) for c in group.get("codes", ())}
        bad = sorted(c for c in codes if not (len(c) == 6 and c.isdigit()))
        if bad:
            raise ValueError(f"route classes: city list {name!r} has bad codes {bad}")
        out[name] = frozenset(codes)
        return out[name]

    for name in raw:
        resolve(str(name), ())
    return out


def load_route_table(path: Path | None = None,
                     company_lists: Mapping[str, tuple[str, ...]] | None = None) -> RouteTable:
    """Load route classes from `path`, or the packaged default when None.

    Endpoints are `same_city`, `yrd_all` or a city list of the file; `companies` names a
    list of data/companies.yaml (or of `company_lists`). Raises ValueError for an unknown
    list, a circular include, a malformed code, an `except` naming no earlier class, or a
    `judged` flag that contradicts NOT_JUDGED.
    """
    text = (path.read_text("utf-8") if path is not None else
            resources.files("courierwatch").joinpath("data/route_classes.yaml").read_text("utf-8"))
    doc = yaml.safe_load(text)
    lists = _city_lists(doc)
    brands = load_company_lists() if company_lists is None else company_lists
    classes: list[RouteClass] = []
    for c in doc["classes"]:
        ep = str(c["endpoints"])
        if ep not in (SAME_CITY, YRD_ALL) and ep not in lists:
            raise ValueError(f"route class {c['name']}: unknown endpoints {ep!r}")
        comp = c.get("companies")
        if comp is not None and comp not in brands:
            raise ValueError(f"route class {c['name']}: unknown company list {comp!r}")
        judged = bool(c.get("judged", True))
        if judged == (c["name"] in NOT_JUDGED):
            raise ValueError(f"route class {c['name']}: judged must be "
                             f"{c['name'] not in NOT_JUDGED} (only {sorted(NOT_JUDGED)} "
                             "are reported without a target)")
        known = {rc.name: rc for rc in classes}
        unknown = [x for x in c.get("except", ()) if x not in known]
        if unknown:
            raise ValueError(f"route class {c['name']}: except names {unknown}, which are "
                             "not classes defined above it")
        plan = c.get("plan_cities")
        classes.append(RouteClass(
            str(c["name"]), int(c["hours"]), str(c["scope"]),
            lists.get(ep), None if comp is None else frozenset(brands[comp]),
            judged=judged, same_city=ep == SAME_CITY,
            except_classes=tuple(known[str(x)] for x in c.get("except", ())),
            plan_cities=None if plan is None else frozenset(str(p) for p in plan)))
    return RouteTable(tuple(classes))
