"""An independent batch computation of docs/DESIGN.md's KPI formulas, for the tests only.

Written straight from the formulas over raw event dicts, sharing no code with the pipeline
(no courierwatch.figures, no SQL): the route classes are read from the YAML data here.
Output: {(city, company, period_start, kpi): (numerator, denominator)}, company-level cells
plus the company '*' roll-up per city, and the YRD rows (city "YRD").

The rules, as DESIGN.md and docs/semantics.md state them:
- a joined parcel (a DELIVERED with its earliest ACCEPTED) counts in the cell of its origin
  city and of its destination city (once when the same), and once in the YRD row when
  either end is in the YRD; the cell's company and period are the delivery's; in a cell
  it counts in every route class whose route condition it meets (nested limits), a class
  with `plan_cities` only in those cities' cells; the overall on_time_rate counts it once,
  on time when within the tightest judged limit it is held to there;
- a complaint (company, complaint_id) counts with all its stages in the cell of its
  earliest FILED stage; its channel is the one of its earliest stage that names one
  (none: an appeal);
- a parcel with a DELAY, DAMAGE or LOSS exception or a valid appeal counts once per kind
  in the cell of its earliest ACCEPTED (the per-parcel rates);
- every other figure counts each event in its own cell; the YRD rows sum the YRD cities.
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


def _city_list(doc: dict[str, Any], name: str) -> set[str]:
    codes: set[str] = set()
    for group in doc["city_lists"][name]:
        if "include" in group:
            codes |= _city_list(doc, group["include"])
        codes |= set(group.get("codes", ()))
    return codes


@cache
def _route_classes() -> dict[str, dict[str, Any]]:
    """name -> {hours, endpoints, companies, except, plan, judged}; endpoints "same"
    (origin = dest), None (both in the YRD) or a set of codes; companies None or a set of
    brand codes. Read from the YAML once per process (parsing it per delivery made
    `expected` take minutes on 20k events); callers must not change it."""
    doc = yaml.safe_load(ROUTES.read_text("utf-8"))
    brands = yaml.safe_load(COMPANY_LISTS.read_text("utf-8"))["lists"]
    out = {}
    for c in doc["classes"]:
        ep: Any = {"same_city": "same", "yrd_all": None}.get(c["endpoints"])
        if c["endpoints"] not in ("same_city", "yrd_all"):
            ep = frozenset(_city_list(doc, c["endpoints"]))
        out[c["name"]] = {
            "hours": c["hours"], "endpoints": ep,
            "companies": frozenset(brands[c["companies"]]["codes"]) if c.get("companies")
            else None,
            "except": tuple(c.get("except", ())),
            "plan": frozenset(c["plan_cities"]) if c.get("plan_cities") else None,
            "judged": c.get("judged", True)}
    return out


def _in_yrd(code: str) -> bool:
    return code[:2] in ("31", "32", "33")


def _meets(name: str, origin: str, dest: str, company: str) -> bool:
    c = _route_classes()[name]
    if c["companies"] is not None and company not in c["companies"]:
        return False
    if c["endpoints"] == "same":
        return origin == dest
    if origin == dest:  # the other classes are between two cities (城市间)
        return False
    if c["endpoints"] is None:
        hit = _in_yrd(origin) and _in_yrd(dest)
    else:
        hit = origin in c["endpoints"] and dest in c["endpoints"]
    return hit and not any(_meets(x, origin, dest, company) for x in c["except"])


def route_classes(origin: str, dest: str, company: str, cell: str) -> list[tuple[str, int, bool]]:
    """(name, hours, judged) of every class the parcel counts in, reported in `cell`."""
    return [(name, c["hours"], c["judged"]) for name, c in _route_classes().items()
            if (c["plan"] is None or cell in c["plan"]) and _meets(name, origin, dest, company)]


def _ends(origin: str, dest: str) -> list[str]:
    cells = [origin] if origin == dest else [origin, dest]
    return cells + (["YRD"] if _in_yrd(origin) or _in_yrd(dest) else [])


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
                _join(cells, e, a, by)

    _complaints(cells, uniq, by)
    _parcel_rates(cells, uniq, acc, by)
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
        for name in _route_classes():
            if c[f"ot_den.{name}"]:
                kpis[f"on_time_rate.{name}"] = (c[f"ot_num.{name}"], c[f"ot_den.{name}"])
        if c["joined"]:
            kpis["route_unclassified_share"] = (c["unclassified"], c["joined"])
        for k, (n, d) in kpis.items():
            rows = [city]
            # Joined parcels already have their YRD cell; everything else sums the cities.
            if city != "YRD" and _in_yrd(city) and not k.startswith(JOINED):
                rows.append("YRD")
            if city == "YRD" and not k.startswith(JOINED):
                continue
            for row_city in rows:
                for co in (company, "*"):
                    key = (row_city, co, p, k)
                    pn, pd = out.get(key, (0.0, 0.0))
                    out[key] = (pn + n, pd + d)
    return out


JOINED = ("on_time_rate", "promise_kept_rate", "route_unclassified_share")
Cells = dict[tuple[str, str, str], dict[str, float]]


def _join(cells: Cells, d: dict[str, Any], a: dict[str, Any], by: str) -> None:
    """One joined parcel, counted at both ends of its route and once in the YRD."""
    elapsed_h = (datetime.fromisoformat(d["ts"]) -
                 datetime.fromisoformat(a["ts"])).total_seconds() / 3600
    for cell in _ends(a["city"], a["dest_city"]):
        c = cells[(cell, d["company"], period(d["ts"], by))]
        c["joined"] += 1
        classes = route_classes(a["city"], a["dest_city"], a["company"], cell)
        c["unclassified"] += not classes
        for name, hours, _ in classes:
            c[f"ot_den.{name}"] += 1
            c[f"ot_num.{name}"] += elapsed_h <= hours
        judged = [hours for _, hours, j in classes if j]
        if judged:
            c["ot_den"] += 1
            c["ot_num"] += elapsed_h <= min(judged)
        if a.get("promised_by"):
            c["pk_den"] += 1
            c["pk_num"] += (datetime.fromisoformat(d["ts"]) <=
                            datetime.fromisoformat(a["promised_by"]))


def _parcel_rates(cells: Cells, uniq: list[dict[str, Any]], acc: dict[str, dict[str, Any]],
                  by: str) -> None:
    """A parcel with a DELAY / DAMAGE / LOSS exception or a valid appeal counts once per
    kind in the cell of its earliest ACCEPTED, whenever the exception or appeal came."""
    kinds: dict[str, set[str]] = defaultdict(set)
    complaints: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in uniq:
        if e["type"] == "EXCEPTION" and e["kind"] in ("DELAY", "DAMAGE", "LOSS"):
            kinds[e["parcel_id"]].add(f"exc_{e['kind']}")
        elif e["type"] == "COMPLAINT":
            complaints[(e["company"], e["complaint_id"])].append(e)
    for evs in complaints.values():
        evs.sort(key=lambda e: (datetime.fromisoformat(e["ts"]), e["event_id"]))
        named = [e["channel"] for e in evs if e.get("channel")]
        resolved = [e for e in evs if e["stage"] == "RESOLVED"]
        if (not named or named[0] != "COMPANY") and resolved and resolved[0]["valid"]:
            kinds[evs[0]["parcel_id"]].add("cmp_valid")
    for pid, ks in kinds.items():
        a = acc.get(pid)
        if a is not None:
            c = cells[(a["city"], a["company"], period(a["ts"], by))]
            for k in ks:
                c[k] += 1


def _complaints(cells: Cells, uniq: list[dict[str, Any]], by: str) -> None:
    """Each complaint once, in the cell of its earliest FILED, with its later stages."""
    stages: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in uniq:
        if e["type"] == "COMPLAINT":
            stages[(e["company"], e["complaint_id"])].append(e)
    for evs in stages.values():
        evs.sort(key=lambda e: (datetime.fromisoformat(e["ts"]), e["event_id"]))
        filed = [e for e in evs if e["stage"] == "FILED"]
        if not filed:
            continue
        f = filed[0]
        c = cells[(f["city"], f["company"], period(f["ts"], by))]
        named = [e["channel"] for e in evs if e.get("channel")]
        resolved = [e for e in evs if e["stage"] == "RESOLVED"]
        if named and named[0] == "COMPANY":  # 投诉
            if resolved:
                c["co_RESOLVED"] += 1
                c["co_sat"] += resolved[0]["satisfied"]
            continue
        c["cmp_FILED"] += 1  # 申诉: an appeal, the default channel
        c["cmp_ACCEPTED"] += any(e["stage"] == "ACCEPTED" for e in evs)
        if resolved:
            c["cmp_RESOLVED"] += 1
            c["cmp_sat"] += resolved[0]["satisfied"]
