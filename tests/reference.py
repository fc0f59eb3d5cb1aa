"""An independent batch computation of docs/DESIGN.md's KPI formulas, for the tests only.

Written straight from the formulas over raw event dicts, sharing no code with the pipeline
(no courierwatch.figures, no SQL): the route classes are read from the YAML data here.
Output: {(city, company, period_start, kpi): (numerator, denominator)}, company-level cells
plus the company '*' roll-up per city.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CST = timezone(timedelta(hours=8))
ROUTES = Path(__file__).resolve().parents[1] / "courierwatch" / "data" / "route_classes.yaml"
COMPANY_LISTS = ROUTES.with_name("companies.yaml")
INTRA_CITY = "intra_city"  # reported per class, outside the overall on_time_rate


def _city_list(doc: dict[str, Any], name: str) -> set[str]:
    codes: set[str] = set()
    for group in doc["city_lists"][name]:
        if "include" in group:
            codes |= _city_list(doc, group["include"])
        codes |= set(group.get("codes", ()))
    return codes


@cache
def _route_classes() -> tuple[tuple[str, int, Any, Any], ...]:
    """(name, hours, endpoints, companies); endpoints "same" (origin = dest), None (both in
    the YRD) or a set of codes; companies None or a set of brand codes. Read from the YAML
    once per process (frozen, so the cached copy cannot be changed by a caller): parsing it
    per delivery made `expected` take minutes on 20k events."""
    doc = yaml.safe_load(ROUTES.read_text("utf-8"))
    brands = yaml.safe_load(COMPANY_LISTS.read_text("utf-8"))["lists"]
    out = []
    for c in doc["classes"]:
        ep: Any = {"same_city": "same", "yrd_all": None}.get(c["endpoints"])
        if c["endpoints"] not in ("same_city", "yrd_all"):
            ep = frozenset(_city_list(doc, c["endpoints"]))
        comp = frozenset(brands[c["companies"]]["codes"]) if c.get("companies") else None
        out.append((c["name"], c["hours"], ep, comp))
    return tuple(out)


def _in_yrd(code: str) -> bool:
    return code[:2] in ("31", "32", "33")


def route_class(origin: str, dest: str, company: str) -> tuple[str, int] | None:
    for name, hours, ep, comp in _route_classes():
        if comp is not None and company not in comp:
            continue
        if ep == "same":
            hit = origin == dest
        elif ep is None:
            hit = _in_yrd(origin) and _in_yrd(dest)
        else:
            hit = origin in ep and dest in ep
        if hit:
            return name, hours
    return None


def period(ts: str, by: str) -> str:
    t = datetime.fromisoformat(ts).astimezone(CST)
    t = t.replace(minute=0, second=0, microsecond=0)
    if by == "day":
        t = t.replace(hour=0)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def expected(events: list[dict[str, Any]], by: str = "day") -> dict[tuple[str, str, str, str],
                                                                     tuple[float, float]]:
    first: dict[str, dict[str, Any]] = {}
    for e in events:
        first.setdefault(e["event_id"], e)
    uniq = list(first.values())
    acc: dict[str, dict[str, Any]] = {}
    for e in sorted((e for e in uniq if e["type"] == "ACCEPTED"),
                    key=lambda e: datetime.fromisoformat(e["ts"])):
        acc.setdefault(e["parcel_id"], e)

    cells: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for e in uniq:
        c = cells[(e["city"], e["company"], period(e["ts"], by))]
        t = e["type"]
        if t == "ACCEPTED":
            pk, sec = e["packaging"], e["security"]
            c["accepted"] += 1
            c["std"] += pk["standard"]
            c["ewb"] += pk["e_waybill"]
            c["bag"] += pk["recycled_bag"]
            c["tape"] += pk["tape_mm"]
            c["real"] += sec["real_name"]
            c["insp"] += sec["inspected"]
            c["xray"] += sec["xray"]
            if e["ecommerce"]:
                c["ecom"] += 1
                c["ecom_nosec"] += not pk["secondary_packaging"]
        elif t == "DELIVERED":
            c["delivered"] += 1
            c["locker"] += e["mode"] == "LOCKER"
            a = acc.get(e["parcel_id"])
            if a is not None:
                elapsed_h = (datetime.fromisoformat(e["ts"]) -
                             datetime.fromisoformat(a["ts"])).total_seconds() / 3600
                rc = route_class(a["city"], a["dest_city"], a["company"])
                if rc is not None:
                    if rc[0] != INTRA_CITY:
                        c["ot_den"] += 1
                        c["ot_num"] += elapsed_h <= rc[1]
                    c[f"ot_den.{rc[0]}"] += 1
                    c[f"ot_num.{rc[0]}"] += elapsed_h <= rc[1]
                if a.get("promised_by"):
                    c["pk_den"] += 1
                    c["pk_num"] += (datetime.fromisoformat(e["ts"]) <=
                                    datetime.fromisoformat(a["promised_by"]))
        elif t == "EXCEPTION":
            c[f"exc_{e['kind']}"] += 1
        elif t == "COMPLAINT" and e.get("channel", "APPEAL") == "COMPANY":  # 投诉
            if e["stage"] == "RESOLVED":
                c["co_RESOLVED"] += 1
                c["co_sat"] += e["satisfied"]
        elif t == "COMPLAINT":  # 申诉: an appeal, the default channel
            c[f"cmp_{e['stage']}"] += 1
            if e["stage"] == "RESOLVED":
                c["cmp_valid"] += e["valid"]
                c["cmp_sat"] += e["satisfied"]

    out: dict[tuple[str, str, str, str], tuple[float, float]] = {}
    for (city, company, p), c in cells.items():
        kpis = {
            "volume": (c["accepted"], 0),
            "locker_share": (c["locker"], c["delivered"]),
            "delay_rate": (c["exc_DELAY"], c["accepted"]),
            "damage_rate": (c["exc_DAMAGE"], c["accepted"]),
            "loss_rate": (c["exc_LOSS"], c["accepted"]),
            "valid_complaint_rate": (c["cmp_valid"], c["accepted"]),
            "complaint_acceptance_rate": (c["cmp_ACCEPTED"], c["cmp_FILED"]),
            "complaint_satisfaction": (c["cmp_sat"], c["cmp_RESOLVED"]),
            "company_complaint_satisfaction": (c["co_sat"], c["co_RESOLVED"]),
            "standard_packaging_share": (c["std"], c["accepted"]),
            "e_waybill_share": (c["ewb"], c["accepted"]),
            "no_secondary_packaging_share": (c["ecom_nosec"], c["ecom"]),
            "recycled_bag_share": (c["bag"], c["accepted"]),
            "tape_mm_mean": (c["tape"], c["accepted"]),
            "real_name_rate": (c["real"], c["accepted"]),
            "inspection_rate": (c["insp"], c["accepted"]),
            "xray_rate": (c["xray"], c["accepted"]),
            "on_time_rate": (c["ot_num"], c["ot_den"]),
            "promise_kept_rate": (c["pk_num"], c["pk_den"]),
        }
        for name, _, _, _ in _route_classes():
            if c[f"ot_den.{name}"]:
                kpis[f"on_time_rate.{name}"] = (c[f"ot_num.{name}"], c[f"ot_den.{name}"])
        for k, (n, d) in kpis.items():
            for co in (company, "*"):
                key = (city, co, p, k)
                pn, pd = out.get(key, (0.0, 0.0))
                out[key] = (pn + n, pd + d)
    return out
