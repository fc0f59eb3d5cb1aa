"""Green packaging (绿色包装) and security checks (收寄验视, 实名, 过机安检) of one city."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, timeseries

from courierwatch.catalog import Catalog
from courierwatch.kpi import KPI_BY_NAME
from dashboards.common import (
    KPI_TITLES,
    base,
    city_variable,
    company_variable,
    kpi_panel,
    status_table,
)
from dashboards.sources import CLICKHOUSE, DATABASE, ClickHouseQuery
from dashboards.sql import company_series, judged_figures, quote, target_lines

GREEN_UID = "courierwatch-green-security"
GREEN_KPIS = ("standard_packaging_share", "e_waybill_share", "no_secondary_packaging_share",
              "recycled_bag_share")
SECURITY_KPIS = ("real_name_rate", "inspection_rate", "xray_rate")


def tape_sql() -> str:
    """Mean tape length per parcel (mm) per hour and company, from tape_cells."""
    return f"""SELECT hour AS time, company, sum(tape_mm * n) / sum(n) AS value FROM (
  SELECT hour, company, tape_mm, uniqExactMerge(parcels) AS n FROM {DATABASE}.tape_cells
  WHERE city = '${{city}}' AND company IN (${{company:singlequote}}) AND $__timeFilter(hour)
  GROUP BY hour, company, tape_mm)
GROUP BY time, company ORDER BY time, company"""


def green_security(catalog: Catalog) -> dashboard.Dashboard:
    kpis = GREEN_KPIS + SECURITY_KPIS
    in_list = "kpi IN (" + ", ".join(quote(k) for k in kpis) + ")"
    d = (base(GREEN_UID, "courierwatch · Green packaging & security 绿色包装与安全",
              "Packaging and security-check shares of the chosen city against the plans.")
         .with_variable(city_variable(multi=False)).with_variable(company_variable())
         .with_panel(status_table("Against targets 目标达成",
                                  judged_figures(catalog, "city = '${city}'", in_list))
                     .height(8).span(24)))
    for kpi in kpis:
        d = d.with_panel(kpi_panel(KPI_TITLES[kpi], KPI_BY_NAME[kpi].unit, company_series(kpi),
                                   target_lines(catalog, kpi)).height(8).span(8))
    return d.with_panel(timeseries.Panel().title(KPI_TITLES["tape_mm_mean"]).datasource(CLICKHOUSE)
                        .unit("lengthmm").with_target(ClickHouseQuery(tape_sql()).time_series())
                        .height(8).span(8))
