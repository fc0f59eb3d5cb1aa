"""How fast alerts follow the evidence: the detection table of docs/alerting.md.

Simulates one cell's counts bucket by bucket (acceptances by a Poisson process with the
generator's day/night profile; misses drawn per parcel, delay scans 0.5-3 h and damage
scans 1-6 h after the acceptance) and drives the real evaluator (courierwatch.alerting,
the worker's pure evaluation) with them as the worker would: each 5-minute bucket once
settled, the on-time join's counts per 5-minute slice of delivery time). For each incident
(a cell's miss share at 3x, 10x or 25x its budget for 8 hours, after a day of healthy
traffic) it records:

- *evidence*: the first bucket end, from the incident's start on, at which a one-sided
  Poisson test of the misses received so far against the budget, over a trailing window
  of 1 to 6 hours, is significant at 1e-5 (the issue's definition; computed here with
  its own tail sum, not the engine's);
- *alert*: the first evaluation that raised an alert on the incident's KPI, plus the
  settle time (the worker evaluates a bucket `settle_s` after its end);
- *resolution*: the resolving evaluation plus the settle time, after the last miss of an
  incident parcel (a delay scan lands up to 3 h after the incident's last acceptance).

and, on healthy traffic (every miss share at a quarter of its budget, the recycled-bag
share at the generator's chronic 1.5x, an hour of disorder a day that loses 0-60 minute
late scans to the alerts as in the worker, an outlet uploading six hours late, the
generator's night lull), the alerts per 1,000 cell-days over every city and company.

    python -m load_tests.detection [--seeds 20] [--days 7] [--format table|json]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from courierwatch.alert_model import RESOLVED, Alert, CountModel, joined_model
from courierwatch.alerting import AlertRules, Evaluator
from courierwatch.catalog import Catalog, load_catalog
from courierwatch.cities import CITIES
from load_tests.generator import HOURLY_PROFILE
from load_tests.lifecycle import CITY_WEIGHT, COMPANY_WEIGHT

BUCKET_MS = 300_000
HOUR_MS = 3_600_000
T0 = 1_793_462_400_000  # 2026-11-01T00:00+08:00
EVIDENCE_ALPHA = 1e-5
EVIDENCE_WINDOWS = tuple(range(12, 73, 12))  # buckets: 1..6 h
TAIZHOU = "331000"
ROUTE_CLASS = "national_key_48h"


@dataclass(frozen=True, slots=True)
class Kind:
    """An incident kind: the count its misses land in, its budget, and the lag (h) from
    acceptance to the miss's scan."""

    name: str
    count: str
    kpi: str
    budget: float
    lag_h: tuple[float, float]
    joined: bool = False


KINDS = {
    "delay": Kind("delay", "exc_delay", "delay_rate", 0.002, (0.5, 3.0)),
    "damage": Kind("damage", "exc_damage", "damage_rate", 2e-5, (1.0, 6.0)),
    "xray": Kind("xray", "not_xray", "xray_rate", 0.03, (0.0, 0.0)),
    "late": Kind("late", "late", f"on_time_rate.{ROUTE_CLASS}", 0.03, (0.0, 0.0), True),
}
# Healthy per-parcel shares: a quarter of each budget (the healthy network), the
# recycled bag at the generator's 15 % (1.5x the Taizhou plan's 10 %: a chronic shortfall).
HEALTHY = {"exc_delay": 0.0005, "exc_damage": 0.5e-5, "exc_loss": 0.25e-5,
           "not_xray": 0.0075, "not_real_name": 0.0075, "not_inspected": 0.0075,
           "not_e_waybill": 0.0075, "not_standard": 0.0125, "not_recycled_bag": 0.15,
           "ecommerce_secondary": 0.02, "late": 0.0075}
LOCKER_SHARE = 0.15
ECOMMERCE_SHARE = 0.7


def _poisson_sf(k: int, mu: float) -> float:
    """P(X >= k), X ~ Poisson(mu), summed upward from k (the evidence's own reference)."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    term = math.exp(-mu + k * math.log(mu) - math.lgamma(k + 1))
    total, j = term, k
    while term > total * 1e-16:
        j += 1
        term *= mu / j
        total += term
    return total


def _poisson(rng: random.Random, mu: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal above 50)."""
    if mu > 50:
        return max(0, round(rng.gauss(mu, math.sqrt(mu))))
    limit, k, p = math.exp(-mu), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0:
        return 0
    if n * p < 30:
        return _poisson(rng, n * p) if p < 0.05 else sum(rng.random() < p for _ in range(n))
    return max(0, min(n, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))


