"""Child processes that die with the command that started them, and process identities.

A command (`process`, `serve`, `demo`) starts a worker and an embedded broker, each in a
session of its own (so that a terminal's Ctrl-C reaches only the command, which stops them
in order). Killed itself, however (SIGKILL, the OOM killer, a closed terminal, a container
stop), the command cannot stop them, so each child asks the kernel to kill it when its
parent dies: `prctl(PR_SET_PDEATHSIG, SIGKILL)` on Linux, set in the child between fork and
exec. The kernel sends that signal when the *thread* that forked the child exits: the
commands start their children from the main thread.

A pid alone does not name a process for long (pids are reused), so ownership records
(`broker.json`, `api.json`) store `Identity(pid, start)`, start being the process start time
in clock ticks since boot (/proc/<pid>/stat field 22); a record whose pid now belongs to
another process, or to a zombie, is stale.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True, slots=True)
class Identity:
    """A process: pid plus start time (None where /proc is unavailable)."""

    pid: int
    start: int | None

    def as_record(self) -> dict[str, Any]:
        return {"pid": self.pid, "start": self.start}

    @staticmethod
    def from_record(rec: dict[str, Any], prefix: str = "") -> Identity | None:
        pid = rec.get(prefix + "pid")
        if not isinstance(pid, int):
            return None
        start = rec.get(prefix + "start")
        return Identity(pid, start if isinstance(start, int) else None)

    def alive(self) -> bool:
        """True while this very process runs (not a zombie, not a later reuse of its pid)."""
        stat = _stat(self.pid)
        if stat is None:
            return _signalable(self.pid) if not os.path.isdir("/proc") else False
        state, start = stat
        return state not in ("Z", "X") and (self.start is None or start == self.start)


def _signalable(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in ticks) of a process from /proc, None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[19])


def identity(pid: int | None = None) -> Identity:
    """The identity of `pid` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    stat = _stat(pid)
    return Identity(pid, stat[1] if stat else None)


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child receive SIGKILL when this process dies (Linux);
    None elsewhere. If this process died before the child set it up, the child exits."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: nothing to load after
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def stop(who: Identity, grace_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL after `grace_s`; returns once the process is gone."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        if not who.alive():
            return
        with contextlib.suppress(OSError):
            os.kill(who.pid, sig)
        deadline = time.monotonic() + wait_s
        while who.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
