"""Shared fixtures. Unit tests may not open sockets; integration tests are marked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _block_network_in_unit_tests(request: pytest.FixtureRequest,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests are pure: any socket connection outside an integration test fails loudly."""
    if request.node.get_closest_marker("integration"):
        return

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("unit tests must not do network I/O; mark the test integration")

    monkeypatch.setattr(socket.socket, "connect", refuse)


class Cli:
    """Runs the real `courierwatch` command with its own data directory and database."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.env = os.environ | {"COURIERWATCH_DATA_DIR": str(data_dir),
                                 "COURIERWATCH_KAFKA": "embedded", "PYTHONPATH": str(REPO)} | env
        self.env.pop("COURIERWATCH_CLICKHOUSE", None)

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, cwd=REPO)
        if proc.returncode != 0:
            raise AssertionError(f"courierwatch {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stderr[-4000:]}")
        return proc

    def kpi_rows(self, *args: str) -> list[dict[str, Any]]:
        return list(orjson.loads(self.run("kpi", "--format", "json", *args).stdout))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "cw")


def write_jsonl(path: Path, events: list[dict[str, Any]], extra_lines: tuple[bytes, ...] = ()
                ) -> Path:
    path.write_bytes(b"\n".join([orjson.dumps(e) for e in events] + list(extra_lines)) + b"\n")
    return path
