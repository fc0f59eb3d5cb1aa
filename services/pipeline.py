"""Orchestration of the real pipeline for one command: broker, worker, producer.

`courierwatch process` publishes a file through the broker, lets a worker process ingest it,
waits until the worker's committed offsets reach the end of the topic, and stops the
worker gracefully. The worker is a separate process because it owns ClickHouse (chDB: one
process per data directory) and faust owns its process's event loop and signals.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError

from runtime.broker import FILE_LINE_HEADER, FILE_SOURCE_HEADER
from runtime.lifetime import die_with_parent, identity
from runtime.ports import free_port
from runtime.processes import stop_process
from runtime.settings import Settings, child_environment
from services.owner import ensure_unowned

LINES_PER_MESSAGE = 500


_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\x00-\x08\x0b-\x1f\x7f]")
_LOG_PREFIX = re.compile(r"^\[[^]]*\] \[\d+\] \[(CRITICAL|ERROR)\] ")


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    web_port: int
    log_path: Path
    log_start: int = 0  # where this worker's lines begin in the (appended) log

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (faust stops consuming, commits, exits); SIGKILL after `timeout_s`."""
        return stop_process(self.proc, timeout_s)

    def kill(self) -> None:
        """SIGKILL: the crash the recovery tests simulate."""
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def failure_reason(self) -> str:
        """Why this worker stopped, as one clean line: its last CRITICAL or ERROR line (the
        log prefix, terminal escape codes and older workers' lines left out), else its last
        line; the exit status when it wrote nothing."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(self.log_start)
                text = _ESCAPES.sub(b"", fh.read()).decode("utf-8", "replace")
        except OSError:
            text = ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        severe = [line for line in lines if _LOG_PREFIX.match(line)]
        if severe:
            return _LOG_PREFIX.sub("", severe[-1])
        return lines[-1] if lines else f"the worker exited with status {self.proc.returncode}"

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def start_worker(settings: Settings, bootstrap: str, web_port: int | None = None,
                 reset_database: bool = False) -> Worker:
    """Start `python -m services.worker`; `reset_database` empties its database first.

    The child gets its settings through the environment (runtime.settings.child_environment):
    the broker as the resolved bootstrap list, its API port, and the reset flag. Raises
    StoreBusy when a live worker of a live command already owns the data directory (chDB:
    one process each); an orphaned worker (its command gone) is stopped first. The worker
    dies with this process, however it dies (runtime.lifetime).
    """
    ensure_unowned(settings)
    port = web_port or free_port()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "worker.log"
    child = settings.with_(kafka=bootstrap, api_port=port, reset_database=reset_database)
    env = child_environment(child.with_(owner=json.dumps(identity().as_record())))
    with open(log_path, "ab") as log:
        log_start = log.tell()
        proc = subprocess.Popen([sys.executable, "-m", "services.worker", "worker"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=die_with_parent())
    return Worker(proc, port, log_path, log_start)


@contextlib.contextmanager
def running_worker(settings: Settings, bootstrap: str,
                   web_port: int | None = None) -> Iterator[Worker]:
    w = start_worker(settings, bootstrap, web_port)
    try:
        yield w
    finally:
        w.stop()


def chunked_lines(path: Path, per_message: int = LINES_PER_MESSAGE
                  ) -> Iterator[tuple[int, list[bytes]]]:
    """Non-empty lines of a JSON-lines file (bytes, unparsed), at most `per_message` at a
    time, each run with the file's line number (1-based) of its first line. A run holds
    consecutive lines only (a blank line ends it), so line i of a run is first + i."""
    chunk: list[bytes] = []
    first = 0
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                if chunk:
                    yield first, chunk
                    chunk = []
                continue
            if not chunk:
                first = number
            chunk.append(line)
            if len(chunk) >= per_message:
                yield first, chunk
                chunk = []
    if chunk:
        yield first, chunk


def file_source(path: Path) -> str:
    """`file:sha256:<hex>`: the source identity of a file's events (its content's hash)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return f"file:sha256:{digest.hexdigest()}"


def make_producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=10,
                         batch_size=1024 * 1024, max_request_size=16 * 1024 * 1024)


def publish_file(bootstrap: str, topic: str, path: Path, partitions: int,
                 progress: Callable[[int], None] = lambda n: None) -> tuple[int, int]:
    """Publish the file as JSON-lines messages round-robin over partitions.

    Returns (messages, lines). Lines are sent as they are: the worker validates them, so a
    malformed line is dead-lettered there with its offset, not lost here. Each message
    carries the file's source identity and its first line number in its headers (the
    worker archives them with every event: warehouse.schema.SOURCE_COLUMNS).
    """
    source = file_source(path).encode()
    producer = make_producer(bootstrap)
    messages = lines = 0
    try:
        for first, chunk in chunked_lines(path):
            producer.send(topic, b"\n".join(chunk), partition=messages % partitions,
                          headers=[(FILE_SOURCE_HEADER, source),
                                   (FILE_LINE_HEADER, str(first).encode())])
            messages += 1
            lines += len(chunk)
            progress(len(chunk))
        producer.flush()
    finally:
        producer.close()
    return messages, lines


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: int(o) for tp, o in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()


def committed_offsets(admin: KafkaAdminClient, group: str, topic: str,
                      partitions: int) -> dict[int, int]:
    """Committed offsets of `group` on `topic` ({} while the group has committed nothing)."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    try:
        offsets = admin.list_group_offsets({group: tps}).get(group, {})
    except KafkaError:
        return {}
    return {tp.partition: int(meta.offset) for tp, meta in offsets.items()
            if meta is not None and meta.offset is not None and meta.offset >= 0}


class WorkerDied(RuntimeError):
    pass


def wait_until_consumed(bootstrap: str, settings: Settings, targets: dict[int, int],
                        worker: Worker, progress: Callable[[int], None] = lambda n: None,
                        timeout_s: float = 3600.0) -> None:
    """Block until the group's committed offsets reach `targets` on every partition.

    `progress` gets the number of messages committed so far. Raises WorkerDied if the
    worker exits first (its log tail in the message) and TimeoutError after `timeout_s`.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="courierwatch-wait")
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            done = committed_offsets(admin, settings.consumer_group, settings.scan_topic,
                                     settings.partitions)
            progress(sum(min(done.get(p, 0), t) for p, t in targets.items()))
            if all(done.get(p, 0) >= t for p, t in targets.items()):
                return
            if not worker.alive():
                raise WorkerDied(f"the worker stopped (exit status {worker.proc.returncode}): "
                                 f"{worker.failure_reason()}")
            if time.monotonic() > deadline:
                raise TimeoutError("worker did not catch up in time")
            time.sleep(0.25)
    finally:
        admin.close()
