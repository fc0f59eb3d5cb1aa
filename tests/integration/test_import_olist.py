"""`courierwatch import` of the real Olist export (examples/olist/) on the real pipeline.

The expected figures are computed here from the CSV with the csv module and zoneinfo only,
from the README's reading of the data (examples/olist/README.md), sharing no code with the
mapping or the importer.
"""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from tests.conftest import REPO, Cli

pytestmark = pytest.mark.integration

# The shared subset when this checkout sits beside it, else the copy shipped in examples/
# (the same rows without the customer_id column, which the mapping does not read).
ORDERS = REPO.parent / "shared" / "data" / "olist-subset" / "olist_orders_dataset.csv"
if not ORDERS.exists():
    ORDERS = REPO / "examples" / "olist" / "olist_orders.csv"
MAPPING = REPO / "examples" / "olist" / "mapping.yaml"
SAO_PAULO, CST = ZoneInfo("America/Sao_Paulo"), timezone(timedelta(hours=8))


def _cst_day(local: str) -> str:
    t = datetime.strptime(local, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SAO_PAULO)
    return t.astimezone(CST).strftime("%Y-%m-%dT00:00:00+08:00")


def _expected() -> tuple[Counter[str], Counter[str], Counter[str], int]:
    """Per CST day: orders handed to the carrier (volume), delivered orders with a promise
    (promise_kept_rate's denominator) and those delivered by the end of the promised day
    (numerator); and the number of rows in the file."""
    volume: Counter[str] = Counter()
    promised: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    rows = 0
    with open(ORDERS, newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            rows += 1
            carrier = r["order_delivered_carrier_date"]
            customer = r["order_delivered_customer_date"]
            if r["order_status"] == "shipped" and carrier:
                volume[_cst_day(carrier)] += 1
            if r["order_status"] == "delivered" and carrier and customer:
                volume[_cst_day(carrier)] += 1
                day = _cst_day(customer)
                promised[day] += 1
                due = date.fromisoformat(r["order_estimated_delivery_date"][:10])
                kept[day] += date.fromisoformat(customer[:10]) <= due
    return volume, promised, kept, rows


def _figures(cli: Cli, kpi: str) -> dict[str, tuple[float, float]]:
    return {r["period_start"]: (r["numerator"], r["denominator"])
            for r in cli.kpi_rows("--company", "OLIST", "--city", "990000")
            if r["kpi"] == kpi and r["company"] == "OLIST"}


def test_olist_import_matches_direct_computation_and_is_idempotent(tmp_path: Path) -> None:
    """Importing the Olist orders gives, per CST day, the volume and promise_kept_rate
    counted straight from the CSV; every row is either mapped or in the reject file with a
    reason; importing the same file again changes no figure; both imports are in an audit
    log that verifies."""
    cli = Cli(tmp_path / "cw")
    rejects = tmp_path / "rejects.csv"
    summary = orjson.loads(cli.run("import", str(ORDERS), "--mapping", str(MAPPING),
                                   "--rejects", str(rejects), "--format", "json").stdout)
    volume, promised, kept, rows = _expected()
    with open(rejects, newline="", encoding="utf-8") as fh:
        rejected = list(csv.DictReader(fh))
    assert summary["rows"] == rows == summary["rows_mapped"] + len(rejected)
    assert all(r["reason"] for r in rejected)
    assert "customer_id" not in rejected[0]
    assert summary["processed"]["dead_letters"] == 0

    got_volume = _figures(cli, "volume")  # days with deliveries only have volume 0
    assert {d: n for d, (n, _) in got_volume.items() if n} == dict(volume)
    got_kept = _figures(cli, "promise_kept_rate")
    assert got_kept == {d: (kept[d], promised[d]) for d in promised}
    assert sum(promised.values()) > 5000 and 0 < sum(kept.values()) < sum(promised.values())

    before = cli.kpi_rows("--company", "OLIST")
    second = orjson.loads(cli.run("import", str(ORDERS), "--mapping", str(MAPPING),
                                  "--rejects", str(tmp_path / "r2.csv"),
                                  "--format", "json").stdout)
    assert second["events"] == summary["events"]
    assert cli.kpi_rows("--company", "OLIST") == before

    log = orjson.loads(cli.run("audit", "list", "--format", "json").stdout)
    imports = [r for r in log if r["action"] == "import"]
    assert len(imports) == 2 and imports[0]["outputs"]["rows_rejected"] == len(rejected)
    assert orjson.loads(cli.run("audit", "verify", "--format", "json").stdout)["ok"]
