"""The parcel model behind the synthetic stream: one parcel's scan.v1 events, in time order.

`ParcelModel.parcel(accept_ms)` draws one parcel and returns its events as rows
(load_tests/rows.py), in ts order:

    ACCEPTED (origin outlet) -> DEPARTED (origin hub) [-> ARRIVED, DEPARTED (transit hub)]
    -> ARRIVED (dest hub) -> OUT_FOR_DELIVERY (dest outlet) -> DELIVERED (dest)
    [-> COMPLAINT FILED -> ACCEPTED -> RESOLVED (dest)]

with an EXCEPTION where trouble happens (origin before departure, or dest after arrival);
LOSS ends the scans there, RETURN ends them after the delivery attempt. It draws only from
the `Random` it is given, so the same draws give the same parcels.

Rates per parcel. The network is *healthy*: every binding target of the seed plans that a
day's figures of a city can be judged on passes at this baseline (so that an incident, and
nothing else, shows as a breach; seed 003 专栏 服务品质 and 绿色发展, and the city plans):
- route SLA hours from `courierwatch.routes` (12/24/48 h; 72 h "promised" when unclassified);
  a company-specific 1.5-5 % of parcels miss them, every DELAY parcel misses them (the 100 %
  on-time aims are aspirational 力争 targets: they show as △, never as ✗);
- EXCEPTION DELAY 1 per 10 000, DAMAGE 2 per 1 000 000, LOSS 1 per 1 000 000, RETURN 5 per
  10 000 (targets: delay <= 2 per 1000, damage <= 2 and loss <= 1 per 100 000; a tenth of
  the target, so that a day's company cell of a few hundred parcels rarely breaches by
  chance);
- COMPLAINT filed by 0.08 % of parcels and far more often after an exception; half the
  complaints about parcels without an exception are made to the company (`channel`
  COMPANY), the rest are appeals (no `channel`); every complaint is accepted; 99.5 % of
  those not found valid end satisfied (85 % of valid ones);
- ecommerce 70 %; packaging standard 99 % (target > 95 %), e_waybill 100 %, no secondary
  packaging of ecommerce parcels (Liaocheng's target: 100 %; 25 % of other parcels),
  recycled bag 97 % (target 90 %), tape 40-160 mm (mean 100), degradable 30 %;
- security real_name, inspected and xray 100 % (the three systems 三项制度, read as 100 %);
  promised_by on 60 %;
- delivery DOOR 40 %, LOCKER 30 % (target 12 %: a company's 50 deliveries rarely fall
  below it by chance), STATION 25 %, SELF_PICKUP 5 %.

The `no_xray` incident sets the share of acceptances without X-ray to `factor` per cent
(the baseline has none to multiply).
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Sequence
from functools import cache
from itertools import accumulate

from courierwatch.cities import CITIES, is_yrd
from courierwatch.contract import SCHEMA
from courierwatch.periods import HOUR_MS
from courierwatch.routes import RouteTable
from load_tests.incidents import IncidentBook
from load_tests.rows import ACCEPTED, COMPLAINT, DELIVERED, EXCEPTION, Row, format_ts

UNCLASSIFIED_HOURS = 72

# Relative parcel volumes of origin cities (express volume, rough); unknown cities weigh 2.
CITY_WEIGHT = {"310000": 10.0, "330100": 7.0, "420100": 6.0, "320500": 6.0, "331000": 5.0,
               "320100": 5.0, "330200": 4.0, "320400": 3.0, "371500": 2.0}
# Market shares of the brands (rough); unknown companies weigh 5.
COMPANY_WEIGHT = {"ZTO": 20.0, "YTO": 16.0, "YUNDA": 15.0, "JT": 14.0, "STO": 13.0, "SF": 10.0,
                  "JD": 7.0, "EMS": 5.0}
# Share of a company's parcels delivered after their route class's hours (besides DELAYs).
LATE_SHARE = {"SF": 0.015, "JD": 0.02, "ZTO": 0.03, "YTO": 0.035, "YUNDA": 0.04, "STO": 0.045,
              "JT": 0.05, "EMS": 0.05}
DEFAULT_LATE_SHARE = 0.04
# Hub cities where long-haul parcels (different provinces, not both YRD) are re-sorted.
TRANSIT_HUBS = ("320100", "330100", "420100", "410100", "440100", "370100", "310000")

# Exceptions per parcel, each half at origin and half at destination (RETURN: destination).
EXCEPTION_RATE = {"DELAY": 1e-4, "DAMAGE": 2e-6, "LOSS": 1e-6}
RETURN_RATE = 5e-4
# Complaints: P(filed | how the parcel went), P(valid | filed, how it went).
COMPLAINT_RATE = {None: 8e-4, "DELAY": 0.10, "DAMAGE": 0.40, "LOSS": 0.60, "RETURN": 0.05}
VALID_SHARE = {None: 0.005, "DELAY": 0.03, "DAMAGE": 0.50, "LOSS": 0.80, "RETURN": 0.05}
COMPLAINT_ACCEPTED = 1.0
COMPANY_CHANNEL = "COMPANY"  # scan.v1 COMPLAINT channel of a complaint made to the company
MODES = ("DOOR", "LOCKER", "STATION", "SELF_PICKUP")
MODE_CUM = (0.40, 0.70, 0.95, 1.0)
LOCKER_SHARE = 0.30
XRAY_MISS = 0.0  # the baseline screens every parcel
NO_XRAY_UNIT = 0.01  # a no_xray incident's factor is a percentage of acceptances
SAME_CITY_SHARE, OUTSIDE_SHARE = 0.10, 0.15
_ID_MOD = 10**12
_ID_MULT = 773_378_920_813  # coprime to 10: n -> n * M + salt is a bijection mod 10^12

# hours, late share, origin outlets, origin hubs, dest outlets, dest hubs, long haul,
# dest lockers, dest stations
_Route = tuple[int, float, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...],
               bool, tuple[str, ...], tuple[str, ...]]


@cache
def _sites(company: str, city: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(outlets, hubs) of a company in a city: `ZTO-331000-S07`, `ZTO-331000-H1`."""
    return (tuple(f"{company}-{city}-S{i:02d}" for i in range(1, 25)),
            tuple(f"{company}-{city}-H{i}" for i in (1, 2)))


