"""The alert record and the figures alerting is computed from. Pure: no I/O.

Alerting reads its own counts (warehouse.alert_schema): per city x company x 5-minute
bucket of event time, the distinct events the alertable KPIs need. For a KPI whose
numerator is a filtered share of its denominator's events (x-ray among ACCEPTED, ...) the
store counts the *complement* (ACCEPTED without x-ray): those sets are a few per cent of
the events, so the extra aggregation costs the ingest path little.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from courierwatch.kpi import COUNT_KPIS, COUNT_NAMES


@dataclass(frozen=True, slots=True)
class KpiCounts:
    """How a KPI's numerator and denominator come out of the alert counts.

    `complement`: the stored count is denominator minus numerator (the events that miss).
    """

    denominator: str
    count: str
    complement: bool = False

    def num_den(self, c: tuple[int, ...], index: Mapping[str, int] | None = None
                ) -> tuple[int, int]:
        at = COUNT_INDEX if index is None else index
        den = c[at[self.denominator]]
        n = c[at[self.count]]
        return (den - n if self.complement else n), den


# The KPIs alerting evaluates: every ratio KPI of the KPI table (courierwatch.kpi) whose
# counts are not a join (on_time_rate and promise_kept_rate need the DELIVERED x ACCEPTED
# join: see docs/alerting.md) and are distinct events (not tape_mm_mean's sum), with the
# table's numerator and denominator. For the shares near 100 % the store counts the events
# that miss instead (this map names that complement count; its condition is
# warehouse.alert_schema's).
COMPLEMENT_COUNTS: dict[str, str] = {
    "standard_packaging_share": "not_standard",
    "e_waybill_share": "not_e_waybill",
    "no_secondary_packaging_share": "ecommerce_secondary",
    "recycled_bag_share": "not_recycled_bag",
    "real_name_rate": "not_real_name",
    "inspection_rate": "not_inspected",
    "xray_rate": "not_xray",
}
ALERT_KPIS: dict[str, KpiCounts] = {
    k.name: KpiCounts(k.denominator, COMPLEMENT_COUNTS.get(k.name, k.numerator),
                      k.name in COMPLEMENT_COUNTS)
    for k in COUNT_KPIS if k.denominator and k.numerator in COUNT_NAMES}

# The counts the alert store keeps per bucket, derived from ALERT_KPIS: the KPI table's
# counts they read directly (in the table's order), then the complements. Bit i of
# `alert_cells.flags` is count i (warehouse.alert_schema.flags_sql) and databases keep those
# bits, so a new count must come last: tests/unit/test_alerting.py pins the order.
_DIRECT = ({how.denominator for how in ALERT_KPIS.values()}
           | {how.count for how in ALERT_KPIS.values() if not how.complement})
ALERT_COUNTS: tuple[str, ...] = (*(n for n in COUNT_NAMES if n in _DIRECT),
                                 *COMPLEMENT_COUNTS.values())
COUNT_INDEX: dict[str, int] = {n: i for i, n in enumerate(ALERT_COUNTS)}



@dataclass(frozen=True, slots=True)
class CountModel:
    """What one evaluator counts: the count names of a bucket, the KPIs made of them (by
    the figures' KPI name: `delay_rate`, `on_time_rate.yrd_24h`) and the bucket length.

    Two models exist: `EVENT_MODEL`, 5-minute buckets of the event counts (alert_cells),
    and `joined_model(...)`, 5-minute buckets of the DELIVERED x ACCEPTED join the figures
    use (on-time per route class, promises kept), by the delivery's event time.
    """

    name: str
    counts: tuple[str, ...]
    kpis: Mapping[str, KpiCounts]
    bucket_s: int
    acceptance_lag_s: Mapping[str, int] = field(default_factory=dict)  # KPI -> class hours
    miss_lag_s: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # scan lags

    @property
    def index(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.counts)}


# KPIs whose misses are later scans of earlier acceptances (a delay is scanned 0.5-3 h
# after its acceptance in the generator and the measurements; damage and loss at
# the hubs): (shortest, longest) scan lag in seconds. Their exact test compares a window's
# misses with the acceptances those scans belong to as well (Evaluator._breach).
SCAN_LAG_S: dict[str, tuple[int, int]] = {"delay_rate": (1800, 10800),
                                          "damage_rate": (1800, 10800),
                                          "loss_rate": (1800, 10800)}
EVENT_MODEL = CountModel("events", ALERT_COUNTS, ALERT_KPIS, 300, miss_lag_s=SCAN_LAG_S)
JOINED, ON_TIME, PROMISED, KEPT = "joined", "on_time", "promised", "kept"


def joined_model(route_hours: Mapping[str, int]) -> CountModel:
    """5-minute counts of the on-time join: per route class `joined.<rc>`, `on_time.<rc>`,
    the judged classes' totals (the figures' `on_time_rate`), and `promised`, `kept`.
    `route_hours`: each route class's hours (a late parcel's acceptance is that far back)."""
    classes = tuple(route_hours)
    counts = (JOINED, ON_TIME, PROMISED, KEPT,
              *(f"{c}.{rc}" for rc in classes for c in (JOINED, ON_TIME)))
    kpis = {"on_time_rate": KpiCounts(JOINED, ON_TIME),
            "promise_kept_rate": KpiCounts(PROMISED, KEPT)}
    kpis |= {f"on_time_rate.{rc}": KpiCounts(f"{JOINED}.{rc}", f"{ON_TIME}.{rc}")
             for rc in classes}
    lag = {f"on_time_rate.{rc}": h * 3600 for rc, h in route_hours.items()}
    return CountModel("joined", counts, kpis, 300, lag)


ALERT_NAME = "CourierwatchTargetBreach"
FIRING, RESOLVED = "firing", "resolved"
PAGE, WARNING = "page", "warning"


def fingerprint(city: str, company: str, kpi: str, policy_id: str) -> str:
    """16 hex digits of SHA-256 over the sorted labels: stable across runs, processes and
    replays (the same labels always give the same fingerprint, as in Alertmanager)."""
    labels = {"alertname": ALERT_NAME, "city": city, "company": company, "kpi": kpi,
              "policy_id": policy_id}
    text = "\x00".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert (city x company x KPI x policy) as of its latest evaluation.

    Times are epoch milliseconds of *event time*: `started_at_ms` is the end of the first
    5-minute bucket whose evaluation breached, `last_breach_ms` the latest such, and
    `resolved_at_ms` the evaluation at which it resolved. `value` (in the KPI's unit, as
    `courierwatch kpi` shows it) and `sample` (the denominator) are of the long window of
    the rule that breached last; `burn_rate` is that window's miss share over the budget.
    """

    fingerprint: str
    city: str
    city_zh: str
    city_en: str
    company: str
    kpi: str
    unit: str
    value: float
    threshold: float
    comparator: str
    policy_id: str
    source: str
    section: str
    quote: str
    strength: str
    severity: str
    state: str
    rule: str
    long_window_s: int
    short_window_s: int
    burn_factor: float
    burn_rate: float
    short_value: float | None
    sample: int
    misses: int
    started_at_ms: int
    last_breach_ms: int
    resolved_at_ms: int | None
    evaluated_at_ms: int
    # Added with the exact test and the join-based KPIs (older stored alerts lack them):
    p_value: float | None = None          # the exact test's, when it fired ("exact" rule)
    window_start_ms: int | None = None    # the event-time window `value` and `misses`
    window_end_ms: int | None = None      # are of (the rule's long window)
    acceptance_before_ms: int | None = None  # on-time: the late parcels were accepted
    #                                          before this (window end - class hours)

    @property
    def key(self) -> tuple[str, int]:
        """The notification identity: one alert episode (fingerprint and start)."""
        return self.fingerprint, self.started_at_ms

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Alert:
        """Inverse of `to_json`; unknown keys are ignored, a missing one without a default
        is a KeyError (alerts stored before a field was added take its default)."""
        return cls(**{f.name: d[f.name] for f in fields(cls)
                      if f.name in d or f.default is MISSING})
