"""Regional overview (every city's KPIs against its targets) and the company league table."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, table
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from courierwatch.catalog import Catalog
from courierwatch.kpi import KPI_BY_NAME
from dashboards.common import (
    GRAFANA_UNITS,
    base,
    city_variable,
    company_variable,
    route_class_variable,
    status_table,
)
from dashboards.sources import CLICKHOUSE, ClickHouseQuery
from dashboards.sql import cell_figures, judged_figures, published_figures

OVERVIEW_UID = "courierwatch-overview"
LEAGUE_UID = "courierwatch-league"

# League columns: (figure, header); KPIs a regulator compares companies on.
LEAGUE_COLUMNS = (("volume", "volume"), ("on_time_rate", "on time"),
                  ("promise_kept_rate", "promise kept"), ("delay_rate", "delays ‰"),
                  ("damage_rate", "damage /100k"), ("loss_rate", "loss /100k"),
                  ("valid_complaint_rate", "valid complaints /M"),
                  ("complaint_satisfaction", "complaint satisfaction"),
                  ("standard_packaging_share", "standard packaging"),
                  ("xray_rate", "x-ray"))


def overview(catalog: Catalog) -> dashboard.Dashboard:
    """Every chosen city's KPIs over the time range against each target that applies."""
    return (base(OVERVIEW_UID, "courierwatch · Regional overview 区域总览",
                 "Every city's KPIs against its targets: binding breaches red, aspirational "
                 "(力争/基本) breaches orange, too few to judge grey. Seed cities first.")
            .with_variable(city_variable(multi=True))
            .with_variable(company_variable())
            .with_variable(route_class_variable())
            .with_panel(status_table("KPIs against targets 指标与目标",
                                     judged_figures(catalog, "city IN (${city:singlequote})"))
                        .height(24).span(24)))


def league_sql() -> str:
    """One row per company over the chosen cities and time range, one column per KPI."""
    where = "city IN (${city:singlequote}) AND company IN (${company:singlequote})"
    columns = ",\n  ".join(f"anyIf(value, kpi = '{k}') AS `{h}`" for k, h in LEAGUE_COLUMNS)
    return f"""SELECT company,
  {columns}
FROM (
  {cell_figures((("company", "company"),), f"$__timeFilter(hour) AND {where}")}
  UNION ALL
  {published_figures((("company", "company"),), f"$__timeFilter(period_start) AND {where}")}
)
GROUP BY company ORDER BY `volume` DESC"""


def league(catalog: Catalog) -> dashboard.Dashboard:
    panel = (table.Panel().title("Company league table 企业排名").datasource(CLICKHOUSE)
             .with_target(ClickHouseQuery(league_sql()).table()).height(16).span(24))
    for kpi, header in LEAGUE_COLUMNS:
        panel = panel.override_by_name(header, [DynamicConfigValue(
            "unit", GRAFANA_UNITS[KPI_BY_NAME[kpi].unit])])
    return (base(LEAGUE_UID, "courierwatch · Company league 企业排名",
                 "Companies side by side over the chosen cities and time range.")
            .with_variable(city_variable(multi=True)).with_variable(company_variable())
            .with_panel(panel))
