"""The layering of docs/architecture.md holds: checked by import-linter on the real tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_hold() -> None:
    """`lint-imports` (contracts in pyproject.toml) passes: no upward import between the
    layers cli > load_tests > services > streams > runtime | warehouse > courierwatch, no
    I/O library in the core, no import cycle between the modules of any package, the
    ingest steps independent of each other, and the contract, catalog and route classes
    independent of each other."""
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(exe), "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_import_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The check is not vacuous: a copy of the tree in which streams imports services (the
    upward import issue 8 found in streams/publisher.py) fails it."""
    import shutil

    copy = tmp_path / "tree"
    shutil.copytree(REPO, copy, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".courierwatch", "__pycache__", "tests", "*.egg-info"))
    decode = copy / "streams" / "decode.py"
    decode.write_text(decode.read_text() + "\nimport services.owner  # noqa: E402, F401\n")
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(exe), "--no-cache"], cwd=copy, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "streams.decode -> services.owner" in proc.stdout
