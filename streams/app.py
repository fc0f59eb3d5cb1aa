"""The faust app: one agent ingests scan.v1 batches; a timer publishes closed periods.

Batch, insert, then commit (docs/DESIGN.md, Arroyo), pipelined: `take_events` yields up to
`batch_messages` messages or whatever arrived within `batch_within_s`; the body hands the
batch to the ingest thread (decode) and returns; the inserts run on the insert thread, so
batch k+2 is gathered while k+1 is decoded and k is inserted. Every message is held
(streams.offsets) until the store has its batch, so faust's committer cannot commit its
offset before that. A transient store error is retried with back-off (streams.retry);
anything that stops a batch from being stored stops the worker without a commit, with
one line on stderr and an exit status that says why (`exit_status`).
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
from runtime.broker import FILE_LINE_HEADER, FILE_SOURCE_HEADER, topic_source
from runtime.settings import Settings
from streams import faults, isolation, metrics, offsets, transport
from streams.decode import Arrival, DeadLetter
from streams.flood import DeadLetterFlood
from streams.ingest import Ingestor, retry_policy
from streams.leader import Leadership
from streams.publisher import Publisher
from streams.retry import BatchRefused, SinkUnavailable
from streams.stream_time import StreamTime
from warehouse.client import Warehouse
from warehouse.conflicts import IN_ORDER, conflict_ids_sql
from warehouse.errors import first_line
from warehouse.publication import StorePublishedFigures
from warehouse.queries import stored_resume_point
from warehouse.sink import ClickHouseSink

log = logging.getLogger(__name__)

EXIT_DEAD_LETTER_FLOOD = 3
EXIT_SINK_DOWN = 4
EXIT_BATCH_FAILED = 5
CONFLICT_CHECK_INTERVAL_S = 30.0


def exit_status(exc: BaseException) -> tuple[int, str]:
    """How a worker whose batch could not be stored exits: (status, one-line reason).
    In every case nothing of the batch is committed; a restart re-reads it."""
    if isinstance(exc, DeadLetterFlood):
        return EXIT_DEAD_LETTER_FLOOD, str(exc)
    if isinstance(exc, SinkUnavailable):
        return EXIT_SINK_DOWN, f"store unavailable at shutdown, batch not stored: {exc}"
    if isinstance(exc, BatchRefused):
        return EXIT_BATCH_FAILED, f"batch not stored, stopping without commit: {exc}"
    return EXIT_BATCH_FAILED, ("batch failed unexpectedly, stopping without commit: "
                               + first_line(exc))


def faust_app(settings: Settings) -> faust.App:
    """The faust app of the ingest group, tuned from the settings table (`COURIERWATCH_FAUST_*`;
    `settings.kafka` is the bootstrap list, resolved by the parent for an embedded broker).
    Its consumer reads at `settings.isolation_level` (streams.isolation)."""
    isolation.install()
    app = faust.App(
        settings.consumer_group,
        broker=f"kafka://{settings.kafka}",
        value_serializer="raw",
        key_serializer="raw",
        store="memory://",
        autodiscover=False,
        datadir=str(settings.data_dir / "faust"),
        topic_partitions=settings.partitions,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.faust_commit_interval_s,
        broker_commit_every=10_000,
        broker_max_poll_records=settings.faust_max_poll_records,
        consumer_max_fetch_size=settings.faust_max_fetch_bytes,
        broker_rebalance_timeout=settings.faust_rebalance_timeout_s,
        broker_session_timeout=settings.faust_session_timeout_s,
        broker_heartbeat_interval=settings.faust_heartbeat_s,
        stream_buffer_maxsize=settings.faust_stream_buffer,
        producer_max_request_size=settings.faust_max_fetch_bytes,
        web_enabled=True,
        web_port=settings.api_port,
        web_bind=settings.api_host,   # loopback unless tokens exist (services.access.guard)
        web_host=settings.api_host,
        # The API reads only GETs: a request body beyond 64 KiB is refused with 413.
        web_application_options={"client_max_size": 64 * 1024},
    )
    app.isolation_level = settings.isolation_level  # type: ignore[attr-defined]
    return app


def build_ingestor(settings: Settings, wh: Warehouse,
                   leadership: Leadership | None = None) -> Ingestor:
    """The ingest pipeline on the ClickHouse sink, with the publisher and fault hooks; the
    publisher stores only while `leadership` says this worker publishes (streams.leader)."""
    sink = ClickHouseSink(wh, fault=faults.sink_fault(settings))
    source = StorePublishedFigures(wh, load_route_table(), load_catalog(), settings.min_sample)
    publisher = Publisher(source, sink, int(settings.publish_grace_s * 1000),
                          still_leading=(lambda: leadership.leading) if leadership else
                          (lambda: True))
    crash = faults.crash_after(settings)
    return Ingestor(settings, sink, StreamTime(), retry_policy(settings),
                    publisher=publisher, after_stored=[crash] if crash else [],
                    resume_from=lambda t, p, o: stored_resume_point(wh, t, p, o),
                    decode_fault=faults.poison(settings))


def build_app(settings: Settings, wh: Warehouse) -> faust.App:
    """The worker's faust app: the ingest agent and the publication timer."""
    transport.install()  # an undecodable record batch is dead-lettered, not a crash
    app = faust_app(settings)
    leadership = Leadership(settings.scan_topic)
    ingestor = build_ingestor(settings, wh, leadership)
    app.ingestor = ingestor  # type: ignore[attr-defined]
    app.warehouse = wh  # type: ignore[attr-defined]
    app.leadership = leadership  # type: ignore[attr-defined]
    _ingest_agent(app, settings, ingestor)
    _publication(app, settings, ingestor, leadership)
    return app


