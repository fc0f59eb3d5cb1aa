"""Entry point of a worker process: `python -m services.worker worker`.

Owns ClickHouse (chDB allows one process per data directory) and serves the HTTP API
(services.api.views) next to the ingest agent (streams.app), so that the CLI and the dashboard
read through it while it runs. Everything it needs comes from the settings table
(runtime.settings): the parent passes the resolved broker address as COURIERWATCH_KAFKA
and the API port as COURIERWATCH_API_PORT (services.pipeline.start_worker).
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
from collections.abc import Callable

import faust

from courierwatch.catalog import load_catalog
from courierwatch.masking import mask_secrets
from runtime.lifetime import Identity
from runtime.settings import Settings, SettingsError, load_settings
from services.access.guard import BindRefused, check_bind
from services.alerts.agent import register_alerting
from services.api.alerts import register_alert_views
from services.api.audit import register_audit_views
from services.api.views import register_views
from services.audit.log import record_catalog_if_changed, sync
from services.owner import clear_api_record, write_api_record
from streams.app import EXIT_BATCH_FAILED, build_app
from streams.ingest import retry_policy
from streams.retry import BatchRefused, RetryPolicy
from warehouse.client import Warehouse

EXIT_BAD_SETTINGS = 2


def open_store(settings: Settings, policy: RetryPolicy | None = None,
               should_stop: Callable[[], bool] = lambda: False) -> Warehouse:
    """The worker's store, waited for: a ClickHouse server not up yet or gone for a while
    (a cluster starting, a restart, a network cut) is retried with the ingest's back-off
    (streams.retry, warehouse.errors: connection errors are transient), each retry logged;
    a deterministic failure (credentials, a bad database name, a migration the server
    refuses) raises BatchRefused at once with its one-line reason."""
    return (policy or retry_policy(settings)).run(
        lambda: Warehouse(settings.clickhouse, settings.database,
                          reset=settings.reset_database, cluster=settings.clickhouse_cluster),
        should_stop, what=f"opening the store {mask_secrets(settings.clickhouse)}")


def register_web(app: faust.App, settings: Settings, wh: Warehouse) -> None:
    """Every route the worker serves, behind services.access.guard (tests/unit/test_access.py
    enumerates the routes registered here)."""
    register_views(app, settings, wh)
    register_audit_views(app, settings, wh)
    register_alert_views(app, wh)


def main() -> None:
    try:
        settings = load_settings()
        check_bind(settings)  # `serve` checked already; a worker started otherwise must too
    except (SettingsError, BindRefused) as exc:
        sys.stderr.write(f"courierwatch worker: {exc}\n")
        sys.exit(EXIT_BAD_SETTINGS)
    # The ingest thread holds the GIL for long stretches of decoding; with the default 5 ms
    # switch interval, every wake-up of the event loop and of aiokafka's fetcher waits up to
    # 5 ms for it, and the next batch gathers slowly (a convoy). 0.2 ms keeps them responsive
    # (measured at 50k events/s offered: 5 ms 41.7k/s, 1 ms 47.7k/s, 0.2 ms 49.2k/s committed).
    sys.setswitchinterval(settings.switch_interval_s)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        wh = open_store(settings)
    except BatchRefused as exc:
        sys.stderr.write(f"courierwatch worker: {exc}\n")
        sys.exit(EXIT_BATCH_FAILED)
    app = build_app(settings, wh)
    register_web(app, settings, wh)
    record_catalog_if_changed(settings, wh)  # the audit log records each catalog change
    sync(wh, settings.data_dir)  # records appended while no process held the store
    owner = settings.owner  # the command that started us
    write_api_record(settings.data_dir, settings.api_port,
                     Identity.from_record(json.loads(owner)) if owner else None)
    app.alert_runner = register_alerting(  # type: ignore[attr-defined]
        app, settings, wh, load_catalog(), app.ingestor.low_watermark_ms,  # type: ignore[attr-defined]
        f"http://127.0.0.1:{settings.api_port}",
        leading=lambda: bool(app.leadership.leading))  # type: ignore[attr-defined]
    atexit.register(clear_api_record, settings.data_dir)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
