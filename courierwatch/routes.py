"""SLA route classes: which delivery-time target applies to a parcel's route.

Seed 003 §二(三) (repeated by seed 000 §二): 长三角地区内重点城市间 12 小时送达、其他城市间
24 小时送达，基本实现重点快递企业国内重点城市间 48 小时投递. The key-city lists are our
documented reading (see data/route_classes.yaml), loaded once and passed around.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from courierwatch.cities import is_yrd

UNCLASSIFIED = "unclassified"


@dataclass(frozen=True, slots=True)
class RouteClass:
    name: str
    hours: int
    scope: str
    endpoints: frozenset[str] | None  # None: any YRD city
    companies: frozenset[str] | None  # None: every company

    def covers(self, origin: str, dest: str, company: str) -> bool:
        if self.companies is not None and company not in self.companies:
            return False
        if self.endpoints is None:
            return is_yrd(origin) and is_yrd(dest)
        return origin in self.endpoints and dest in self.endpoints


@dataclass(frozen=True, slots=True)
class RouteTable:
    classes: tuple[RouteClass, ...]

    def classify(self, origin: str, dest: str, company: str) -> RouteClass | None:
        """The first class whose endpoints and companies both qualify, else None."""
        for rc in self.classes:
            if rc.covers(origin, dest, company):
                return rc
        return None

    def by_name(self, name: str) -> RouteClass:
        return next(rc for rc in self.classes if rc.name == name)


def load_route_table(path: Path | None = None) -> RouteTable:
    """Load route classes from `path`, or the packaged default when None."""
    text = (path.read_text("utf-8") if path is not None else
            resources.files("courierwatch").joinpath("data/route_classes.yaml").read_text("utf-8"))
    doc = yaml.safe_load(text)
    classes = []
    for c in doc["classes"]:
        ep = c["endpoints"]
        endpoints = None if ep == "yrd_all" else frozenset(str(x) for x in doc[ep])
        comp = c.get("companies")
        companies = frozenset(doc[comp]) if comp else None
        classes.append(RouteClass(c["name"], int(c["hours"]), c["scope"], endpoints, companies))
    return RouteTable(tuple(classes))
