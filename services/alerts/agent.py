"""Alerting in the faust worker: the evaluation timer, the alert topic and webhook delivery.

Evaluation runs every `alert_interval_s` on its own thread (never on the ingest path; the
store's lock serialises its one query with the inserts); transitions go to the Kafka topic
`alerts.v1` (key: fingerprint, value: the `alerts list` JSON object) and, through the
durable outbox, to every configured webhook, which a second timer drains every second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
import orjson

from courierwatch.alert_format import alert_row
from courierwatch.alerting import AlertRules
from courierwatch.catalog import Catalog
from runtime.settings import Settings
from services.alerts.outbox import Outbox
from services.alerts.runner import AlertRunner
from warehouse.client import Warehouse

log = logging.getLogger(__name__)


def register_alerting(app: faust.App, settings: Settings, wh: Warehouse, catalog: Catalog,
                      watermark: Any, external_url: str,
                      leading: Callable[[], bool] = lambda: True) -> AlertRunner:
    """Add the alert timers to `app`; `watermark()` gives the stored event-time watermark.
    Alerts are evaluated only while `leading()`: in one worker of the group, the one that
    publishes (streams.leader), so N workers do not raise each alert N times."""
    outbox = (Outbox(settings.data_dir / "alert_outbox.sqlite", settings.alert_webhooks,
                     external_url, max_backoff_s=settings.alert_max_backoff_s)
              if settings.alert_webhooks else None)
    runner = AlertRunner(wh, catalog, AlertRules(settle_s=settings.alert_settle_s,
                                                  min_sample=settings.min_sample), outbox)
    topic = app.topic(settings.alert_topic, value_serializer="raw", key_serializer="raw",
                      partitions=1)
    evaluate_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts")
    deliver_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhooks")

    async def run(catch_up: bool = False) -> None:
        if not leading():
            return
        step = runner.catch_up if catch_up else runner.tick
        try:
            moved = await asyncio.get_running_loop().run_in_executor(
                evaluate_pool, step, watermark())
        except Exception:  # noqa: BLE001 - progress is stored only after success: retried
            log.exception("alert evaluation failed; retrying at the next interval")
            return
        for a in moved:
            await topic.send(key=a.fingerprint.encode(), value=orjson.dumps(alert_row(a)))

    async def deliver() -> None:
        if outbox is not None:
            await asyncio.get_running_loop().run_in_executor(deliver_pool, outbox.deliver_due)

    @app.timer(settings.alert_interval_s)  # type: ignore[untyped-decorator]
    async def evaluate_alerts() -> None:
        await run()

    @app.timer(1.0)  # type: ignore[untyped-decorator]
    async def deliver_webhooks() -> None:
        await deliver()

    @app.on_before_shutdown.connect
    async def _last_evaluation(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await run(catch_up=True)
        await deliver()

    return runner
