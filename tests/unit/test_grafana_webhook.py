"""The receiver of Grafana's contact point: served where `provision grafana` points it,
POST only, and it accepts Grafana's webhook JSON and refuses anything else."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import faust
import orjson
import pytest

from runtime.settings import load_settings
from services.api.alerts import GrafanaAlerts, grafana_alerts
from services.grafana.provision import Targets

# Grafana's webhook notification (docs: "Webhook notifier"), trimmed to what we read.
GRAFANA_MESSAGE = {
    "receiver": "courierwatch duty officer", "status": "firing", "orgId": 1,
    "alerts": [{"status": "firing",
                "labels": {"alertname": "standard_packaging_share > 0.95",
                           "city": "331000", "policy_id": "taizhou-2022-standard-packaging-share"},
                "annotations": {"summary": "breach"},
                "startsAt": "2026-11-02T09:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "a1b2c3d4e5f60718"}],
    "groupLabels": {}, "commonLabels": {}, "externalURL": "http://grafana:3000/",
    "version": "1", "groupKey": "{}:{}", "title": "[FIRING:1]", "state": "alerting",
}


def test_the_default_contact_point_path_is_served_for_post(tmp_path: Path) -> None:
    """The worker serves the path of provision's default webhook URL, with a POST
    handler (before this, Grafana's notifications went to a 404)."""
    from services.worker import register_web

    app = faust.App("grafana-hook-test", broker="kafka://127.0.0.1:1", web_enabled=True,
                    autodiscover=False)
    register_web(app, load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path)}), None)  # type: ignore[arg-type]
    paths = {r.resource.canonical for r in app.web.web_app.router.routes()  # type: ignore[attr-defined]
             if r.resource}
    assert urlparse(Targets().webhook_url).path in paths
    assert GrafanaAlerts.post is not faust.web.View.post


def test_grafana_message_is_read_and_other_bodies_refused() -> None:
    """Grafana's message gives its alerts; a body without an alerts list, an alert
    without labels, or not JSON at all is a one-line ValueError."""
    alerts = grafana_alerts(orjson.dumps(GRAFANA_MESSAGE))
    assert [a["labels"]["policy_id"] for a in alerts] == [
        "taizhou-2022-standard-packaging-share"]
    for body in (b"{}", b"[]", b'{"alerts": [1]}', b'{"alerts": [{"status": "firing"}]}',
                 b"not json"):
        with pytest.raises(ValueError) as exc:
            grafana_alerts(body)
        assert "\n" not in str(exc.value)
