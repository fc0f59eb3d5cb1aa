"""Every ClickHouse query of every Grafana dashboard runs against the real schema in chDB,
and the figures it shows agree with counts made by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from courierwatch.catalog import load_catalog
from dashboards.alert_rules import alert_rules
from dashboards.build import render
from dashboards.city import BOARD_KPIS, breach_board_sql
from dashboards.sql import company_series, judged_figures
from tests.grafana_macros import clickhouse_queries, expand
from warehouse.client import Warehouse
from warehouse.schema import STAGING_COLUMN_NAMES

pytestmark = pytest.mark.integration

TAIZHOU, CHANGZHOU = "331000", "320400"
HOUR = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # 08:00 CST
START, END = int(HOUR.timestamp()) - 3600, int(HOUR.timestamp()) + 2 * 3600
VARS = {"city": [TAIZHOU, CHANGZHOU], "company": ["ZTO", "SF"], "route_class": ["yrd_24h"]}


def _event(i: int, kind: str | None) -> dict[str, object]:
    base = {"schema": "scan.v1", "event_id": f"e{i}", "parcel_id": f"p{i % 100}",
            "company": "ZTO", "ts": "2026-11-02T08:10:00+08:00", "city": TAIZHOU}
    if kind is None:
        return base | {"type": "ACCEPTED", "dest_city": TAIZHOU, "ecommerce": True,
                       "packaging": {"standard": i % 4 != 0, "e_waybill": True,
                                     "secondary_packaging": False, "recycled_bag": False,
                                     "tape_mm": 100, "degradable": False},
                       "security": {"real_name": True, "inspected": True, "xray": i % 2 == 0}}
    return base | {"type": "EXCEPTION", "kind": kind}


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    path: Path = tmp_path_factory.mktemp("dash-sql") / "clickhouse"
    # The dashboards name the default database `courierwatch`, as the data source does.
    w = Warehouse(f"chdb://{path}", "courierwatch")
    # 100 ACCEPTED (75 standard packaging, 50 x-rayed) and 10 DELAY exceptions, ZTO Taizhou.
    events = [_event(i, None) for i in range(100)] + [_event(100 + i, "DELAY") for i in range(10)]
    ts_ms = int(HOUR.timestamp() * 1000) + 600_000
    rows = [[orjson.dumps(e).decode(), ts_ms, None, 0, "scan.v1", 0, i, 0, ts_ms,
             "test:dashboard-sql", i + 1] for i, e in enumerate(events)]
    w.insert("events_in", [list(c) for c in zip(*rows, strict=True)], STAGING_COLUMN_NAMES)
    # A published hour: 80 of 100 joined deliveries on time on the yrd_24h class.
    w.command(f"""INSERT INTO courierwatch.kpi_published (city, company, period, period_start,
          kpi, numerator, denominator, value, published_at) VALUES
        ('{TAIZHOU}', 'ZTO', 'hour', '2026-11-02 08:00:00', 'on_time_rate.yrd_24h', 80, 100,
         0.8, now64(3))""")
    w.command("""INSERT INTO courierwatch.dead_letters (received_at, stage, reason, detail,
          raw, topic, partition, offset, msg_index) VALUES
        (now64(3), 'decode', 'pii', 'phone', '{}', 'scan.v1', 0, 7, 0)""")
    return w


def test_every_clickhouse_panel_query_runs_on_the_real_schema(wh: Warehouse) -> None:
    """Each panel and variable query, with variables and macros expanded as Grafana does,
    is valid SQL for the schema of warehouse/schema.py (a wrong column or table fails)."""
    models = render(load_catalog())
    ran = 0
    for model in models.values():
        for where, sql in clickhouse_queries(model):
            try:
                wh.query(expand(sql, VARS, START, END))
            except Exception as exc:  # noqa: BLE001 - re-raised with the panel's name
                raise AssertionError(f"{where}: {exc}") from exc
            ran += 1
    assert ran >= 30  # six dashboards; the drill-down alone has a query pair per KPI


def test_overview_figures_match_hand_counts(wh: Warehouse) -> None:
    """The overview shows Taizhou's delay rate as 10 DELAY per 100 ACCEPTED = 100 per
    1,000, the x-ray rate 50/100 and the published on-time rate 0.8, each judged against
    every catalog target that covers Taizhou exactly as the catalog's own `judge` does
    (aspirational breaches told apart; company-scoped targets not judged on all companies)."""
    catalog = load_catalog()
    sql = expand(judged_figures(catalog, "city IN (${city:singlequote})"), VARS, START, END)
    rows = wh.query(sql)
    got = {(r[1], r[7]): (r[2], r[6]) for r in rows if r[0].startswith("台州")}
    expected = {"delay_rate": 100.0, "xray_rate": 0.5, "on_time_rate.yrd_24h": 0.8,
                "standard_packaging_share": 0.75}
    checked = 0
    for t in catalog.targets:
        figure = f"{t.metric}.{t.route_class}" if t.route_class else t.metric
        if figure in expected and t.measurable_by == "events" and t.covers_city(TAIZHOU) \
                and t.effective <= HOUR.date():
            if not t.covers_company("*"):  # company-scoped: not judged on the '*' row
                assert (figure, t.id) not in got
                continue
            value, status = got[(figure, t.id)]
            assert value == pytest.approx(expected[figure])
            assert status == ("pass" if t.judge(expected[figure]) else
                              "aspirational breach" if t.aspirational else "breach")
            checked += 1
    assert checked >= 3


def test_drill_down_series_has_company_and_all_companies_rows(wh: Warehouse) -> None:
    """The drill-down's delay series for Taizhou has the 08:00 CST hour at 100 per 1,000
    for ZTO and for all companies (*), which here are the same parcels."""
    rows = wh.query(expand(company_series("delay_rate"), VARS, START, END))
    assert {(r[1], round(r[2], 6)) for r in rows} == {("ZTO", 100.0), ("*", 100.0)}
    instants = {(r[0] if r[0].tzinfo else r[0].replace(tzinfo=UTC)).timestamp() for r in rows}
    assert instants == {HOUR.timestamp()}


def test_every_alert_rule_query_runs_and_fires_only_where_the_catalog_says(wh: Warehouse) -> None:
    """Each generated alert rule's SQL runs on the real schema; the delay-rate rule returns
    Taizhou at 100 per 1,000 (10 DELAY / 100 ACCEPTED), the value Grafana compares with the
    target's threshold."""
    catalog = load_catalog()
    seen = {}
    for rule in alert_rules(catalog):
        sql = rule["data"][0]["model"]["rawSql"]
        seen[rule["labels"]["policy_id"]] = wh.query(expand(sql, VARS, START, END))
    assert set(seen) == {t.id for t in catalog.targets if t.measurable_by == "events"}
    delay = [t.id for t in catalog.targets if t.metric == "delay_rate" and t.covers_city(TAIZHOU)]
    assert delay and all(seen[i] == [(TAIZHOU, pytest.approx(100.0))] for i in delay)


