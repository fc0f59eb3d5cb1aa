"""What people call the KPIs and the seed documents: Chinese labels beside the
identifiers (tables of the command line), and each seed file's title and number (文号).
Pure data; the identifiers stay the API's and the files' names (courierwatch.kpi,
docs/seeds/)."""

from __future__ import annotations

KPI_LABELS_ZH: dict[str, str] = {
    "volume": "揽收量",
    "on_time_rate": "时限准时率",
    "promise_kept_rate": "承诺时限兑现率",
    "locker_share": "智能快件箱投递占比",
    "delay_rate": "延误率",
    "damage_rate": "损毁率",
    "loss_rate": "丢失率",
    "valid_complaint_rate": "有效申诉率",
    "complaint_acceptance_rate": "申诉受理率",
    "complaint_satisfaction": "申诉处理满意率",
    "company_complaint_satisfaction": "企业投诉处理满意率",
    "standard_packaging_share": "标准化包装占比",
    "e_waybill_share": "电子运单使用率",
    "no_secondary_packaging_share": "电商快件不再二次包装率",
    "recycled_bag_share": "循环中转袋使用率",
    "tape_mm_mean": "平均胶带使用长度",
    "real_name_rate": "实名收寄率",
    "inspection_rate": "开箱验视率",
    "xray_rate": "过机安检率",
    "route_unclassified_share": "未分类线路占比",
}


def kpi_label(kpi: str, lang: str = "zh") -> str:
    """`on_time_rate 时限准时率` (zh: the identifier and its Chinese label; a route class
    stays on the identifier), or the identifier alone (en)."""
    label = KPI_LABELS_ZH.get(kpi.split(".", 1)[0])
    return f"{kpi} {label}" if lang == "zh" and label else kpi


# The seed documents (docs/seeds/README.md): title, and number (文号) where the copy has one.
DOCUMENTS: dict[str, tuple[str, str]] = {
    "000_7b0928e13d512c50.txt": ("常州市关于促进快递业健康发展的实施意见", ""),
    "001_9f9979403268b96b.txt": ("台州市建设“中国快递示范城市”实施方案", "台政办发〔2020〕32号"),
    "002_859884e0d471a69c.txt": ("聊城市加快邮政快递业高质量发展实施方案", "聊政办字〔2024〕9号"),
    "003_919ced1e3435c65d.txt": ("长江三角洲地区快递服务发展“十三五”规划（2017年3月）", ""),
    "004_5f6d5c30ca0e718a.txt": ("武汉市深化“中国快递示范城市”建设实施方案（2024年1月）", ""),
}


def document_label(source: str) -> str:
    """`title 文号` of a seed file (the file name when it is not a seed)."""
    title, number = DOCUMENTS.get(source, (source, ""))
    return f"{title} {number}".strip()
