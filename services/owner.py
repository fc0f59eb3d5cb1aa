"""Who owns ClickHouse right now: a running worker (reach it over HTTP) or nobody (open it).

chDB allows one process per data directory. A worker records its API address in
`<data dir>/api.json`; a command that needs figures asks that worker while it is alive,
and opens the store itself otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from runtime.broker import pid_alive


def api_record(data_dir: Path) -> Path:
    return data_dir / "api.json"


def write_api_record(data_dir: Path, port: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    api_record(data_dir).write_text(json.dumps({"port": port, "pid": os.getpid()}))


def clear_api_record(data_dir: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        rec = api_record(data_dir)
        if json.loads(rec.read_text()).get("pid") == os.getpid():
            rec.unlink()


def running_api(data_dir: Path) -> str | None:
    """Base URL of the live worker that owns this data directory, if there is one."""
    with contextlib.suppress(OSError, ValueError, KeyError):
        rec = json.loads(api_record(data_dir).read_text())
        if pid_alive(int(rec["pid"])):
            return f"http://127.0.0.1:{int(rec['port'])}"
    return None


def get_json(base: str, path: str, params: dict[str, str] | None = None,
             timeout_s: float = 120.0) -> Any:
    query = "?" + urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v})
    with urllib.request.urlopen(base + path + query, timeout=timeout_s) as resp:  # noqa: S310
        return json.loads(resp.read())
