"""KPI definitions of DESIGN.md: each a ratio of counts of distinct events in one cell.

A cell is city x company x period (an hour or a day of China Standard Time, UTC+8, of the
event's `ts`). Numerator and denominator are stored; the value is derived here so that a
region or an all-companies row can sum numerators and denominators first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["count", "ratio", "per_1000", "per_100000", "per_1000000", "mm_per_parcel"]

_SCALE: dict[str, float] = {
    "count": 1.0, "ratio": 1.0, "per_1000": 1e3, "per_100000": 1e5, "per_1000000": 1e6,
    "mm_per_parcel": 1.0,
}


@dataclass(frozen=True, slots=True)
class KpiDefinition:
    name: str
    numerator: str
    denominator: str
    unit: Unit

    @property
    def scale(self) -> float:
        return _SCALE[self.unit]

    def value(self, numerator: float, denominator: float) -> float | None:
        """The scaled value; None when the denominator is empty (no data is not 0 %)."""
        if self.unit == "count":
            return float(numerator)
        if denominator <= 0:
            return None
        return numerator / denominator * self.scale


KPIS: tuple[KpiDefinition, ...] = (
    KpiDefinition("volume", "ACCEPTED", "", "count"),
    KpiDefinition("on_time_rate", "DELIVERED within the route class's hours of ACCEPTED",
                  "DELIVERED with a known ACCEPTED and a route class", "ratio"),
    KpiDefinition("promise_kept_rate", "DELIVERED no later than promised_by",
                  "DELIVERED whose parcel has a promised_by", "ratio"),
    KpiDefinition("locker_share", "DELIVERED mode LOCKER", "DELIVERED", "ratio"),
    KpiDefinition("delay_rate", "EXCEPTION DELAY", "ACCEPTED", "per_1000"),
    KpiDefinition("damage_rate", "EXCEPTION DAMAGE", "ACCEPTED", "per_100000"),
    KpiDefinition("loss_rate", "EXCEPTION LOSS", "ACCEPTED", "per_100000"),
    # Appeals (申诉 to the postal administration, channel APPEAL or absent) and company
    # complaints (投诉, channel COMPANY) are kept apart: seed 000 二 and the 003 专栏.
    KpiDefinition("valid_complaint_rate", "COMPLAINT (appeal) RESOLVED valid: 有效申诉",
                  "ACCEPTED", "per_1000000"),
    KpiDefinition("complaint_acceptance_rate", "COMPLAINT (appeal) ACCEPTED: 12305 受理",
                  "COMPLAINT (appeal) FILED", "ratio"),
    KpiDefinition("complaint_satisfaction", "COMPLAINT (appeal) RESOLVED satisfied",
                  "COMPLAINT (appeal) RESOLVED", "ratio"),
    KpiDefinition("company_complaint_satisfaction", "COMPLAINT (company) RESOLVED satisfied",
                  "COMPLAINT (company) RESOLVED", "ratio"),
    KpiDefinition("standard_packaging_share", "ACCEPTED packaging.standard", "ACCEPTED", "ratio"),
    KpiDefinition("e_waybill_share", "ACCEPTED packaging.e_waybill", "ACCEPTED", "ratio"),
    KpiDefinition("no_secondary_packaging_share", "ACCEPTED ecommerce without secondary_packaging",
                  "ACCEPTED ecommerce", "ratio"),
    # packaging.recycled_bag is a reusable transit bag (循环中转袋), not a recycled one; the
    # KPI keeps DESIGN.md's name.
    KpiDefinition("recycled_bag_share", "ACCEPTED packaging.recycled_bag (reusable transit bag)",
                  "ACCEPTED", "ratio"),
    KpiDefinition("tape_mm_mean", "sum of packaging.tape_mm", "ACCEPTED", "mm_per_parcel"),
    KpiDefinition("real_name_rate", "ACCEPTED security.real_name", "ACCEPTED", "ratio"),
    KpiDefinition("inspection_rate", "ACCEPTED security.inspected", "ACCEPTED", "ratio"),
    KpiDefinition("xray_rate", "ACCEPTED security.xray", "ACCEPTED", "ratio"),
)

KPI_BY_NAME: dict[str, KpiDefinition] = {k.name: k for k in KPIS}
KPI_NAMES: tuple[str, ...] = tuple(KPI_BY_NAME)
