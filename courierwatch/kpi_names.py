"""What each KPI is called on a screen, in Chinese and English, and what its denominator
counts (so that a figure can say "of 812 deliveries"). Pure data; the names follow the seed
plans' wording (seed 003 专栏, the city plans)."""

from __future__ import annotations

from courierwatch.kpi import KPI_BY_NAME

KPI_LABELS: dict[str, tuple[str, str]] = {
    "volume": ("业务量", "volume (acceptances)"),
    "on_time_rate": ("时限准时率", "on time"),
    "on_time_rate.yrd_key_12h": ("长三角重点城市12小时准时率", "YRD key cities 12 h on time"),
    "on_time_rate.yrd_24h": ("长三角24小时准时率", "YRD 24 h on time"),
    "on_time_rate.national_key_48h": ("全国重点城市48小时准时率",
                                      "national key cities 48 h on time"),
    "on_time_rate.intra_city": ("同城准时率", "intra-city on time"),
    "promise_kept_rate": ("承诺时限兑现率", "promise kept"),
    "delay_rate": ("延误率", "delays"),
    "damage_rate": ("损毁率", "damage"),
    "loss_rate": ("丢失率", "loss"),
    "valid_complaint_rate": ("有效申诉率", "valid appeals"),
    "complaint_acceptance_rate": ("申诉受理率", "appeals accepted"),
    "complaint_satisfaction": ("申诉处理满意率", "appeal satisfaction"),
    "company_complaint_satisfaction": ("企业投诉处理满意率", "company complaint satisfaction"),
    "locker_share": ("智能箱投递率", "locker share"),
    "standard_packaging_share": ("规范包装率", "standard packaging"),
    "e_waybill_share": ("电子面单使用率", "e-waybill"),
    "no_secondary_packaging_share": ("电商快件不再二次包装率", "no re-packing (e-commerce)"),
    "recycled_bag_share": ("循环中转袋使用率", "recycled transit bags"),
    "tape_mm_mean": ("胶带使用量", "tape per parcel"),
    "real_name_rate": ("实名收寄率", "real-name acceptance"),
    "inspection_rate": ("收寄验视率", "inspection on acceptance"),
    "xray_rate": ("过机安检率", "X-ray screening"),
}

# What a KPI's denominator counts, in the range shown (a rate says "of N <this>").
DENOMINATOR_NAMES: dict[str, str] = {
    "accepted": "acceptances", "joined": "deliveries on classified routes",
    "promised": "deliveries with a promised time", "delivered": "deliveries",
    "complaint_filed": "appeals filed", "complaint_resolved": "appeals resolved",
    "company_complaint_resolved": "company complaints resolved",
    "accepted_ecommerce": "e-commerce acceptances", "": "acceptances",
}


def kpi_name(kpi: str) -> tuple[str, str]:
    """(Chinese, English) name of a KPI or route-class KPI; the code itself when unknown."""
    return KPI_LABELS.get(kpi, (kpi, kpi))


def denominator_name(kpi: str) -> str:
    """What the KPI's denominator counts: 'acceptances', 'deliveries', ..."""
    definition = KPI_BY_NAME.get(kpi.split(".", 1)[0])
    return DENOMINATOR_NAMES.get(definition.denominator if definition else "", "events")
