"""City drill-down: each KPI as a time series per company with its targets as lines."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from courierwatch.catalog import Catalog
from courierwatch.kpi import KPI_BY_NAME
from dashboards.common import (
    KPI_TITLES,
    base,
    city_variable,
    company_variable,
    kpi_panel,
    route_class_variable,
)
from dashboards.sql import CELL_KPIS, company_series, target_lines

CITY_UID = "courierwatch-city"
ON_TIME_BY_CLASS = "concat('on_time_rate.', '${route_class}')"


def city(catalog: Catalog) -> dashboard.Dashboard:
    """One panel per KPI, two to a row; on time per the chosen route class first."""
    d = (base(CITY_UID, "courierwatch · City drill-down 城市详情",
              "Each KPI of the chosen city per hour, per company and for all companies (*), "
              "with the applicable targets as dashed lines (orange = aspirational).")
         .with_variable(city_variable(multi=False)).with_variable(company_variable())
         .with_variable(route_class_variable()))
    d = d.with_panel(kpi_panel("时限准时率 on time · ${route_class}", "ratio",
                               company_series(ON_TIME_BY_CLASS),
                               target_lines(catalog, ON_TIME_BY_CLASS)).height(8).span(12))
    d = d.with_panel(kpi_panel(KPI_TITLES["promise_kept_rate"], "ratio",
                               company_series("promise_kept_rate"),
                               target_lines(catalog, "promise_kept_rate")).height(8).span(12))
    for kpi in CELL_KPIS:
        d = d.with_panel(kpi_panel(KPI_TITLES[kpi], KPI_BY_NAME[kpi].unit, company_series(kpi),
                                   target_lines(catalog, kpi)).height(8).span(12))
    return d
