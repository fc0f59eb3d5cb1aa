"""Alert payloads for people and machines: `alerts list` rows and Alertmanager webhooks.

The webhook body is Alertmanager's webhook format, version "4"
(https://prometheus.io/docs/alerting/latest/configuration/#webhook_config): one message per
alert transition, so that a receiver can deduplicate on (fingerprint, status, startsAt).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from courierwatch.alert_model import ALERT_NAME, FIRING, Alert
from courierwatch.periods import CST

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert


def cst_iso(ms: int | None) -> str | None:
    """Epoch ms as RFC 3339 in China Standard Time, e.g. 2026-11-02T09:05:00+08:00."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, CST).isoformat(timespec="seconds")


def utc_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def alert_row(a: Alert) -> dict[str, Any]:
    """The `alerts list --format json` object: DESIGN.md's keys first, then everything else."""
    row = {"city": a.city, "company": a.company, "kpi": a.kpi, "state": a.state,
           "value": a.value, "threshold": a.threshold, "policy_id": a.policy_id,
           "started_at": cst_iso(a.started_at_ms), "resolved_at": cst_iso(a.resolved_at_ms)}
    rest = {k: v for k, v in a.to_json().items() if k not in row}
    rest["last_breach_at"] = cst_iso(a.last_breach_ms)
    rest["evaluated_at"] = cst_iso(a.evaluated_at_ms)
    return row | rest


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
