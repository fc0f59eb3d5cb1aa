"""The audit log in the real embedded ClickHouse (chDB): synced, listed, verified, tampered."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from runtime.settings import load_settings
from services.audit import log as audit_log
from tests.conftest import REPO, Cli

pytestmark = pytest.mark.integration

TAMPER = """
import sys
from runtime.settings import load_settings
from warehouse.client import Warehouse
s = load_settings()
wh = Warehouse(s.clickhouse, s.database)
wh.command("ALTER TABLE " + wh.db + ".audit_log UPDATE outputs = '{\\"rows\\":999}' "
           "WHERE seq = " + sys.argv[1] + " SETTINGS mutations_sync = 1")
wh.close()
"""


def test_clickhouse_copy_verifies_and_a_tampered_row_is_named(cli: Cli) -> None:
    """Records appended to the journal reach ClickHouse's audit_log on the next read; the
    ClickHouse copy lists them in order and verifies; editing one row's outputs in
    ClickHouse makes `audit verify` exit 1 naming exactly that seq, for ClickHouse only."""
    settings = load_settings(cli.env)
    sealed = [audit_log.append("auditor", "replay", {"n": i}, {"rows": i}, settings=settings)
              for i in range(1, 6)]
    listed = orjson.loads(cli.run("audit", "list", "--format", "json").stdout)
    assert [r["hash"] for r in listed] == [r.hash for r in sealed]
    ok = orjson.loads(cli.run("audit", "verify", "--format", "json").stdout)
    assert ok["ok"] and ok["clickhouse"]["head_hash"] == sealed[-1].hash

    subprocess.run([sys.executable, "-c", TAMPER, "3"], env=cli.env, cwd=REPO, check=True,
                   timeout=120)
    proc = subprocess.run([sys.executable, "-m", "cli", "audit", "verify", "--format",
                           "json"], env=cli.env, cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    bad = orjson.loads(proc.stdout)
    assert bad["clickhouse"]["broken_seq"] == 3
    assert "outputs" in bad["clickhouse"]["reason"]
    assert bad["journal"]["ok"] and bad["disagreement_seq"] == 3
    exported = [orjson.loads(line) for line in
                cli.run("audit", "export").stdout.splitlines() if line.strip()]
    assert [r["seq"] for r in exported] == [1, 2, 3, 4, 5]
