"""Durable outbox of webhook notifications, delivered with retries and exponential back-off.

SQLite under the data directory (`alert_outbox.sqlite`): one row per receiver x alert
episode (fingerprint, started_at) x state, so enqueueing the same transition twice (a
replay, a restart that re-evaluates) is a no-op, and a receiver gets each once. A row is
retried until the receiver answers 2xx: after a failure the next attempt waits
`base_s * 2**attempts`, at most `max_backoff_s`, so a receiver that is down for an hour
gets everything within `max_backoff_s` of coming back, in the order it was raised.
Delivery is at-least-once on a crash between the POST and the commit of its row
(receivers deduplicate on fingerprint, status and startsAt, as with Alertmanager).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson

from courierwatch.alert_format import webhook_body
from courierwatch.alert_model import Alert
from streams import metrics

log = logging.getLogger(__name__)

_SCHEMA = """CREATE TABLE IF NOT EXISTS notifications (
  receiver TEXT NOT NULL, fingerprint TEXT NOT NULL, started_at_ms INTEGER NOT NULL,
  state TEXT NOT NULL, body BLOB NOT NULL, enqueued_ms INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL,
  delivered_ms INTEGER, last_error TEXT,
  PRIMARY KEY (receiver, fingerprint, started_at_ms, state))"""


@dataclass(frozen=True, slots=True)
class Pending:
    receiver: str
    fingerprint: str
    started_at_ms: int
    state: str
    body: bytes
    attempts: int
    next_attempt_ms: int


def post_json(url: str, body: bytes, timeout_s: float = 5.0) -> None:
    """POST `body`; raises on a connection error or a non-2xx answer."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - configured URL
        if not 200 <= resp.status < 300:
            raise urllib.error.HTTPError(url, resp.status, "not 2xx", resp.headers, None)


class Outbox:
    def __init__(self, path: Path, receivers: Iterable[str], external_url: str,
                 base_s: float = 1.0, max_backoff_s: float = 60.0,
                 clock: Callable[[], float] = time.time,
                 send: Callable[[str, bytes], None] = post_json) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.receivers = tuple(receivers)
        self.external_url = external_url
        self.base_s, self.max_backoff_s = base_s, max_backoff_s
        self.clock, self.send = clock, send
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def enqueue(self, alerts: Iterable[Alert]) -> int:
        """Queue each alert's transition for every receiver; returns rows newly queued."""
        now = self._now_ms()
        rows = [(r, a.fingerprint, a.started_at_ms, a.state,
                 orjson.dumps(webhook_body(a, r, self.external_url)), now, now)
                for a in alerts for r in self.receivers]
        with self._lock:
            before = self._db.total_changes
            self._db.executemany(
                "INSERT OR IGNORE INTO notifications (receiver, fingerprint, started_at_ms, "
                "state, body, enqueued_ms, next_attempt_ms) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            return self._db.total_changes - before

    def pending(self) -> list[Pending]:
        """Undelivered notifications in the order they were queued."""
        with self._lock:
            rows = self._db.execute(
                "SELECT receiver, fingerprint, started_at_ms, state, body, attempts, "
                "next_attempt_ms FROM notifications WHERE delivered_ms IS NULL "
                "ORDER BY rowid").fetchall()
        return [Pending(*r) for r in rows]

    def undelivered(self) -> int:
        with self._lock:
            return int(self._db.execute(
                "SELECT count(*) FROM notifications WHERE delivered_ms IS NULL").fetchone()[0])

    def deliver_due(self) -> int:
        """One pass: try every due notification once; returns how many were delivered.

        A receiver that fails is not tried again in this pass (its later notifications
        wait with it, so it receives them in order once it is back)."""
        delivered = 0
        down: set[str] = set()
        now = self._now_ms()
        for p in self.pending():
            if p.receiver in down:
                continue
            if p.next_attempt_ms > now:  # backing off: nothing newer overtakes it
                down.add(p.receiver)
                continue
            try:
                self.send(p.receiver, p.body)
            except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts
                down.add(p.receiver)
                self._failed(p, str(exc))
                continue
            with self._lock:
                self._db.execute(
                    "UPDATE notifications SET delivered_ms = ?, attempts = attempts + 1 "
                    "WHERE receiver = ? AND fingerprint = ? AND started_at_ms = ? AND state = ?",
                    (self._now_ms(), p.receiver, p.fingerprint, p.started_at_ms, p.state))
            metrics.ALERT_NOTIFICATIONS.labels("delivered").inc()
            delivered += 1
        return delivered

    def _failed(self, p: Pending, error: str) -> None:
        wait_s = min(self.base_s * 2 ** p.attempts, self.max_backoff_s)
        log.warning("webhook %s failed (%s); retry %d in %.0fs", p.receiver, error,
                    p.attempts + 1, wait_s)
        metrics.ALERT_NOTIFICATIONS.labels("failed").inc()
        with self._lock:
            self._db.execute(
                "UPDATE notifications SET attempts = attempts + 1, next_attempt_ms = ?, "
                "last_error = ? WHERE receiver = ? AND fingerprint = ? AND started_at_ms = ? "
                "AND state = ?", (self._now_ms() + int(wait_s * 1000), error[:500], p.receiver,
                                  p.fingerprint, p.started_at_ms, p.state))

    def close(self) -> None:
        with self._lock:
            self._db.close()
