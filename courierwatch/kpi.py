"""The KPI table of docs/DESIGN.md: the one place a KPI, its counts and its unit are defined.

Every KPI is a ratio of counts of distinct events (by `event_id`) in one cell: city x
company x period (an hour or a day of China Standard Time of the event's `ts`).
Numerator and denominator are stored; the value is derived here so that a region or an
all-companies row can sum numerators and denominators first.

Derived from this module, never written elsewhere:
- the `uniqExact` state columns of ClickHouse's `cell_counts` and their conditions
  (`warehouse.schema`), from `COUNTS`;
- the figures per cell (`courierwatch.figures`), from `KPIS`;
- units and scales of every row (`courierwatch.judgement`, the API, the renderers).

A KPI naming a count that is not defined raises `ValueError` when this module is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["count", "ratio", "per_1000", "per_100000", "per_1000000", "mm_per_parcel"]
SCALES: dict[Unit, float] = {
    "count": 1.0, "ratio": 1.0, "per_1000": 1e3, "per_100000": 1e5, "per_1000000": 1e6,
    "mm_per_parcel": 1.0,
}
Source = Literal["counts", "join"]


@dataclass(frozen=True, slots=True)
class Count:
    """Distinct events of a cell matching `condition`, a ClickHouse boolean expression over
    the columns of the archive (`warehouse.schema.EVENT_COLUMNS`)."""

    name: str
    condition: str


_ACC = "type = 'ACCEPTED'"
_APPEAL = "type = 'COMPLAINT' AND channel != 'COMPANY'"
_COMPANY = "type = 'COMPLAINT' AND channel = 'COMPANY'"
COUNTS: tuple[Count, ...] = (
    Count("accepted", _ACC),
    Count("accepted_ecommerce", f"{_ACC} AND ecommerce = 1"),
    Count("ecommerce_no_secondary", f"{_ACC} AND ecommerce = 1 AND pkg_secondary = 0"),
    Count("pkg_standard", f"{_ACC} AND pkg_standard = 1"),
    Count("pkg_e_waybill", f"{_ACC} AND pkg_e_waybill = 1"),
    Count("pkg_recycled_bag", f"{_ACC} AND pkg_recycled_bag = 1"),
    Count("sec_real_name", f"{_ACC} AND sec_real_name = 1"),
    Count("sec_inspected", f"{_ACC} AND sec_inspected = 1"),
    Count("sec_xray", f"{_ACC} AND sec_xray = 1"),
    Count("delivered", "type = 'DELIVERED'"),
    Count("delivered_locker", "type = 'DELIVERED' AND mode = 'LOCKER'"),
    Count("exc_delay", "type = 'EXCEPTION' AND kind = 'DELAY'"),
    Count("exc_damage", "type = 'EXCEPTION' AND kind = 'DAMAGE'"),
    Count("exc_loss", "type = 'EXCEPTION' AND kind = 'LOSS'"),
    # Appeals (申诉: channel APPEAL, or absent, which the archive stores as '') and company
    # complaints (投诉: channel COMPANY) are counted apart (seed 000 二, the 003 专栏).
    Count("complaint_filed", f"{_APPEAL} AND stage = 'FILED'"),
    Count("complaint_accepted", f"{_APPEAL} AND stage = 'ACCEPTED'"),
    Count("complaint_resolved", f"{_APPEAL} AND stage = 'RESOLVED'"),
    Count("complaint_valid", f"{_APPEAL} AND stage = 'RESOLVED' AND valid = 1"),
    Count("complaint_satisfied", f"{_APPEAL} AND stage = 'RESOLVED' AND satisfied = 1"),
    Count("company_complaint_resolved", f"{_COMPANY} AND stage = 'RESOLVED'"),
    Count("company_complaint_satisfied", f"{_COMPANY} AND stage = 'RESOLVED' AND satisfied = 1"),
)
COUNT_NAMES: tuple[str, ...] = tuple(c.name for c in COUNTS)
PARCEL_COHORT_COUNTS: tuple[str, ...] = ("exc_delay", "exc_damage", "exc_loss",
                                         "complaint_valid")
"""Numerators of the per-parcel rates, counted as cohorts (warehouse.parcel_rates): the
parcels accepted in the cell with such an exception or a valid appeal, whenever it came."""
COMPLAINT_COHORT_COUNTS: tuple[str, ...] = tuple(
    c.name for c in COUNTS if c.name.startswith(("complaint_", "company_complaint_"))
    and c.name not in PARCEL_COHORT_COUNTS)
"""The complaint counts of a cell's figures are cohorts (warehouse.complaints): the
complaints FILED in the cell, with their later stages, whatever their period. The
per-event states of the same names in `cell_counts` (and of PARCEL_COHORT_COUNTS) are
not read for figures; they stay for the Grafana dashboards and alert cells."""
TAPE_MM_SUM = "tape_mm_sum"
"""Sum of packaging.tape_mm over the distinct ACCEPTED of a cell (table `tape_cells`)."""
CELL_COUNT_NAMES: tuple[str, ...] = (*COUNT_NAMES, TAPE_MM_SUM)
JOIN_COUNT_NAMES: tuple[str, ...] = ("joined", "on_time", "promised", "kept")
"""What the DELIVERED x ACCEPTED join counts per cell and route class
(`courierwatch.figures.JoinedCell`): joined deliveries, those within the route class's
hours, those whose parcel has a `promised_by`, and those no later than it. A joined parcel
counts in the cells of both ends of its route (`counted_at_both_ends`)."""


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    """One KPI: `numerator` / `denominator` (count names of `source`), scaled to `unit`."""

    name: str
    numerator: str
    denominator: str  # "" for a plain count (volume)
    unit: Unit
    meaning: str
    source: Source = "counts"

    @property
    def scale(self) -> float:
        return SCALES[self.unit]

    def value(self, numerator: float, denominator: float) -> float | None:
        """The scaled value; None when the denominator is empty (no data is not 0 %)."""
        if self.unit == "count":
            return float(numerator)
        if denominator <= 0:
            return None
        return numerator / denominator * self.scale


KPIS: tuple[KpiDefinition, ...] = (
    KpiDefinition("volume", "accepted", "", "count", "ACCEPTED"),
    KpiDefinition("on_time_rate", "on_time", "joined", "ratio",
                  "joined parcels within the tightest judged limit they are held to / joined "
                  "parcels with a judged route class, at both ends of the route (per class: "
                  "within the class's hours / in the class)", "join"),
    KpiDefinition("promise_kept_rate", "kept", "promised", "ratio",
                  "DELIVERED no later than promised_by / DELIVERED whose parcel has a "
                  "promised_by", "join"),
    KpiDefinition("locker_share", "delivered_locker", "delivered", "ratio",
                  "DELIVERED mode LOCKER / DELIVERED"),
    KpiDefinition("delay_rate", "exc_delay", "accepted", "per_1000",
                  "parcels ACCEPTED in the cell with an EXCEPTION DELAY (whenever) / ACCEPTED"),
    KpiDefinition("damage_rate", "exc_damage", "accepted", "per_100000",
                  "parcels ACCEPTED in the cell with an EXCEPTION DAMAGE (whenever) / ACCEPTED"),
    KpiDefinition("loss_rate", "exc_loss", "accepted", "per_100000",
                  "parcels ACCEPTED in the cell with an EXCEPTION LOSS (whenever) / ACCEPTED"),
    KpiDefinition("valid_complaint_rate", "complaint_valid", "accepted", "per_1000000",
                  "parcels ACCEPTED in the cell with a valid appeal (有效申诉) / ACCEPTED"),
    KpiDefinition("complaint_acceptance_rate", "complaint_accepted", "complaint_filed", "ratio",
                  "of the appeals FILED in the cell, those ACCEPTED (whenever), 12305 受理 / "
                  "appeals FILED in the cell"),
    KpiDefinition("complaint_satisfaction", "complaint_satisfied", "complaint_resolved", "ratio",
                  "of the appeals FILED in the cell and RESOLVED, those satisfied / those "
                  "RESOLVED"),
    KpiDefinition("company_complaint_satisfaction", "company_complaint_satisfied",
                  "company_complaint_resolved", "ratio",
                  "of the company complaints FILED in the cell and RESOLVED, those satisfied / "
                  "those RESOLVED"),
    KpiDefinition("standard_packaging_share", "pkg_standard", "accepted", "ratio",
                  "ACCEPTED packaging.standard / ACCEPTED"),
    KpiDefinition("e_waybill_share", "pkg_e_waybill", "accepted", "ratio",
                  "ACCEPTED packaging.e_waybill / ACCEPTED"),
    KpiDefinition("no_secondary_packaging_share", "ecommerce_no_secondary", "accepted_ecommerce",
                  "ratio", "ACCEPTED ecommerce without secondary_packaging / ACCEPTED ecommerce"),
    KpiDefinition("recycled_bag_share", "pkg_recycled_bag", "accepted", "ratio",
                  "ACCEPTED packaging.recycled_bag, a reusable transit bag (循环中转袋; the "
                  "names are DESIGN.md's) / ACCEPTED"),
    KpiDefinition("tape_mm_mean", TAPE_MM_SUM, "accepted", "mm_per_parcel",
                  "sum of packaging.tape_mm / ACCEPTED"),
    KpiDefinition("real_name_rate", "sec_real_name", "accepted", "ratio",
                  "ACCEPTED security.real_name / ACCEPTED"),
    KpiDefinition("inspection_rate", "sec_inspected", "accepted", "ratio",
                  "ACCEPTED security.inspected / ACCEPTED"),
    KpiDefinition("xray_rate", "sec_xray", "accepted", "ratio",
                  "ACCEPTED security.xray / ACCEPTED"),
)

ROUTE_UNCLASSIFIED_KPI = "route_unclassified_share"
"""Not a target KPI: the share of joined deliveries on routes with no SLA class (a ratio)."""


def check_table(kpis: tuple[KpiDefinition, ...], counts: tuple[str, ...],
                join_counts: tuple[str, ...]) -> None:
    """Raise ValueError naming the first KPI whose numerator or denominator is not a count of
    its source, or a name defined twice."""
    names = [k.name for k in kpis]
    if len(set(names)) != len(names) or len(set(counts)) != len(counts):
        raise ValueError("a KPI or count name is defined twice")
    for k in kpis:
        known = counts if k.source == "counts" else join_counts
        for part in (k.numerator, k.denominator):
            if part and part not in known:
                raise ValueError(f"KPI {k.name!r} names unknown {k.source} count {part!r}")
        if not k.denominator and k.unit != "count":
            raise ValueError(f"KPI {k.name!r} has no denominator but is not a count")


check_table(KPIS, CELL_COUNT_NAMES, JOIN_COUNT_NAMES)

KPI_BY_NAME: dict[str, KpiDefinition] = {k.name: k for k in KPIS}
KPI_NAMES: tuple[str, ...] = tuple(KPI_BY_NAME)
COUNT_KPIS: tuple[KpiDefinition, ...] = tuple(k for k in KPIS if k.source == "counts")


BOTH_ENDS, EVENT_CITY, FILED_CITY, ACCEPTED_CITY = (
    "origin+destination", "event", "filed", "accepted")


def counted_at(kpi: str) -> str:
    """Which city's cell a figure of `kpi` counts its units in (the `counted_at` field of
    every row; docs/semantics.md, "Which city a figure counts in"):

    - `origin+destination`: the join's figures (on_time_rate and its classes,
      promise_kept_rate, route_unclassified_share) count a parcel in its origin city's
      cell and in its destination city's (once when the same), and once in the YRD row;
    - `filed`: complaint shares count a complaint, with its later stages, in the cell of
      its FILED stage (a cohort);
    - `accepted`: the per-parcel rates (delay, damage, loss, valid appeals) count a parcel
      in the cell of its earliest ACCEPTED, with its exceptions and appeals whenever they
      came (a cohort; the denominator is that cell's ACCEPTED);
    - `event`: everything else counts each event in the cell of its own city and time.
    """
    base = kpi.split(".", 1)[0]
    if kpi == ROUTE_UNCLASSIFIED_KPI or KPI_BY_NAME[base].source == "join":
        return BOTH_ENDS
    if KPI_BY_NAME[base].numerator in COMPLAINT_COHORT_COUNTS:
        return FILED_CITY
    if KPI_BY_NAME[base].numerator in PARCEL_COHORT_COUNTS:
        return ACCEPTED_CITY
    return EVENT_CITY


def counted_at_both_ends(kpi: str) -> bool:
    return counted_at(kpi) == BOTH_ENDS


def unit_of(kpi: str) -> Unit:
    """The unit of a figure's KPI name (`on_time_rate.<class>` has its base KPI's unit)."""
    if kpi == ROUTE_UNCLASSIFIED_KPI:
        return "ratio"
    return KPI_BY_NAME[kpi.split(".", 1)[0]].unit