def test_breach_board_marks_each_company_cell_against_its_own_targets(wh: Warehouse) -> None:
    """The city dashboard's breach board for Taizhou: the ZTO row and the all-companies row
    (here the same 100 parcels) read `✗ 100‰` for delays (10 DELAY / 100 ACCEPTED against
    ≤2‰) and `✗ 50%` for X-ray (50 of 100 against 100 %), `✗ 75%` for standard packaging
    (75 of 100 against > 95 %); ZTO, a major brand, is judged on recycled bags (0 of 100
    against the brands' ≥ 90 %) but the all-companies row is not; the breached policy ids
    are listed."""
    rows = wh.query(expand(breach_board_sql(load_catalog()), {**VARS, "city": [TAIZHOU]},
                           START, END))
    header = ["company", *BOARD_KPIS, "policies"]
    board = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    assert set(board) == {"*", "ZTO"}
    for company in ("*", "ZTO"):
        assert board[company]["delay_rate"] == "✗ 100‰"
        assert board[company]["xray_rate"] == "✗ 50%"
        assert board[company]["standard_packaging_share"] == "✗ 75%"
        assert "yrd-2020-delay-rate" in board[company]["policies"].split()
        assert "taizhou-2022-xray" in board[company]["policies"].split()
    assert board["ZTO"]["recycled_bag_share"] == "✗ 0%"
    assert board["*"]["recycled_bag_share"] is None  # no target judges it: an empty cell
    assert "taizhou-2022-recycled-bag-share" not in board["*"]["policies"].split()
