"""Alert payloads for people and machines: `alerts list` rows and Alertmanager webhooks.

`describe_alert` is the one place an alert is written for a person; the dashboard (through
the `display` object of GET /api/alerts rows), `courierwatch alerts list` and the demo all
show its text: 台州 Taizhou (Zhejiang) · ZTO · 延误率 delays 50.5‰ vs ≤2‰ · binding ·
since 14:35 CST (3 h 10 min), with a link to the city's drill-down at that time.

The webhook body is Alertmanager's webhook format, version "4"
(https://prometheus.io/docs/alerting/latest/configuration/#webhook_config): one message per
alert transition, so that a receiver can deduplicate on (fingerprint, status, startsAt).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from courierwatch.alert_model import ALERT_NAME, FIRING, Alert
from courierwatch.cities import city_label
from courierwatch.kpi_names import kpi_name
from courierwatch.periods import CST
from courierwatch.units import fmt_figure, fmt_target

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert


def cst_iso(ms: int | None) -> str | None:
    """Epoch ms as RFC 3339 in China Standard Time, e.g. 2026-11-02T09:05:00+08:00."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, CST).isoformat(timespec="seconds")


def utc_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def alert_row(a: Alert) -> dict[str, Any]:
    """The `alerts list --format json` object: DESIGN.md's keys first, then everything else
    (`display`: the alert written for a person, `describe_alert`)."""
    row = {"city": a.city, "company": a.company, "kpi": a.kpi, "state": a.state,
           "value": a.value, "threshold": a.threshold, "policy_id": a.policy_id,
           "started_at": cst_iso(a.started_at_ms), "resolved_at": cst_iso(a.resolved_at_ms)}
    rest = {k: v for k, v in a.to_json().items() if k not in row}
    rest["last_breach_at"] = cst_iso(a.last_breach_ms)
    rest["evaluated_at"] = cst_iso(a.evaluated_at_ms)
    rest["display"] = asdict(describe_alert(row | rest))
    return row | rest


@dataclass(frozen=True, slots=True)
class AlertText:
    """An alert as a person reads it; every field is plain text (escape it on a page)."""

    mark: str        # ✗ (binding, pages) or △ (aspirational, warns); ✓ once resolved
    place: str       # 台州 Taizhou (Zhejiang)
    company: str
    kpi: str         # 延误率 delays
    value: str       # 50.5‰
    target: str      # ≤2‰
    strength: str    # binding / aspirational 力争
    since: str       # 14:35 CST (3 h 10 min), the date too when not the day of `until`
    link: str        # /?city=331000&company=ZTO&kpi=delay_rate&from=...&to=...
    line: str        # all of it on one line

    @property
    def headline(self) -> str:
        return f"{self.place} · {self.company} · {self.kpi}"


def _duration(ms: int) -> str:
    minutes = max(0, ms) // 60_000
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


def _clock(ms: int, reference_ms: int) -> str:
    t, ref = (datetime.fromtimestamp(x / 1000, CST) for x in (ms, reference_ms))
    return t.strftime("%H:%M" if t.date() == ref.date() else "%m-%d %H:%M") + " CST"


def _escape(text: str) -> str:
    """Percent-encode what a query value may not hold as is (the core imports no urllib)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "-._~:") else
                   "".join(f"%{b:02X}" for b in c.encode("utf-8")) for c in text)


def describe_alert(row: Mapping[str, Any], base_url: str = "") -> AlertText:
    """An `alert_row` object written for a person. Pure.

    The value and the target are in the KPI's unit at a sensible precision
    (`units.fmt_figure`); "since" is the first breached bucket's end in CST and the time it
    has lasted up to the latest evaluation (or the resolution), in event time; the link
    opens the city's drill-down from 6 h before the start to 1 h after that end, with the
    company and the KPI chosen (`base_url` prefixed, e.g. the demo's http://127.0.0.1:8765).
    """
    start_ms = int(row["started_at_ms"])
    until_ms = int(row.get("resolved_at_ms") or row.get("evaluated_at_ms") or start_ms)
    aspirational = row.get("strength") == "aspirational"
    resolved = row.get("state") not in (None, FIRING)
    zh, en = kpi_name(str(row["kpi"]))
    unit = str(row.get("unit") or "ratio")
    place = city_label(str(row["city"]))
    value = fmt_figure(float(row["value"]), unit)
    target = fmt_target(str(row["comparator"]), float(row["threshold"]), unit)
    strength = "aspirational 力争" if aspirational else "binding 约束性"
    since = f"{_clock(start_ms, until_ms)} ({_duration(until_ms - start_ms)}" + (
        f", resolved {_clock(until_ms, until_ms)})" if resolved else ")")
    query = "&".join(f"{k}={_escape(str(v))}" for k, v in (
        ("city", row["city"]), ("company", row["company"]), ("kpi", row["kpi"]),
        ("from", cst_iso(start_ms - 6 * 3_600_000)), ("to", cst_iso(until_ms + 3_600_000))))
    mark = "✓" if resolved else "△" if aspirational else "✗"
    line = (f"{mark} {place} · {row['company']} · {zh} {en} {value} vs {target} · "
            f"{strength} ({row['policy_id']}) · since {since}")
    return AlertText(mark, place, str(row["company"]), f"{zh} {en}", value, target, strength,
                     since, f"{base_url.rstrip('/')}/?{query}", line)


def labels(a: Alert) -> dict[str, str]:
    """Bounded labels: the alert's identity plus its severity."""
    return {"alertname": ALERT_NAME, "city": a.city, "company": a.company, "kpi": a.kpi,
            "policy_id": a.policy_id, "severity": a.severity}


def alert_annotations(a: Alert) -> dict[str, str]:
    return {
        "summary": f"{a.city_zh} {a.city_en} {a.company} {a.kpi} {a.value:.4g} "
                   f"(target {a.comparator} {a.threshold:g} {a.unit}, {a.policy_id})",
        "city_name_zh": a.city_zh, "city_name_en": a.city_en,
        "value": f"{a.value:.6g}", "threshold": f"{a.threshold:g}",
        "comparator": a.comparator, "unit": a.unit, "source": a.source, "section": a.section,
        "quote": a.quote, "strength": a.strength,
        "windows": f"{a.rule}: {a.long_window_s}s/{a.short_window_s}s at {a.burn_factor}x "
                   f"(burn {a.burn_rate}x)",
        "sample": str(a.sample), "misses": str(a.misses),
        "first_breach": cst_iso(a.started_at_ms) or "",
        "last_breach": cst_iso(a.last_breach_ms) or "",
    }


def webhook_body(a: Alert, receiver: str, external_url: str) -> dict[str, Any]:
    """One Alertmanager v4 webhook message for this alert's current state."""
    lab = labels(a)
    ann = alert_annotations(a)
    group = {"alertname": ALERT_NAME, "city": a.city, "company": a.company}
    group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group.items())) + "}"
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0,
        "status": a.state, "receiver": receiver, "groupLabels": group,
        "commonLabels": lab, "commonAnnotations": ann, "externalURL": external_url,
        "alerts": [{
            "status": a.state, "labels": lab, "annotations": ann,
            "startsAt": utc_iso(a.started_at_ms),
            "endsAt": ZERO_TIME if a.state == FIRING or a.resolved_at_ms is None
            else utc_iso(a.resolved_at_ms),
            "generatorURL": f"{external_url.rstrip('/')}/api/alerts?city={a.city}"
                            f"&company={a.company}",
            "fingerprint": a.fingerprint,
        }],
    }
