"""Defaults every dashboard shares: template variables, panel helpers, status colours.

Template variables (names are part of the SQL contract the dashboards test checks):
- `city`: one 6-digit code (the drill-down) or several (overview, league), from the store;
- `company`: brand codes, multi-valued, "All" = every company in the store;
- `route_class`: an SLA route class of courierwatch/data/route_classes.yaml.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, table, timeseries
from grafana_foundation_sdk.builders.common import GraphThresholdsStyleConfig
from grafana_foundation_sdk.models.common import GraphThresholdsStyleMode, VisibilityMode
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from courierwatch.catalog import ROUTE_CLASSES
from courierwatch.cities import SEED_CITIES
from courierwatch.periods import CST_ZONE
from dashboards.sources import CLICKHOUSE, DATABASE, ClickHouseQuery

FOLDER_UID = "courierwatch"
FOLDER_TITLE = "courierwatch · 快递服务质量监测"
TAGS = ["courierwatch"]
RED, ORANGE, GREEN, GREY = "red", "orange", "green", "#9aa2ad"
# Status words the SQL writes and the tables colour.
STATUS_COLOURS = {"breach": RED, "aspirational breach": ORANGE, "pass": GREEN,
                  "too few to judge": GREY}

# Panel titles: the regulator's term (as in the seeds) and the English one.
KPI_TITLES = {
    "volume": "业务量 volume", "on_time_rate": "时限准时率 on time",
    "promise_kept_rate": "承诺时限 promise kept", "delay_rate": "延误率 delays",
    "damage_rate": "损毁率 damage", "loss_rate": "丢失率 loss",
    "valid_complaint_rate": "有效申诉率 valid complaints",
    "complaint_acceptance_rate": "申诉受理 complaints accepted",
    "complaint_satisfaction": "申诉满意 complaint satisfaction",
    "company_complaint_satisfaction": "企业投诉处理满意 company complaint satisfaction",
    "locker_share": "智能箱投递 locker share",
    "standard_packaging_share": "规范包装 standard packaging",
    "e_waybill_share": "电子面单 e-waybill",
    "no_secondary_packaging_share": "不再二次包装 no re-packing",
    "recycled_bag_share": "循环中转袋 recycled bags", "tape_mm_mean": "胶带 tape mm/parcel",
    "real_name_rate": "实名收寄 real name", "inspection_rate": "收寄验视 inspection",
    "xray_rate": "过机安检 x-ray",
}

# Grafana's unit ids per KPI unit (courierwatch.kpi.Unit).
GRAFANA_UNITS = {"ratio": "percentunit", "count": "short", "per_1000": "‰",
                 "per_100000": "suffix:/100k", "per_1000000": "suffix:/M",
                 "mm_per_parcel": "lengthmm"}


def base(uid: str, title: str, description: str) -> dashboard.Dashboard:
    """A dashboard with the shared settings: CST, last 24 h, 30 s refresh, shared cursor."""
    return (dashboard.Dashboard(title).uid(uid).description(description).tags(TAGS)
            .timezone(CST_ZONE).time("now-24h", "now").refresh("30s")
            .tooltip(DashboardCursorSync.CROSSHAIR).readonly())


def city_variable(multi: bool) -> dashboard.QueryVariable:
    """Cities present in the store; the seed cities (their own plans) are the default."""
    first = SEED_CITIES[1]  # 台州 Taizhou (Zhejiang): the "demonstration city" plan
    current = (VariableOption(text=list(SEED_CITIES), value=list(SEED_CITIES)) if multi
               else VariableOption(text=first, value=first))
    return (dashboard.QueryVariable("city").label("City 城市").datasource(CLICKHOUSE)
            .query(f"SELECT DISTINCT city FROM {DATABASE}.cell_counts ORDER BY city")
            .refresh(VariableRefresh.ON_DASHBOARD_LOAD).sort(VariableSort.ALPHABETICAL_ASC)
            .multi(multi).include_all(multi).current(current))


def company_variable() -> dashboard.QueryVariable:
    return (dashboard.QueryVariable("company").label("Company 企业").datasource(CLICKHOUSE)
            .query(f"SELECT DISTINCT company FROM {DATABASE}.cell_counts ORDER BY company")
            .refresh(VariableRefresh.ON_DASHBOARD_LOAD).sort(VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True)
            .current(VariableOption(text="All", value="$__all")))


def route_class_variable() -> dashboard.CustomVariable:
    names = sorted(ROUTE_CLASSES)
    return (dashboard.CustomVariable("route_class").label("Route class 线路类别")
            .values(",".join(names))
            .current(VariableOption(text=names[-1], value=names[-1])))


def status_table(title: str, sql: str) -> table.Panel:
    """A ClickHouse table whose `status` column is coloured (breach red, aspirational
    breach orange, pass green, too few grey)."""
    mappings = ValueMap({s: ValueMappingResult(text=s, color=c, index=i)
                         for i, (s, c) in enumerate(STATUS_COLOURS.items())})
    return (table.Panel().title(title).datasource(CLICKHOUSE)
            .with_target(ClickHouseQuery(sql).table())
            .override_by_name("status", [
                DynamicConfigValue("mappings", [mappings.to_json()]),
                DynamicConfigValue("custom.cellOptions", {"type": "color-background"}),
            ]))


def kpi_panel(title: str, unit: str, figures_sql: str, targets_sql: str) -> timeseries.Panel:
    """A time series per company (query A) with the applicable targets as dashed lines
    (query B: one flat series per target; aspirational ones orange, binding ones red)."""
    return (timeseries.Panel().title(title).datasource(CLICKHOUSE).unit(GRAFANA_UNITS[unit])
            .with_target(ClickHouseQuery(figures_sql).time_series().ref_id("A"))
            .with_target(ClickHouseQuery(targets_sql).time_series().ref_id("B"))
            .span_nulls(True).show_points(VisibilityMode.AUTO)
            .thresholds(dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE)
                        .steps([Threshold(None, GREEN)]))
            .thresholds_style(GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.OFF))
            .override_by_regexp("^target", _target_line(RED))
            .override_by_regexp("^aspirational target", _target_line(ORANGE)))


def _target_line(colour: str) -> list[DynamicConfigValue]:
    return [DynamicConfigValue("color", {"mode": "fixed", "fixedColor": colour}),
            DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
            DynamicConfigValue("custom.lineWidth", 2),
            DynamicConfigValue("custom.showPoints", "never")]
