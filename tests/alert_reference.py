"""Alert bucket counts computed straight from raw event dicts, for the tests only.

An independent reading of DESIGN.md's count definitions per city x company x 5-minute
bucket of event time (distinct event ids, first copy wins), sharing no code with the
pipeline's SQL (warehouse.alert_schema) or the evaluator's KPI mapping.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

BUCKET_MS = 300_000


def count_names(e: dict[str, Any]) -> list[str]:
    """The counts one (distinct) event adds to its cell's bucket."""
    t = e["type"]
    out: list[str] = []
    if t == "ACCEPTED":
        pkg, sec = e["packaging"], e["security"]
        out.append("accepted")
        if e.get("ecommerce"):
            out.append("accepted_ecommerce")
            if pkg.get("secondary_packaging"):
                out.append("ecommerce_secondary")
        for flag, name in (("standard", "not_standard"), ("e_waybill", "not_e_waybill"),
                           ("recycled_bag", "not_recycled_bag")):
            if not pkg.get(flag):
                out.append(name)
        for flag, name in (("real_name", "not_real_name"), ("inspected", "not_inspected"),
                           ("xray", "not_xray")):
            if not sec.get(flag):
                out.append(name)
    elif t == "DELIVERED":
        out.append("delivered")
        if e["mode"] == "LOCKER":
            out.append("delivered_locker")
    elif t == "EXCEPTION" and e["kind"] in ("DELAY", "DAMAGE", "LOSS"):
        out.append("exc_" + e["kind"].lower())
    elif t == "COMPLAINT" and (e.get("channel") or "APPEAL") == "APPEAL":  # 申诉
        stage = e["stage"]
        out.append("complaint_" + stage.lower())
        if stage == "RESOLVED" and e.get("valid"):
            out.append("complaint_valid")
        if stage == "RESOLVED" and e.get("satisfied"):
            out.append("complaint_satisfied")
    elif t == "COMPLAINT" and e["stage"] == "RESOLVED":  # 投诉 to the company
        out.append("company_complaint_resolved")
        if e.get("satisfied"):
            out.append("company_complaint_satisfied")
    return out


def ts_ms(e: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(str(e["ts"])).timestamp() * 1000)


def bucket_counts(events: Iterable[dict[str, Any]]
                  ) -> dict[tuple[str, str, int], dict[str, int]]:
    """{(city, company, bucket start ms): {count name: distinct events}}."""
    seen: set[str] = set()
    out: dict[tuple[str, str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in events:
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        names = count_names(e)
        if names:
            cell = out[(e["city"], e["company"], ts_ms(e) // BUCKET_MS * BUCKET_MS)]
            for n in names:
                cell[n] += 1
    return out
