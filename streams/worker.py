"""Entry point of a worker process: `python -m streams.worker`.

Owns ClickHouse (chDB allows one process per data directory) and serves the HTTP API
(services.api) next to the ingest agent, so that the CLI and the dashboard read through it
while it runs. The parent passes the broker address in COURIERWATCH_BOOTSTRAP.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys

import faust

from runtime.settings import load_settings
from services.access import check_bind
from services.api import register_views
from services.owner import clear_api_record, write_api_record
from streams.app import build_app
from warehouse.client import Warehouse


def main() -> None:
    settings = load_settings()
    check_bind(settings)  # `serve` checked already; a worker started otherwise must too
    # The ingest thread holds the GIL for long stretches of decoding; with the default 5 ms
    # switch interval, every wake-up of the event loop and of aiokafka's fetcher waits up to
    # 5 ms for it, and the next batch gathers slowly (a convoy). 0.2 ms keeps them responsive
    # (measured at 50k events/s offered: 5 ms 41.7k/s, 1 ms 47.7k/s, 0.2 ms 49.2k/s committed).
    sys.setswitchinterval(settings.switch_interval_s)
    bootstrap = os.environ["COURIERWATCH_BOOTSTRAP"]
    web_port = int(os.environ.get("COURIERWATCH_WORKER_WEB_PORT", settings.api_port))
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    wh = Warehouse(settings.clickhouse, settings.database,
                   reset=os.environ.get("COURIERWATCH_RESET_DATABASE") == "1")
    app = build_app(settings, bootstrap, wh, web_port=web_port)
    register_views(app, settings, wh)
    write_api_record(settings.data_dir, web_port)
    atexit.register(clear_api_record, settings.data_dir)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
