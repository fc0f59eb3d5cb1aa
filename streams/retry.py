"""Retry policy for the store: back off on transient errors, stop on anything else.

Transient errors (the store is down or overloaded; `warehouse.errors.is_transient`) are
retried with exponential back-off and jitter: `initial_s`, then doubled up to `max_s`,
each wait drawn uniformly from [1 - jitter, 1] of its step (so that workers that failed
together do not retry together), until the write succeeds or the process is stopping
(`SinkUnavailable`). Any other error is raised at once as `BatchRefused`: retrying a
deterministic error (a type or SQL error) would wedge the worker silently, so the worker
stops instead, without committing (docs/semantics.md). The clock and the randomness are
parameters, so a test drives the policy with a fake clock and no real sleeping.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from warehouse.errors import first_line, is_transient

log = logging.getLogger(__name__)
T = TypeVar("T")


class SinkUnavailable(RuntimeError):
    """The store stayed unavailable until shutdown; the batch was not stored."""


class BatchRefused(RuntimeError):
    """The store refused the batch with a deterministic error; retrying cannot help."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial_s: float = 0.2
    max_s: float = 30.0
    jitter: float = 0.2
    is_transient: Callable[[BaseException], bool] = is_transient
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = field(default=random.random)

    def delays(self) -> Callable[[], float]:
        """A fresh back-off sequence: each call returns the next wait in seconds."""
        step = [self.initial_s]

        def next_delay() -> float:
            wait = step[0] * (1.0 - self.jitter * self.random())
            step[0] = min(step[0] * 2.0, self.max_s)
            return wait
        return next_delay

    def run(self, action: Callable[[], T], should_stop: Callable[[], bool],
            on_retry: Callable[[], None] = lambda: None, what: str = "store write") -> T:
        """Run `action` until it succeeds; back off on transient errors.

        Raises BatchRefused at once on a non-transient error, SinkUnavailable when a
        transient error meets `should_stop()`.
        """
        next_delay = self.delays()
        while True:
            try:
                return action()
            except Exception as exc:  # noqa: BLE001 - classified just below
                if not self.is_transient(exc):
                    raise BatchRefused(f"{what} refused: {first_line(exc)}") from exc
                if should_stop():
                    raise SinkUnavailable(f"{what}: {first_line(exc)}") from exc
                wait = next_delay()
                log.warning("%s failed (%s); retrying in %.2fs", what, first_line(exc), wait)
                on_retry()
                self.sleep(wait)
