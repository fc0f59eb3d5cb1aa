"""The demo's final report fits the terminal: 80 columns get the cities in balanced tables,
a wide terminal one table; no line is wider than the console. The demo's incidents are
placed where the generated span has the traffic to show them."""

from __future__ import annotations

from datetime import datetime

import pytest
from rich.cells import cell_len
from rich.console import Console

from cli.demo import SHOWN_CITIES, busy_since, kpi_matrix
from courierwatch.catalog import load_catalog
from courierwatch.figures import Figure
from courierwatch.judgement import judge
from courierwatch.periods import CST
from services.api.board import board_payload

CATALOG = load_catalog()


@pytest.mark.parametrize(("width", "tables"), [
    pytest.param(80, 2, id="80-columns-two-tables-of-three"),
    pytest.param(160, 1, id="wide-one-table"),
])
def test_matrix_uses_the_width_it_has(width: int, tables: int) -> None:
    """Six cities (four seeds, Shanghai, the YRD): two tables of three at 80 columns, one at
    160; every printed line fits the console; each city's X-ray share of 99.9 % is shown,
    ✗ against the 100 % target wherever a plan sets one."""
    figures = [Figure(c, "*", "2026-11-02 00:00:00", "xray_rate", 999, 1000)
               for c in SHOWN_CITIES]
    board = board_payload(judge(CATALOG, figures), CATALOG, 50, None, None)
    built = kpi_matrix(board, "t", width)
    assert len(built) == tables
    console = Console(width=width, record=True)
    for table in built:
        console.print(table)
    lines = console.export_text().splitlines()
    assert max(cell_len(line) for line in lines) <= width
    # Liaocheng's plan sets no X-ray target: its figure shows without a judgement.
    assert sum(line.count("99.9% ✗") for line in lines) == len(SHOWN_CITIES) - 1
    assert sum(line.count("99.9%") for line in lines) == len(SHOWN_CITIES)


@pytest.mark.parametrize(("now", "since"), [
    pytest.param("2026-12-08T13:46", "2026-12-08T09:44", id="midday-about-4-hours"),
    pytest.param("2026-12-08T07:46", "2026-12-07T19:44", id="morning-reaches-back-overnight"),
])
def test_incidents_start_where_six_mean_hours_of_traffic_lie(now: str, since: str) -> None:
    """Six hours of mean acceptances before `now` (the generator's CST day profile): about
    four busy hours at midday, back to the previous evening at dawn."""
    at = datetime.fromisoformat(now).replace(tzinfo=CST)
    assert busy_since(at, 6) == datetime.fromisoformat(since).replace(tzinfo=CST)
