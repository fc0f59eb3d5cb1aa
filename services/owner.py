"""Who owns the embedded ClickHouse right now: a running worker (reach it over HTTP) or nobody.

chDB allows one process per data directory. A worker records its API address in
`<data dir>/api.json`; a command that needs figures asks that worker while it is alive,
and opens the store itself otherwise. A command that must open the store itself (a new
worker, `replay`) calls `ensure_unowned` first: the one check, the one error (`StoreBusy`,
exit status 2 at the command line).
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from runtime.lifetime import Identity, identity, stop
from runtime.settings import Settings
from warehouse.client import StoreBusy


def api_record(data_dir: Path) -> Path:
    return data_dir / "api.json"


def write_api_record(data_dir: Path, port: int, owner: Identity | None = None) -> None:
    """Record this worker's API port and identity, and the command that owns it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    rec: dict[str, Any] = {"port": port, **identity().as_record()}
    if owner is not None:
        rec |= {f"owner_{k}": v for k, v in owner.as_record().items()}
    api_record(data_dir).write_text(json.dumps(rec))


def clear_api_record(data_dir: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        rec = api_record(data_dir)
        if json.loads(rec.read_text()).get("pid") == os.getpid():
            rec.unlink()


def _record(data_dir: Path) -> dict[str, Any] | None:
    with contextlib.suppress(OSError, ValueError):
        rec = json.loads(api_record(data_dir).read_text())
        if isinstance(rec, dict) and isinstance(rec.get("port"), int):
            return rec
    return None


def running_api(data_dir: Path) -> str | None:
    """Base URL of the live worker that owns this data directory, if there is one. A record
    left by a worker that is gone (its pid dead, a zombie, or reused) is stale: removed."""
    rec = _record(data_dir)
    if rec is None:
        return None
    worker = Identity.from_record(rec)
    if worker is not None and worker.alive():
        return f"http://127.0.0.1:{int(rec['port'])}"
    with contextlib.suppress(OSError):
        api_record(data_dir).unlink()
    return None


def reclaim_orphan_worker(data_dir: Path) -> int | None:
    """Stop a worker whose owning command is gone (an orphan: left by a command killed
    where PR_SET_PDEATHSIG is unavailable, or by an older version) and clear its record;
    return its pid, or None when there was none. A worker whose command still runs
    (`serve`, `demo`) is left alone. Stopping is SIGTERM (it commits what it stored, and
    what it had not stored is re-read), SIGKILL after a grace period."""
    rec = _record(data_dir)
    if rec is None or running_api(data_dir) is None:
        return None
    worker, owner = Identity.from_record(rec), Identity.from_record(rec, "owner_")
    if worker is None or owner is None or owner.alive():
        return None
    stop(worker)
    with contextlib.suppress(OSError):
        api_record(data_dir).unlink()
    return worker.pid


def ensure_unowned(settings: Settings) -> None:
    """Raise StoreBusy when a live worker owns the embedded store of this data directory.

    A ClickHouse server (http DSN) is shared by any number of processes: never busy here.
    An orphaned worker (its command gone) is stopped first (`reclaim_orphan_worker`).
    """
    reclaim_orphan_worker(settings.data_dir)
    owner = running_api(settings.data_dir)
    if owner and settings.embedded_clickhouse:
        raise StoreBusy(f"a courierwatch worker ({owner}) owns {settings.data_dir}; stop it "
                        "or use another COURIERWATCH_DATA_DIR")


class ApiRefused(RuntimeError):
    """The API answered 4xx (no or wrong token, outside the scope, bad value, too fast)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"the API refused the request ({status}): {message}")
        self.status = status


def get_json(base: str, path: str, params: dict[str, str] | None = None,
             timeout_s: float = 120.0, token: str = "") -> Any:
    """GET base+path?params (empty values dropped) as JSON, with `Authorization: Bearer
    token` when a token is given (COURIERWATCH_TOKEN). Raises ApiRefused on a 4xx answer."""
    query = "?" + urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v})
    req = urllib.request.Request(base + path + query)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500:
            try:
                message = str(json.loads(exc.read()).get("error", exc.reason))
            except (ValueError, AttributeError):
                message = str(exc.reason)
            raise ApiRefused(exc.code, message) from None
        raise
