"""The at-scale enforcement (ClickHouse roles and row policies) checked with the embedded
engine: chDB parses every generated statement, and the row policy's condition admits
exactly the cities the scope covers, the same as the API's bound condition."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from courierwatch.cities import CITIES
from courierwatch.scope import parse_scope
from tests.conftest import REPO, Cli

pytestmark = pytest.mark.integration

SCOPES = ("national", "province:33", "city:331000", "city:331000,city:420100",
          "province:31,province:32,province:33", "province:32,city:420100")


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = tmp_path_factory.mktemp("rowpolicy") / "clickhouse"
    out = subprocess.run([sys.executable, "-m", "tests.integration.row_policy_probe",
                          str(path), *SCOPES], cwd=REPO, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(orjson.loads(out.stdout))


def test_every_table_holding_city_rows_gets_a_policy(probe: dict[str, object]) -> None:
    """The tables are read from the migrated schema: the figures, the archive, the
    acceptances, publications and restatements; views and dead letters (no city) are not."""
    tables = set(probe["tables"])  # type: ignore[arg-type]
    assert {"events", "cell_counts", "tape_cells", "accepts", "kpi_published",
            "restatements"} <= tables
    assert not {"events_in", "cell_counts_mv", "dead_letters", "schema_migrations"} & tables


@pytest.mark.parametrize("scope", SCOPES)
def test_chdb_parses_each_statement(probe: dict[str, object], scope: str) -> None:
    """formatQuery (chDB's parser) accepts every statement and keeps its kind and target:
    one role, one row policy and one grant per table, one reader."""
    info = probe["scopes"][scope]  # type: ignore[index]
    formatted = info["formatted"]
    n_tables = len(probe["tables"])  # type: ignore[arg-type]
    kinds = [f.split(" ")[0] + " " + f.split(" ")[1] for f in formatted]
    assert kinds.count("CREATE ROLE") == 1 and kinds.count("CREATE USER") == 1
    assert kinds.count("CREATE ROW") == n_tables
    assert sum(f.startswith("GRANT SELECT ON") for f in formatted) == n_tables
    assert all("TO courierwatch_" in f for f in formatted if f.startswith("CREATE ROW"))


@pytest.mark.parametrize("scope", SCOPES)
def test_the_row_policy_admits_exactly_the_scope(probe: dict[str, object], scope: str) -> None:
    """Evaluated by chDB over every known city, the row policy's USING condition and the
    API's bound-parameter condition both select exactly the cities Scope.covers."""
    info = probe["scopes"][scope]  # type: ignore[index]
    want = sorted(c for c in [*CITIES, "YRD"] if parse_scope(scope).covers(c))
    assert info["policy_cities"] == want
    assert info["bound_cities"] == want
    assert want  # every scope here covers at least one known city


def test_the_command_prints_sql_for_the_token_scopes(tmp_path: Path) -> None:
    """`access clickhouse-sql --print` without --scope uses the tokens' scopes and shows
    each new reader's password once (stderr), while the SQL holds only its SHA-256."""
    cli = Cli(tmp_path / "cw")
    cli.run("tokens", "add", "--name", "tz", "--scope", "city:331000")
    out = cli.run("access", "clickhouse-sql", "--print")
    assert "USING city IN ('331000') TO courierwatch_c331000" in out.stdout
    password = [line.split("│")[3].strip() for line in out.stderr.splitlines()
                if "courierwatch_reader_c331000" in line][0]
    assert len(password) >= 32 and password not in out.stdout
