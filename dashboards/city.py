"""City drill-down: the city's breach board (company x KPI), alert annotations, and each KPI
as a time series per company with its targets as lines."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, table
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models.dashboard import (
    AnnotationTarget,
    DashboardRegexMapOptions,
    DataSourceRef,
    DynamicConfigValue,
    RegexMap,
    ValueMappingResult,
)

from courierwatch.catalog import Catalog
from courierwatch.kpi import KPI_BY_NAME
from courierwatch.units import UNIT_SUFFIX
from dashboards.common import (
    GREEN,
    GREY,
    KPI_TITLES,
    ORANGE,
    RED,
    base,
    city_variable,
    company_variable,
    kpi_panel,
    route_class_variable,
)
from dashboards.sources import (
    CLICKHOUSE,
    CLICKHOUSE_TYPE,
    CLICKHOUSE_UID,
    DATABASE,
    ClickHouseQuery,
)
from dashboards.sql import (
    CELL_KPIS,
    MIN_JUDGED_DENOMINATOR,
    cell_figures,
    city_matches,
    company_series,
    passes,
    published_figures,
    quote,
    target_lines,
    targets_table,
)

CITY_UID = "courierwatch-city"
ON_TIME_BY_CLASS = "concat('on_time_rate.', '${route_class}')"
# The board's columns: every figure a target of some plan judges, in the page's order.
BOARD_KPIS = ("on_time_rate.yrd_key_12h", "on_time_rate.yrd_24h",
              "on_time_rate.national_key_48h", "delay_rate", "damage_rate", "loss_rate",
              "valid_complaint_rate", "complaint_acceptance_rate", "complaint_satisfaction",
              "company_complaint_satisfaction", "locker_share", "standard_packaging_share",
              "e_waybill_share", "no_secondary_packaging_share", "recycled_bag_share",
              "real_name_rate", "inspection_rate", "xray_rate")


def _header(figure: str) -> str:
    base_kpi, _, route_class = figure.partition(".")
    return KPI_TITLES[base_kpi] + (f" {route_class}" if route_class else "")


def _shown(figure: str) -> str:
    """SQL text of a figure's `value` in its unit: 37.7‰, 98.7%; a share above 100 % reads
    'invalid' (it cannot be true, the page never shows it as a figure)."""
    unit = KPI_BY_NAME[figure.partition(".")[0]].unit
    if unit == "ratio":
        return ("if(value > 1, 'invalid', concat(toString(round(value * 100, "
                "if(value > 0.995 AND value < 1, 2, 1))), '%'))")
    digits = "if(abs(value) >= 100, 0, if(abs(value) >= 10, 1, 2))"
    return f"concat(toString(round(value, {digits})), {quote(UNIT_SUFFIX[unit])})"


def breach_board_sql(catalog: Catalog) -> str:
    """One row per company of `${city}` (and '*', all companies) over the time range, one
    column per KPI: `✗ 37.7‰` for a binding breach, `△` aspirational, `·` too few to judge
    (denominator below MIN_JUDGED_DENOMINATOR), `⚠ invalid` for a share above 100 % (never
    shown or judged as a figure), the bare value when every target passes;
    a company-scoped target judges its companies only, never '*'. The last column lists the
    policy ids breached."""
    where_cells = "city = '${city}' AND $__timeFilter(hour)"
    where_published = "city = '${city}' AND $__timeFilter(period_start)"
    shown = ",\n           ".join(f"kpi = {quote(k)}, {_shown(k)}" for k in BOARD_KPIS)
    ratios = ", ".join(quote(k) for k in BOARD_KPIS
                       if KPI_BY_NAME[k.partition(".")[0]].unit == "ratio")
    columns = ",\n  ".join(f"anyIf(cell, kpi = {quote(k)}) AS `{_header(k)}`"
                           for k in BOARD_KPIS)
    return f"""WITH figures AS (
  {cell_figures((("company", "company"),), where_cells)}
  UNION ALL
  {cell_figures((("'*'", "company"),), where_cells)}
  UNION ALL
  {published_figures((("company", "company"),), where_published)}
  UNION ALL
  {published_figures((("'*'", "company"),), where_published)}
), judged AS (
  SELECT f.company AS company, f.kpi AS kpi, any(f.value) AS value,
    max(multiIf(f.kpi IN ({ratios}) AND f.value > 1, 4,
                f.denominator < {MIN_JUDGED_DENOMINATOR}, 0,
                {passes('f.value', 't.comparator', 't.threshold')}, 1,
                t.strength = 'aspirational', 2, 3)) AS severity,
    arrayStringConcat(arraySort(groupArrayIf(t.policy_id, f.denominator >=
      {MIN_JUDGED_DENOMINATOR} AND NOT {passes('f.value', 't.comparator', 't.threshold')})),
      ' ') AS breached
  FROM figures AS f INNER JOIN ({targets_table(catalog)}) AS t ON t.figure = f.kpi
  WHERE {city_matches("'${city}'", 't.cities')} AND t.effective <= toDate($__toTime)
    AND (empty(t.companies) OR has(t.companies, f.company))
    AND f.value IS NOT NULL
  GROUP BY f.company, f.kpi
)
SELECT company,
  {columns},
  arrayStringConcat(groupArray(breached), ' ') AS `breached policies 未达标依据`
