"""The webhook outbox (services.alerts.outbox) with a fake clock and a fake receiver.

The real HTTP round trip is in tests/integration/test_alerting_pipeline.py; here the
retry schedule, ordering and idempotence are checked without sockets.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from courierwatch.alert_format import webhook_body
from courierwatch.alert_model import FIRING, RESOLVED, Alert, fingerprint
from services.alerts.outbox import Outbox

URL = "http://receiver.invalid/hook"


def alert(city: str = "331000", state: str = FIRING, started: int = 1_000_000) -> Alert:
    return Alert(
        fingerprint=fingerprint(city, "ZTO", "delay_rate", "yrd-2020-delay-rate"), city=city,
        city_zh="台州", city_en="Taizhou (Zhejiang)", company="ZTO", kpi="delay_rate",
        unit="per_1000", value=48.0, threshold=2.0, comparator="<=",
        policy_id="yrd-2020-delay-rate", source="003_919ced1e3435c65d.txt", section="专栏",
        quote="快件延误率（千分之） — 2 —", strength="binding", severity="page", state=state,
        rule="slow", long_window_s=21600, short_window_s=1800, burn_factor=6.0,
        burn_rate=24.0, short_value=50.0, sample=2000, misses=96, started_at_ms=started,
        last_breach_ms=started, resolved_at_ms=None if state == FIRING else started + 1,
        evaluated_at_ms=started)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Receiver:
    """Fails while `down`; records what it accepted."""

    def __init__(self) -> None:
        self.down = True
        self.got: list[tuple[str, str]] = []
        self.attempts = 0

    def __call__(self, url: str, body: bytes) -> None:
        self.attempts += 1
        if self.down:
            raise ConnectionRefusedError("receiver down")
        msg = orjson.loads(body)
        self.got.append((msg["status"], msg["alerts"][0]["fingerprint"]))


def test_receiver_down_for_an_hour_gets_each_notification_once_in_order(tmp_path: Path) -> None:
    """An hour of failures with back-off (1, 2, 4 ... capped at 60 s), then the receiver
    comes back: it gets firing then resolved, once each, within one back-off of returning;
    enqueueing the same transitions again (a replay) sends nothing more."""
    clock, receiver = Clock(), Receiver()
    box = Outbox(tmp_path / "o.sqlite", [URL], "http://x", clock=clock, send=receiver)
    firing = alert()
    resolved = replace(firing, state=RESOLVED, resolved_at_ms=2_000_000)
    assert box.enqueue([firing, resolved]) == 2
    for _ in range(3600):
        box.deliver_due()
        clock.t += 1
    # Back-off doubling from 1 s to the 60 s cap: 1+2+4+8+16+32 = 63 s, then every 60 s.
    assert 6 + (3600 - 63) // 60 <= receiver.attempts <= 6 + (3600 - 63) // 60 + 2
    receiver.down = False
    for _ in range(61):
        box.deliver_due()
        clock.t += 1
    assert receiver.got == [(FIRING, firing.fingerprint), (RESOLVED, firing.fingerprint)]
    assert box.enqueue([firing, resolved]) == 0 and box.undelivered() == 0
    box.deliver_due()
    assert len(receiver.got) == 2


def test_a_new_episode_of_the_same_alert_is_a_new_notification(tmp_path: Path) -> None:
    """Same fingerprint, later start: a second episode is delivered too."""
    receiver = Receiver()
    receiver.down = False
    box = Outbox(tmp_path / "o.sqlite", [URL, URL + "2"], "http://x", send=receiver)
    assert box.enqueue([alert(started=1), alert(started=2)]) == 4
    assert box.deliver_due() == 4


def test_webhook_body_is_alertmanager_v4() -> None:
    """The keys Alertmanager's webhook_config documents for version 4, and the alert's
    identity in the labels, its figures and source in the annotations."""
    body = webhook_body(alert(), "ops", "http://127.0.0.1:8765")
    assert set(body) == {"version", "groupKey", "truncatedAlerts", "status", "receiver",
                         "groupLabels", "commonLabels", "commonAnnotations", "externalURL",
                         "alerts"}
    assert body["version"] == "4" and body["status"] == FIRING
    (a,) = body["alerts"]
    assert set(a) == {"status", "labels", "annotations", "startsAt", "endsAt",
                      "generatorURL", "fingerprint"}
    assert a["labels"]["policy_id"] == "yrd-2020-delay-rate"
    assert a["annotations"]["quote"] == "快件延误率（千分之） — 2 —"
    assert a["startsAt"] == "1970-01-01T00:16:40.000Z"
