"""Data sources of every dashboard and the query builders the SDK lacks.

The SDK ships Prometheus queries but no builder for the ClickHouse data source
(`grafana-clickhouse-datasource`, plugin 4.x): `ClickHouseQuery` is one, in the SDK's
style (a cog Builder producing a Dataquery whose `to_json` is the plugin's query model).
Both data sources have fixed uids so that dashboards, provisioning files and alert rules
refer to the same objects in every Grafana.
"""

from __future__ import annotations

from typing import Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

CLICKHOUSE_TYPE = "grafana-clickhouse-datasource"
CLICKHOUSE_UID = "courierwatch-clickhouse"
PROMETHEUS_TYPE = "prometheus"
PROMETHEUS_UID = "courierwatch-prometheus"
DATABASE = "courierwatch"  # the data source's defaultDatabase; SQL names it explicitly too

CLICKHOUSE = DataSourceRef(type_val=CLICKHOUSE_TYPE, uid=CLICKHOUSE_UID)
PROMETHEUS = DataSourceRef(type_val=PROMETHEUS_TYPE, uid=PROMETHEUS_UID)

# The plugin's `format` enum (4.x): how the result frame is shaped.
FORMAT_TIMESERIES, FORMAT_TABLE = 0, 1


class ClickHouseDataquery(cogvariants.Dataquery):
    """The query model of grafana-clickhouse-datasource 4.x in SQL-editor mode."""

    def __init__(self) -> None:
        self.ref_id = "A"
        self.raw_sql = ""
        self.format = FORMAT_TABLE
        self.query_type = "table"
        self.hide = False

    def to_json(self) -> dict[str, object]:
        return {"datasource": CLICKHOUSE.to_json(), "editorType": "sql",
                "format": self.format, "queryType": self.query_type,
                "rawSql": self.raw_sql, "refId": self.ref_id, "hide": self.hide}


class ClickHouseQuery(cogbuilder.Builder[ClickHouseDataquery]):
    """`ClickHouseQuery(sql).time_series()`: a SQL query for the ClickHouse data source.

    The SQL may use the plugin's macros ($__timeFilter(col), $__fromTime, $__toTime,
    $__interval_s) and dashboard variables (${city}, ${company:singlequote}, ...); the
    dashboards test expands both and runs every query against chDB with the real schema.
    """

    def __init__(self, sql: str) -> None:
        self._internal = ClickHouseDataquery()
        self._internal.raw_sql = sql.strip()

    def build(self) -> ClickHouseDataquery:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def time_series(self) -> Self:
        self._internal.format, self._internal.query_type = FORMAT_TIMESERIES, "timeseries"
        return self

    def table(self) -> Self:
        self._internal.format, self._internal.query_type = FORMAT_TABLE, "table"
        return self
