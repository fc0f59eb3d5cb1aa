"""The KPI report from the store: counts -> figures -> roll-ups -> judgement.

The one function the API, `courierwatch kpi`, the publisher and replays call for figures.
It lives below the stream processors (streams.publisher publishes what it returns); the
judgement itself is the core's (`courierwatch.judgement`).
"""

from __future__ import annotations

from dataclasses import replace

from courierwatch.catalog import ALL_COMPANIES, Catalog
from courierwatch.figures import cell_figures, roll_up
from courierwatch.judgement import DEFAULT_MIN_SAMPLE, ReportRow, judge
from courierwatch.routes import RouteTable
from warehouse.client import Warehouse
from warehouse.queries import CellFilter, cell_counts, on_time_counts


def kpi_report(wh: Warehouse, flt: CellFilter, routes: RouteTable, catalog: Catalog,
               min_sample: int = DEFAULT_MIN_SAMPLE) -> list[ReportRow]:
    """Compute, roll up and judge every KPI for the cells the filter selects.

    With `city` set, only that city's rows (or only the YRD rows for `YRD`); with `company`
    set, only that company's rows (`*`: only the rows summing every company): a roll-up
    of a filtered subset would be mislabelled.
    The cells are read within `flt.scope`; a region row is kept only when the scope covers
    every city of the region (a partial roll-up would be mislabelled, and the full one
    would reveal other provinces' counts). Rows are ordered by period, city, company, KPI.
    """
    read = replace(flt, company=None) if flt.company == ALL_COMPANIES else flt
    figures = roll_up(cell_figures(cell_counts(wh, read), on_time_counts(wh, read, routes)))
    figures = [f for f in figures if flt.scope.covers(f.city)]
    if flt.city:
        figures = [f for f in figures if f.city == flt.city]
    if flt.company:
        figures = [f for f in figures if f.company == flt.company]
    figures.sort(key=lambda f: (f.period_start, f.city, f.company, f.kpi))
    return judge(catalog, figures, min_sample)