@cache
def _last_mile(city: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(lockers, stations) of a city, shared by all brands: `331000-L042`, `331000-P007`."""
    return (tuple(f"{city}-L{i:03d}" for i in range(400)),
            tuple(f"{city}-P{i:03d}" for i in range(150)))


def _cum(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    return [w / total for w in accumulate(weights)]


class ParcelModel:
    """Draws parcels (who, from where to where, how it goes) for one stream.

    `cities` are the origins and the usual destinations; `OUTSIDE_SHARE` of parcels go to
    another known city, so that some routes have no SLA class. `id_salt` makes parcel ids of
    different seeds differ; ids within one model never repeat.
    """

    def __init__(self, cities: Sequence[str], companies: Sequence[str], rng: random.Random,
                 routes: RouteTable, incidents: IncidentBook, id_salt: int) -> None:
        self._rnd = rng.random
        self._routes = routes
        self._incidents = incidents
        self._any_incident = bool(incidents)
        self._salt = id_salt % _ID_MOD
        self._n = 0
        self._cities = tuple(cities)
        self._city_cum = _cum([CITY_WEIGHT.get(c, 2.0) for c in self._cities])
        self._companies = tuple(companies)
        self._company_cum = _cum([COMPANY_WEIGHT.get(c, 5.0) for c in self._companies])
        self._outside = tuple(c for c in CITIES if c not in set(self._cities)) or self._cities
        self._route_cache: dict[tuple[str, str, str], _Route] = {}
        base = [EXCEPTION_RATE[k] / 2 for k in ("DELAY", "DAMAGE", "LOSS") for _ in (0, 1)]
        self._exc_cum = list(accumulate([*base, RETURN_RATE]))

    # --- parcel attributes -----------------------------------------------------------------
    def _route(self, origin: str, dest: str, company: str) -> _Route:
        """Everything about a company's origin -> dest route that parcels share (cached)."""
        rc = self._routes.classify(origin, dest, company)
        o_outlets, o_hubs = _sites(company, origin)
        d_outlets, d_hubs = _sites(company, dest)
        long_haul = origin[:2] != dest[:2] and not (is_yrd(origin) and is_yrd(dest))
        route = (rc.hours if rc else UNCLASSIFIED_HOURS,
                 LATE_SHARE.get(company, DEFAULT_LATE_SHARE), o_outlets, o_hubs, d_outlets,
                 d_hubs, long_haul, *_last_mile(dest))
        self._route_cache[origin, dest, company] = route
        return route

    def _destination(self, origin: str) -> str:
        u = self._rnd()
        if u < SAME_CITY_SHARE:
            return origin
        if u < SAME_CITY_SHARE + OUTSIDE_SHARE:
            return self._outside[int(self._rnd() * len(self._outside))]
        return self._cities[bisect(self._city_cum, self._rnd())]


    def _exception(self, u: float, origin: str, dest: str, company: str, accept_ms: int,
                   arrive_ms: int) -> tuple[str | None, bool]:
        """(kind or None, at_origin) of this parcel's exception for the uniform draw `u`."""
        cum = self._exc_cum
        if self._incidents.touches(company):
            f = self._incidents.factor
            rates = []
            for kind in ("DELAY", "DAMAGE", "LOSS"):
                base = EXCEPTION_RATE[kind] / 2
                rates.append(base * f(kind.lower(), origin, company, accept_ms))
                rates.append(base * f(kind.lower(), dest, company, arrive_ms))
            cum = list(accumulate([*rates, RETURN_RATE]))
        if u >= cum[-1]:
            return None, False
        i = bisect(cum, u)
        kind = ("DELAY", "DELAY", "DAMAGE", "DAMAGE", "LOSS", "LOSS", "RETURN")[i]
        return kind, i % 2 == 0 and kind != "RETURN"

    def _factor(self, kind: str, city: str, company: str, t_ms: int) -> float:
        if self._incidents.touches(company):
            return self._incidents.factor(kind, city, company, t_ms)
        return 1.0

    # --- one parcel ------------------------------------------------------------------------
    def parcel(self, accept_ms: int) -> list[Row]:
        """Draw the parcel accepted at `accept_ms` and return its events as rows, in ts order.

        Rows carry key = ts (no emission delay) and no event_id; see load_tests/rows.py.
        """
        rnd = self._rnd
        self._n += 1
        company = self._companies[bisect(self._company_cum, rnd())]
        origin = self._cities[bisect(self._city_cum, rnd())]
        dest = self._destination(origin)
        pid = f"{company}{(self._n * _ID_MULT + self._salt) % _ID_MOD:012d}"
        route = self._route_cache.get((origin, dest, company)) or self._route(origin, dest,
                                                                              company)
        hours, late_share, outlets, hubs, d_outlets, d_hubs, long_haul, lockers, stations = route
        kind, at_origin, u = None, False, rnd()
        if u < self._exc_cum[-1] or self._any_incident:
            kind, at_origin = self._exception(u, origin, dest, company, accept_ms,
                                              accept_ms + int(hours * 0.7 * HOUR_MS))
        if self._any_incident:  # `late` incidents: more parcels into `dest` arrive late
            late_share = min(1.0, late_share * self._factor("late", dest, company, accept_ms))
        if kind == "DELAY":
            stretch = 1.1 + 1.1 * rnd()
        elif rnd() < late_share:
            stretch = 1.02 + 0.48 * rnd()
        else:
            stretch = 0.4 + 0.57 * rnd()
        elapsed = int(hours * stretch * HOUR_MS)

        ecommerce = rnd() < 0.70
        accepted = {"schema": SCHEMA, "event_id": "", "parcel_id": pid, "company": company,
                    "type": ACCEPTED, "ts": format_ts(accept_ms), "city": origin,
                    "site_id": outlets[int(rnd() * 24)], "dest_city": dest,
                    "ecommerce": ecommerce}
        if rnd() < 0.60:
            accepted["promised_by"] = format_ts(accept_ms + hours * HOUR_MS)
        accepted["packaging"] = {
            "standard": rnd() < 0.99, "e_waybill": rnd() < 1.0,
            "secondary_packaging": rnd() < (0.0 if ecommerce else 0.25),
            "recycled_bag": rnd() < 0.97, "tape_mm": 40 + int(60 * (rnd() + rnd())),
            "degradable": rnd() < 0.30}
        xray_miss = XRAY_MISS
        if self._any_incident:
            lapse = self._factor("no_xray", origin, company, accept_ms)
            if lapse != 1.0:
                xray_miss = min(1.0, NO_XRAY_UNIT * lapse)
        accepted["security"] = {"real_name": rnd() < 1.0, "inspected": rnd() < 1.0,
                                "xray": rnd() >= xray_miss}
        rows: list[Row] = [(accept_ms, accept_ms, ACCEPTED, pid, company, origin, None, accepted)]

        t_dep = accept_ms + int(elapsed * (0.05 + 0.15 * rnd()))
        t_arr = accept_ms + int(elapsed * (0.55 + 0.23 * rnd()))
        t_ofd = accept_ms + int(elapsed * (0.82 + 0.13 * rnd()))
        t_end = accept_ms + elapsed
        hub = hubs[rnd() < 0.5]
        if kind is not None and at_origin:
            t = accept_ms + int((t_dep - accept_ms) * (0.3 + 0.6 * rnd()))
            rows.append((t, t, EXCEPTION, pid, company, origin, hub, kind))
            if kind == "LOSS":
                return self._complaint(rows, kind, t, dest, rnd())
        rows.append((t_dep, t_dep, "DEPARTED", pid, company, origin, hub, None))
        if long_haul:
            via = TRANSIT_HUBS[int(rnd() * len(TRANSIT_HUBS))]
            if via != origin and via != dest:
                site = f"{company}-{via}-H1"
                t_in = t_dep + int((t_arr - t_dep) * (0.30 + 0.15 * rnd()))
                t_out = t_dep + int((t_arr - t_dep) * (0.50 + 0.15 * rnd()))
                rows.append((t_in, t_in, "ARRIVED", pid, company, via, site, None))
                rows.append((t_out, t_out, "DEPARTED", pid, company, via, site, None))
        hub = d_hubs[rnd() < 0.5]
        rows.append((t_arr, t_arr, "ARRIVED", pid, company, dest, hub, None))
        if kind is not None and not at_origin and kind != "RETURN":
            t = t_arr + int((t_ofd - t_arr) * (0.1 + 0.5 * rnd()))
            rows.append((t, t, EXCEPTION, pid, company, dest, hub, kind))
            if kind == "LOSS":
                return self._complaint(rows, kind, t, dest, rnd())
        outlet = d_outlets[int(rnd() * 24)]
        rows.append((t_ofd, t_ofd, "OUT_FOR_DELIVERY", pid, company, dest, outlet, None))
        if kind == "RETURN":
            t = t_ofd + int((t_end - t_ofd) * (0.3 + 0.7 * rnd()))
            rows.append((t, t, EXCEPTION, pid, company, dest, outlet, kind))
            return self._complaint(rows, kind, t, dest, rnd())
        mode = self._mode(dest, company, t_end)
        if mode == "LOCKER":
            outlet = lockers[int(rnd() * 400)]
        elif mode == "STATION":
            outlet = stations[int(rnd() * 150)]
        rows.append((t_end, t_end, DELIVERED, pid, company, dest, outlet, mode))
        u = rnd()
        if kind is None and u >= COMPLAINT_RATE[None] and not self._any_incident:
            return rows  # the common case, decided without a call
        return self._complaint(rows, kind, t_end, dest, u)

    def _mode(self, dest: str, company: str, t_ms: int) -> str:
        u = self._rnd()
        if self._any_incident and MODE_CUM[0] <= u < MODE_CUM[1]:
            # A would-be locker delivery still reaches a locker with probability 1/factor.
            outage = self._factor("locker_outage", dest, company, t_ms)
            if outage > 1.0 and self._rnd() * outage >= 1.0:
                return "STATION"
        return MODES[bisect(MODE_CUM, u)]

    def _complaint(self, rows: list[Row], kind: str | None, t_ms: int, dest: str,
                   u: float) -> list[Row]:
        """Append FILED -> ACCEPTED -> RESOLVED with valid/satisfied, at `dest`, when the
        uniform draw `u` falls under the complaint probability."""
        rnd = self._rnd
        p = COMPLAINT_RATE[kind]
        _, _, _, pid, company, *_ = rows[0]
        if self._any_incident:
            p *= self._factor("complaint", dest, company, t_ms)
        if u >= p:
            return rows
        complaint_id = f"C{pid}"  # at most one complaint per parcel
        # A complaint about a parcel that went well goes to the company (投诉, channel
        # COMPANY) half the time, decided by the parcel id's last digit so that no draw is
        # added; an exception's complaints, and the rest, are appeals (申诉, no channel).
        channel = COMPANY_CHANNEL if kind is None and pid[-1] in "02468" else None
        t = t_ms + int((1 + 35 * rnd()) * HOUR_MS)
        rows.append((t, t, COMPLAINT, pid, company, dest, None,
                     (complaint_id, "FILED", None, None, channel)))
        if rnd() >= COMPLAINT_ACCEPTED:
            return rows
        t += int((0.5 + 11.5 * rnd()) * HOUR_MS)
        rows.append((t, t, COMPLAINT, pid, company, dest, None,
                     (complaint_id, "ACCEPTED", None, None, channel)))
        t += int((0.5 + 71.5 * rnd()) * HOUR_MS)
        valid = rnd() < VALID_SHARE[kind]
        satisfied = rnd() < (0.85 if valid else 0.995)
        rows.append((t, t, COMPLAINT, pid, company, dest, None,
                     (complaint_id, "RESOLVED", valid, satisfied, channel)))
        return rows