def message_source(message: Any, broker_source: str) -> tuple[str, int]:
    """(source, source_line) of one message: the file and first line its publisher named
    in its headers (services.pipeline.publish_file), else the topic incarnation's."""
    headers = getattr(message, "headers", None)
    if not headers:
        return broker_source, 0
    named = dict(headers.items() if hasattr(headers, "items") else headers)
    source = named.get(FILE_SOURCE_HEADER)
    if not source:
        return broker_source, 0
    try:
        line = int(named.get(FILE_LINE_HEADER) or 0)
    except ValueError:
        line = 0
    return bytes(source).decode("ascii", "replace")[:200], line


def _ingest_agent(app: faust.App, settings: Settings, ingestor: Ingestor) -> None:
    scan_topic = app.topic(settings.scan_topic, value_serializer="raw", key_serializer="raw")
    dlq_topic = app.topic(settings.dlq_topic, value_serializer="raw", key_serializer="raw",
                          partitions=1)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest")
    broker_source = topic_source(settings.kafka, settings.scan_topic)
    log.info("source identity of %s: %s", settings.scan_topic, broker_source)

    async def stored(decoding: Future[Future[list[DeadLetter]]], events: list[Any]) -> None:
        """Once the store has the batch: dead letters to their topic, then release."""
        try:
            storing: Future[list[DeadLetter]] = await asyncio.wrap_future(decoding)
            dead = await asyncio.wrap_future(storing)
        except Exception as exc:  # noqa: BLE001 - every failure stops the worker, uncommitted
            status, reason = exit_status(exc)
            log.critical("%s", reason)
            os._exit(status)
        for d in dead:
            await dlq_topic.send(value=orjson.dumps(d.envelope()))
        offsets.release(events, app.consumer)

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        """Partitions are taken up from the archive again at their next message (on the
        decoding thread, so before any later batch is decoded)."""
        pool.submit(ingestor.forget_resumed)

    @app.agent(scan_topic, name="ingest")
    async def ingest(stream: Any) -> None:
        """The body hands the batch to the ingest thread and returns at once, so the next
        batch is gathered while this one is decoded and the one before is inserted. At most
        `max_batches_in_flight` batches are held in memory."""
        in_flight: deque[asyncio.Task[None]] = deque()
        async for events in stream.take_events(settings.batch_messages,
                                                 within=settings.batch_within_s):
            offsets.hold(events)
            arrivals = [Arrival(e.message.topic, e.message.partition, e.message.offset,
                                e.message.value or b"",
                                *message_source(e.message, broker_source)) for e in events]
            decoding = pool.submit(ingestor.submit, arrivals)
            in_flight.append(asyncio.create_task(stored(decoding, list(events))))
            while in_flight and (in_flight[0].done()
                                 or len(in_flight) > settings.max_batches_in_flight):
                await in_flight.popleft()
        for task in in_flight:
            await task


def _publication(app: faust.App, settings: Settings, ingestor: Ingestor,
                 leadership: Leadership) -> None:
    """Publication runs in one worker of the group: the holder of scan partition 0."""

    @app.on_partitions_revoked.connect
    async def _revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        leadership.revoked(args[0])  # the revoked partitions

    @app.on_partitions_assigned.connect
    async def _assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        leadership.assigned(args[0])  # the whole new assignment

    def publish_if_leading(catch_up: bool) -> int:
        """On the insert thread: publish, if this worker is the publisher."""
        if not leadership.leading:
            return 0
        if leadership.take_over() and ingestor.publisher is not None:
            ingestor.publisher.resume()
        return ingestor.publish(catch_up)

    @app.timer(settings.publish_interval_s)  # type: ignore[untyped-decorator]
    async def publish() -> None:
        """Publish closed periods and record restatements, serialised with the inserts."""
        try:
            await asyncio.wrap_future(ingestor.run_serialised(lambda: publish_if_leading(False)))
        except Exception:  # noqa: BLE001 - retried at the next tick; figures are unaffected
            log.exception("publishing failed; retrying at the next interval")

    @app.timer(CONFLICT_CHECK_INTERVAL_S)  # type: ignore[untyped-decorator]
    async def count_conflicts() -> None:
        """Export how many event ids hold conflicting contents (a scan of event_versions)."""
        wh: Warehouse = app.warehouse  # type: ignore[attr-defined]
        try:
            sql = f"SELECT count() FROM ({conflict_ids_sql(wh.db)})" + IN_ORDER
            n = await asyncio.get_running_loop().run_in_executor(None, lambda: wh.query(sql))
            metrics.CONFLICTING_EVENT_IDS.set(int(n[0][0]))
        except Exception:  # noqa: BLE001 - a metric; retried at the next tick
            log.exception("counting conflicting event ids failed")

    @app.on_before_shutdown.connect
    async def _stopping(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        try:  # a last publication, so a finished `process` run leaves its periods published
            await asyncio.wrap_future(ingestor.run_serialised(lambda: publish_if_leading(True)))
        except Exception:  # noqa: BLE001 - figures are stored; publication resumes next start
            log.exception("final publication failed")
        ingestor.stopping = True
