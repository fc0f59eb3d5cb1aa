"""The faust app: one agent ingests scan.v1 batches; the web server answers the API.

Batch, insert, then commit (DESIGN.md, Arroyo), pipelined: `take_events` yields up to
`batch_messages` messages or whatever arrived within `batch_within_s`; the body hands the
batch to the ingest thread (decode) and returns; the inserts run on the insert thread, so
batch k+2 is gathered while k+1 is decoded and k is inserted. Every message holds an extra
reference until ClickHouse has its batch, so faust's committer cannot commit its offset
before that; a failed insert is retried until it succeeds (`Ingestor.submit`).
A worker killed at any moment re-reads at most the uncommitted batches; the archive's
ReplacingMergeTree key and the uniqExact states make that re-insert change no figure.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import faust
import orjson

from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from runtime.settings import Settings
from streams.batch import Arrival, DeadLetter
from streams.ingest import DeadLetterFlood, Ingestor
from streams.publisher import Publisher
from warehouse.client import Warehouse
from warehouse.writer import SinkUnavailable

log = logging.getLogger(__name__)

EXIT_DEAD_LETTER_FLOOD = 3
EXIT_SINK_DOWN = 4
EXIT_BATCH_FAILED = 5
MAX_BATCHES_IN_FLIGHT = 3


def build_app(settings: Settings, bootstrap: str, wh: Warehouse,
              web_port: int | None = None) -> faust.App:
    app = faust.App(
        settings.consumer_group,
        broker=f"kafka://{bootstrap}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        autodiscover=False,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        broker_commit_every=10_000,
        broker_max_poll_records=1_000,
        consumer_max_fetch_size=16 * 1024 * 1024,
        # tansu completes a group join only after the rebalance timeout: keep it short.
        broker_rebalance_timeout=4.0,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        stream_buffer_maxsize=4_096,
        producer_max_request_size=16 * 1024 * 1024,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind=settings.api_host,   # loopback unless tokens exist (services.access)
        web_host=settings.api_host,
        # The API reads only GETs: a request body beyond 64 KiB is refused with 413.
        web_application_options={"client_max_size": 64 * 1024},
    )
    scan_topic = app.topic(settings.scan_topic, value_serializer="raw", key_serializer="raw")
    dlq_topic = app.topic(settings.dlq_topic, value_serializer="raw", key_serializer="raw",
                          partitions=1)
    publisher = Publisher(wh, load_route_table(), load_catalog(),
                          int(settings.publish_grace_s * 1000))
    ingestor = Ingestor(settings, wh, publisher=publisher)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
    app.ingestor = ingestor  # type: ignore[attr-defined]
    app.warehouse = wh  # type: ignore[attr-defined]

    async def stored(decoding: Future[Future[list[DeadLetter]]], events: list[Any]) -> None:
        """Once ClickHouse has the batch: dead letters to their topic, then the final ack."""
        try:
            dead = await asyncio.wrap_future(await asyncio.wrap_future(decoding))
        except DeadLetterFlood as exc:
            log.critical("%s", exc)
            os._exit(EXIT_DEAD_LETTER_FLOOD)  # no commit: the batch is re-read on restart
        except SinkUnavailable as exc:
            log.critical("ClickHouse unavailable at shutdown, batch not stored: %s", exc)
            os._exit(EXIT_SINK_DOWN)
        except Exception:  # noqa: BLE001 - a bug: its offsets would never commit; restart
            log.exception("batch failed unexpectedly; exiting so that it is re-read")
            os._exit(EXIT_BATCH_FAILED)
        for d in dead:
            await dlq_topic.send(value=orjson.dumps(d.envelope()))
        for e in events:
            e.message.ack(app.consumer)

    @app.agent(scan_topic, name="ingest")
    async def ingest(stream: Any) -> None:
        """The body hands the batch to the ingest thread and returns at once, so the next
        batch is gathered while this one is decoded and the one before is inserted. Each
        message holds one extra reference until its batch is stored, so take_events' own
        ack does not make its offset committable; `stored` drops that reference (faust
        commits an offset once every reference to its message is acked). At most
        `MAX_BATCHES_IN_FLIGHT` batches are held in memory."""
        in_flight: deque[asyncio.Task[None]] = deque()
        async for events in stream.take_events(settings.batch_messages,
                                                 within=settings.batch_within_s):
            for e in events:
                e.message.incref()
            arrivals = [Arrival(e.message.topic, e.message.partition, e.message.offset,
                                e.message.value or b"") for e in events]
            decoding = pool.submit(ingestor.submit, arrivals)
            in_flight.append(asyncio.create_task(stored(decoding, list(events))))
            while in_flight and (in_flight[0].done() or len(in_flight) > MAX_BATCHES_IN_FLIGHT):
                await in_flight.popleft()
        for task in in_flight:
            await task

    @app.timer(settings.publish_interval_s)
    async def publish() -> None:
        """Publish closed periods and record restatements, serialised with the inserts."""
        try:
            await asyncio.wrap_future(ingestor.run_serialised(ingestor.publish))
        except Exception:  # noqa: BLE001 - retried at the next tick; figures are unaffected
            log.exception("publishing failed; retrying at the next interval")

    @app.on_before_shutdown.connect
    async def _stopping(app: faust.App, **kwargs: Any) -> None:
        try:  # a last publication, so a finished `process` run leaves its periods published
            await asyncio.wrap_future(ingestor.run_serialised(lambda: ingestor.publish(True)))
        except Exception:  # noqa: BLE001 - figures are stored; publication resumes next start
            log.exception("final publication failed")
        ingestor.stopping = True

    return app
