"""Fault injection, as hooks: nothing in the ingest bookkeeping knows about it.

Two hooks, each built from a setting and absent when the setting is off:
- `sink_fault(settings)`: a `warehouse.sink.FaultHook` for COURIERWATCH_FAULT_FILE. While
  that file exists, every store write fails: as a store that is down
  (`TransientStoreError`, retried with back-off) unless the file's text starts with
  `permanent` (a deterministic error: the worker stops without committing). Removing the
  file brings the store back. One `stat` per write: a few per batch.
- `crash_after(settings)`: for COURIERWATCH_CRASH_AFTER_BATCHES, an after-stored hook that
  kills the process right after its Nth batch is stored, before its offsets are
  committed (the crash the recovery tests need).
- `poison(settings)`: for COURIERWATCH_FAULT_POISON=<text>, a decode hook
  (`streams.decode.DecodeFault`) that raises `InjectedPoison` on any message, and then on
  any event of it, whose bytes contain the text: a poison pill, to prove the quarantine
  (one `in` test per message).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from runtime.settings import Settings
from warehouse.errors import TransientStoreError
from warehouse.sink import FaultHook

log = logging.getLogger(__name__)
EXIT_KILLED = 137


class InjectedStoreError(ValueError):
    """A deterministic store error raised on purpose (fault file saying `permanent`)."""


class InjectedPoison(RuntimeError):
    """Raised on purpose by the poison-pill hook (COURIERWATCH_FAULT_POISON)."""


def poison(settings: Settings) -> Callable[[bytes], None] | None:
    """A decode hook that raises on bytes holding `settings.fault_poison` (None when off)."""
    text = settings.fault_poison.encode()
    if not text:
        return None

    def hook(value: bytes) -> None:
        if text in value:
            raise InjectedPoison("fault injection: poisoned event")
    return hook


def file_fault(path: Path) -> FaultHook:
    """A fault hook driven by the existence and first word of `path`."""
    def hook(table: str) -> None:
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            return
        if text.lstrip().startswith("permanent"):
            raise InjectedStoreError(f"fault injection ({path}): write to {table} refused")
        raise TransientStoreError(f"fault injection ({path}): store unavailable for {table}")
    return hook


def sink_fault(settings: Settings) -> FaultHook | None:
    return file_fault(Path(settings.fault_file)) if settings.fault_file else None


def crash_after(settings: Settings,
                die: Callable[[int], None] = os._exit) -> Callable[[], None] | None:
    """An after-stored hook that calls `die(137)` once the Nth batch is stored."""
    n = settings.crash_after_batches
    if not n:
        return None
    stored = [0]

    def hook() -> None:
        stored[0] += 1
        if stored[0] >= n:
            log.critical("fault injection: dying after batch %d was stored, before commit",
                         stored[0])
            die(EXIT_KILLED)
    return hook