def profile(t_ms: int) -> float:
    """The generator's acceptances per hour of China time, relative to the daily mean."""
    return HOURLY_PROFILE[(t_ms - T0) // HOUR_MS % 24]


@dataclass
class CellTraffic:
    """One cell's counts per 5-minute bucket (index from T0) and the times of incident misses."""

    buckets: list[dict[str, int]]
    incident_miss_ms: list[int] = field(default_factory=list)


def simulate_cell(rng: random.Random, per_hour: float, n_buckets: int,
                  share_at: Callable[[int], dict[str, float]],
                  incident_count: str | None = None,
                  incident: tuple[int, int, float] | None = None,
                  disorder_hour: int | None = 3, late_upload: bool = False) -> CellTraffic:
    """Counts of one cell. `share_at(t)` gives the miss shares at acceptance time t;
    `incident` (start ms, end ms, share) raises `incident_count`'s share for parcels
    accepted in it (the misses of those parcels are recorded as the incident's)."""
    buckets: list[dict[str, int]] = [dict() for _ in range(n_buckets)]
    out = CellTraffic(buckets)

    def put(i: int, name: str, n: int) -> None:
        if 0 <= i < n_buckets and n:
            buckets[i][name] = buckets[i].get(name, 0) + n

    for i in range(n_buckets):
        t = T0 + i * BUCKET_MS
        n = _poisson(rng, per_hour / 12 * profile(t))
        if not n:
            continue
        shares = share_at(t)
        keep = 1.0
        if disorder_hour is not None and (t - T0) // HOUR_MS % 24 == disorder_hour:
            keep = 1 - 0.5 * (1 - 600 / 3600)  # half the scans 0-60 min late: those past
            #                                    the 10-minute settle miss the alerts
        if late_upload and 8 <= (t - T0) // HOUR_MS % 24 < 14:
            keep *= 23 / 24  # one of 24 outlets uploads six hours late
        n_seen = _binomial(rng, n, keep)
        put(i, "accepted", n_seen)
        put(i, "delivered", n_seen)
        put(i, "delivered_locker", _binomial(rng, n_seen, LOCKER_SHARE))
        eco = _binomial(rng, n_seen, ECOMMERCE_SHARE)
        put(i, "accepted_ecommerce", eco)
        put(i, "ecommerce_secondary", _binomial(rng, eco, shares["ecommerce_secondary"]))
        for name in ("not_xray", "not_real_name", "not_inspected", "not_e_waybill",
                     "not_standard", "not_recycled_bag", "late"):
            put(i, name, _binomial(rng, n_seen, shares[name]))
        for name, lag in (("exc_delay", (0.5, 3.0)), ("exc_damage", (1.0, 6.0)),
                          ("exc_loss", (1.0, 6.0))):
            for _ in range(_binomial(rng, n, shares[name])):
                put(i + int(rng.uniform(*lag) * 12), name, 1)
        if incident is not None and incident_count is not None and incident[0] <= t < incident[1]:
            kind = next(k for k in KINDS.values() if k.count == incident_count)
            extra = max(0.0, incident[2] - shares[incident_count])
            for _ in range(_binomial(rng, n_seen if kind.lag_h == (0.0, 0.0) else n, extra)):
                j = i + int(rng.uniform(*kind.lag_h) * 12)
                put(j, incident_count, 1)
                out.incident_miss_ms.append(T0 + j * BUCKET_MS + BUCKET_MS // 2)
    return out


def healthy_shares(t_ms: int) -> dict[str, float]:
    return HEALTHY


def joined_counts(b: dict[str, int]) -> dict[str, int]:
    """A bucket's deliveries as the on-time join counts them (one judged class)."""
    joined, late = b.get("delivered", 0), b.get("late", 0)
    return {"joined": joined, "on_time": joined - late, f"joined.{ROUTE_CLASS}": joined,
            f"on_time.{ROUTE_CLASS}": joined - late}


def run_evaluators(catalog: Catalog, rules: AlertRules,
                   cells: dict[tuple[str, str], CellTraffic], n_buckets: int,
                   joined: bool = True) -> list[Alert]:
    """Feed every cell to the real evaluators, bucket by bucket as the worker does (the
    on-time evaluator with the join's counts of the same 5-minute slice)."""
    events = Evaluator(catalog, rules)
    on_time = Evaluator(catalog, rules, model=_joined_model()) if joined else None
    changes: list[Alert] = []
    for i in range(n_buckets):
        t = T0 + i * BUCKET_MS
        for (city, company), traffic in cells.items():
            b = traffic.buckets[i]
            if b:
                events.add(city, company, t, b)
                if on_time is not None:
                    on_time.add(city, company, t, joined_counts(b))
        changes += events.advance(t + BUCKET_MS)
        if on_time is not None:
            changes += on_time.advance(t + BUCKET_MS)
    return changes


def _joined_model() -> CountModel:
    return joined_model({ROUTE_CLASS: 48})


def evidence_ms(buckets: Sequence[dict[str, int]], kind: Kind, lo: int, hi: int) -> int | None:
    """The first bucket end in [lo, hi) (indexes) at which the issue's Poisson test over a
    trailing 1-6 h window of the misses received so far is significant."""
    den_name = "delivered" if kind.joined else "accepted"
    misses = [0]
    den = [0]
    for b in buckets:
        misses.append(misses[-1] + b.get(kind.count, 0))
        den.append(den[-1] + b.get(den_name, 0))
    for j in range(lo + 1, min(hi, len(buckets)) + 1):
        for w in EVIDENCE_WINDOWS:
            a = max(0, j - w)
            k, n = misses[j] - misses[a], den[j] - den[a]
            if _poisson_sf(k, kind.budget * n) <= EVIDENCE_ALPHA:
                return T0 + j * BUCKET_MS
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str
    per_hour: int
    factor: float
    seed: int
    detect_min: float | None      # incident start -> alert (None: no alert)
    evidence_min: float | None    # incident start -> evidence (None: never)
    beyond_min: float | None      # alert - evidence
    resolve_min: float | None     # last incident miss -> resolution
    episodes: int


INCIDENT_START_H = 24 + 10  # 10:00 of the second day: a day of history before it
INCIDENT_HOURS = 8
SPAN_H = INCIDENT_START_H + INCIDENT_HOURS + 12


def incident_run(kind: Kind, per_hour: int, factor: float, seed: int,
                 catalog: Catalog, rules: AlertRules) -> Outcome:
    rng = random.Random(f"{kind.name}-{per_hour}-{factor}-{seed}")
    n_buckets = SPAN_H * 12
    start = T0 + INCIDENT_START_H * HOUR_MS
    end = start + INCIDENT_HOURS * HOUR_MS
    share = min(1.0, factor * kind.budget)
    traffic = simulate_cell(rng, per_hour, n_buckets, healthy_shares, kind.count,
                            (start, end, share))
    judged = Catalog(tuple(t for t in catalog.targets
                           if t.metric == kind.kpi.split(".")[0]
                           and (t.route_class or "") == kind.kpi.partition(".")[2]))
    changes = run_evaluators(judged, rules, {(TAIZHOU, "ZTO"): traffic}, n_buckets,
                             joined=kind.joined)
    mine = [a for a in changes if a.kpi == kind.kpi]
    firing = [a for a in mine if a.started_at_ms == a.evaluated_at_ms
              and a.state != RESOLVED and a.started_at_ms >= start]
    settle = rules.settle_s * 1000
    alert = firing[0].started_at_ms + settle if firing else None
    lo = (start - T0) // BUCKET_MS
    hi = (max(traffic.incident_miss_ms, default=end) - T0) // BUCKET_MS + 1
    ev = evidence_ms(traffic.buckets, kind, lo, hi)
    last = max(traffic.incident_miss_ms, default=None)
    resolved = [a.resolved_at_ms for a in mine if a.state == RESOLVED and a.resolved_at_ms]
    resolve = (resolved[-1] + settle - last) / 60_000 if resolved and last and alert else None

    def minutes(a: int | None, b: int | None) -> float | None:
        return None if a is None or b is None else (a - b) / 60_000

    return Outcome(kind.name, per_hour, factor, seed, minutes(alert, start),
                   minutes(ev, start), minutes(alert, ev) if ev is not None else None,
                   resolve, max((sum(a.policy_id == p for a in firing)
                                 for p in {a.policy_id for a in firing}), default=0))


def national_healthy(days: int, seed: int, catalog: Catalog, rules: AlertRules,
                     total_per_hour: float = 40_000) -> tuple[int, list[Alert]]:
    """(cell-days, alerts) of `days` of healthy traffic in every city x company, the
    cells sized by the generator's city and brand weights (largest ~1,000/h, the
    smallest a few an hour and less at night)."""
    rng = random.Random(f"national-{seed}")
    n_buckets = days * 24 * 12
    city_w = {c: CITY_WEIGHT.get(c, 2.0) for c in CITIES}
    cw, bw = sum(city_w.values()), sum(COMPANY_WEIGHT.values())
    cells: dict[tuple[str, str], CellTraffic] = {}
    late_cell = (TAIZHOU, "EMS")
    for city, w in sorted(city_w.items()):
        for company, b in sorted(COMPANY_WEIGHT.items()):
            per_hour = total_per_hour * w / cw * b / bw
            cells[(city, company)] = simulate_cell(rng, per_hour, n_buckets, healthy_shares,
                                                   late_upload=(city, company) == late_cell)
    changes = run_evaluators(catalog, rules, cells, n_buckets)
    firing = [a for a in changes if a.started_at_ms == a.evaluated_at_ms
              and a.state != RESOLVED]
    return len(cells) * days, firing


def _summary(values: Sequence[float | None]) -> str:
    got = sorted(v for v in values if v is not None)
    if not got:
        return "-"
    missing = len(values) - len(got)
    text = f"{statistics.median(got):.0f} / {got[-1]:.0f}"
    return text + (f" ({missing} none)" if missing else "")


def detection_table(seeds: int, sizes: Sequence[int] = (20, 100, 500),
                    factors: Sequence[float] = (3, 10, 25),
                    kinds: Sequence[str] = tuple(KINDS)) -> list[Outcome]:
    catalog, rules = load_catalog(), AlertRules()
    return [incident_run(KINDS[k], size, f, s, catalog, rules)
            for k in kinds for size in sizes for f in factors for s in range(seeds)]


def render(outcomes: Sequence[Outcome]) -> str:
    """The markdown table of docs/alerting.md: minutes, median / worst over the seeds."""
    lines = ["| incident | parcels/h | x budget | start to evidence | start to alert "
             "| beyond evidence | last miss to resolved | episodes |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    groups: dict[tuple[str, int, float], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.kind, o.per_hour, o.factor), []).append(o)
    for (kind, size, factor), rows in groups.items():
        lines.append(
            f"| {kind} | {size} | {factor:g} | {_summary([r.evidence_min for r in rows])} "
            f"| {_summary([r.detect_min for r in rows])} "
            f"| {_summary([r.beyond_min for r in rows])} "
            f"| {_summary([r.resolve_min for r in rows])} "
            f"| {max(r.episodes for r in rows)} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m load_tests.detection", description=__doc__)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--days", type=int, default=7, help="days of healthy national traffic")
    p.add_argument("--healthy-seeds", type=int, default=1)
    p.add_argument("--format", choices=("table", "json"), default="table")
    args = p.parse_args(argv)
    outcomes = detection_table(args.seeds)
    catalog, rules = load_catalog(), AlertRules()
    cell_days, alerts = 0, []
    for s in range(args.healthy_seeds):
        n, fired = national_healthy(args.days, s, catalog, rules)
        cell_days += n
        alerts += fired
    per_1000 = len(alerts) / cell_days * 1000
    if args.format == "json":
        sys.stdout.write(orjson.dumps({
            "outcomes": [o.__dict__ if hasattr(o, "__dict__") else _as_dict(o)
                         for o in outcomes],
            "healthy_cell_days": cell_days, "healthy_alerts": len(alerts),
            "false_alarms_per_1000_cell_days": per_1000}).decode() + "\n")
        return 0
    print(render(outcomes))
    print(f"\nhealthy: {len(alerts)} alerts over {cell_days} cell-days "
          f"({per_1000:.2f} per 1,000 cell-days)")
    for a in alerts:
        print(f"  {a.city} {a.company} {a.kpi} {a.policy_id} {a.rule} {a.misses}/{a.sample}")
    return 0


def _as_dict(o: Outcome) -> dict[str, object]:
    return {f: getattr(o, f) for f in Outcome.__slots__}


if __name__ == "__main__":
    raise SystemExit(main())