FROM (
  SELECT company, kpi, breached,
    concat(multiIf(severity = 4, '⚠ ', severity = 3, '✗ ', severity = 2, '△ ',
                   severity = 0, '· ', ''),
           multiIf({shown}, '')) AS cell
  FROM judged
)
GROUP BY company ORDER BY company != '*', company"""


def breach_board(catalog: Catalog) -> table.Panel:
    """The board as a table: cells coloured by their mark (✗ red, △ orange, · grey)."""
    mappings = [RegexMap(options=DashboardRegexMapOptions(
        pattern=pattern, result=ValueMappingResult(color=colour, index=i))).to_json()
        for i, (pattern, colour) in enumerate((("^✗.*", RED), ("^△.*", ORANGE),
                                               ("^[·⚠].*", GREY), ("^[0-9].*", GREEN)))]
    panel = (table.Panel().title("Breach board 企业达标情况 · company x KPI")
             .description("Each company's figures in the chosen city over the time range, "
                          "judged against every target that applies to it (targets of the "
                          "major brands judge those brands only): ✗ binding breach, "
                          "△ aspirational (力争), · too few to judge.")
             .datasource(CLICKHOUSE)
             .with_target(ClickHouseQuery(breach_board_sql(catalog)).table()))
    return panel.override_by_regexp(".*", [
        DynamicConfigValue("mappings", mappings),
        DynamicConfigValue("custom.cellOptions", {"type": "color-text"})])


def alert_annotations() -> dashboard.AnnotationQuery:
    """Alert episodes of the chosen city (the `alerts` table the worker writes): a region
    from the first breached bucket to its resolution (or the latest evaluation)."""
    sql = f"""SELECT toUnixTimestamp64Milli(started_at) AS time,
  toUnixTimestamp64Milli(ifNull(resolved_at, evaluated_at)) AS timeEnd,
  concat(if(severity = 'page', '✗ ', '△ '), company, ' ', kpi, ' (', policy_id, ') ', state)
    AS text, arrayStringConcat([company, kpi, severity], ',') AS tags
FROM {DATABASE}.alerts FINAL
WHERE city = '${{city}}' AND started_at <= $__toTime
  AND ifNull(resolved_at, evaluated_at) >= $__fromTime
ORDER BY time"""
    return (dashboard.AnnotationQuery().name("alerts 告警").enable(True).icon_color(RED)
            .datasource(DataSourceRef(type_val=CLICKHOUSE_TYPE, uid=CLICKHOUSE_UID))
            .target(_AnnotationSql(sql)))


class _SqlAnnotationTarget(AnnotationTarget):
    """An annotation's target holding a ClickHouse query in the plugin's query model (the
    SDK's AnnotationTarget has only the built-in Grafana fields)."""

    def __init__(self, sql: str) -> None:
        super().__init__()
        self.query = ClickHouseQuery(sql).table().build()

    def to_json(self) -> dict[str, object]:
        return self.query.to_json()


class _AnnotationSql(cogbuilder.Builder[AnnotationTarget]):
    def __init__(self, sql: str) -> None:
        self._internal = _SqlAnnotationTarget(sql)

    def build(self) -> AnnotationTarget:
        return self._internal


def city(catalog: Catalog) -> dashboard.Dashboard:
    """The breach board first, then one panel per KPI, two to a row; on time per the chosen
    route class first; alert episodes as annotations on every time series."""
    d = (base(CITY_UID, "courierwatch · City drill-down 城市详情",
              "The chosen city's breach board (company x KPI over the time range), then each "
              "KPI per hour, per company and for all companies (*), with the applicable "
              "targets as dashed lines (orange = aspirational) and alert episodes as "
              "annotations.")
         .with_variable(city_variable(multi=False)).with_variable(company_variable())
         .with_variable(route_class_variable())
         .annotation(alert_annotations()))
    d = d.with_panel(breach_board(catalog).height(10).span(24))
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
