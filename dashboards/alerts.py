"""Alerts: Grafana's firing rules, the Prometheus alert timeline, and the breach history.

The timeline reads Prometheus' own `ALERTS` series (every firing rule of the rules that
deploy/ generates from the catalog); the history lists every published hour whose figure
breached a target (from kpi_published, judged against the catalog inlined in the SQL), so
it needs no alert table and agrees with `courierwatch kpi` on published periods.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus, statetimeline

from courierwatch.catalog import Catalog
from dashboards.common import FOLDER_UID, base, city_variable, company_variable, status_table
from dashboards.sources import DATABASE, PROMETHEUS
from dashboards.sql import MIN_JUDGED_DENOMINATOR, city_name, passes, targets_table

ALERTS_UID = "courierwatch-alerts"


def history_sql(catalog: Catalog) -> str:
    return f"""SELECT p.period_start AS hour, {city_name('p.city')} AS city_name,
  p.company AS company, p.kpi AS kpi, p.value AS value, p.denominator AS denominator,
  concat(t.comparator, ' ', toString(t.threshold)) AS target,
  if(t.strength = 'aspirational', 'aspirational breach', 'breach') AS status,
  t.policy_id AS policy_id
FROM (SELECT * FROM {DATABASE}.kpi_published FINAL
      WHERE period = 'hour' AND $__timeFilter(period_start)
        AND city IN (${{city:singlequote}}) AND company IN (${{company:singlequote}}, '*')
        AND value IS NOT NULL AND denominator >= {MIN_JUDGED_DENOMINATOR}) AS p
INNER JOIN ({targets_table(catalog)}) AS t ON t.figure = p.kpi
WHERE arrayExists(c -> if(endsWith(c, '*'), startsWith(p.city, substring(c, 1, length(c) - 1)),
                          c = p.city), t.cities)
  AND t.effective <= toDate(p.period_start)
  AND (empty(t.companies) AND p.company = '*' OR has(t.companies, p.company))
  AND NOT {passes('p.value', 't.comparator', 't.threshold')}
ORDER BY hour DESC, city_name, company, kpi LIMIT 500"""


def alerts(catalog: Catalog) -> dashboard.Dashboard:
    firing = (dashboard.Panel().type("alertlist").title("Firing now 正在告警")
              .options({"stateFilter": {"firing": True, "pending": True},
                        "folderUid": FOLDER_UID, "maxItems": 50, "sortOrder": 3,
                        "viewMode": "list", "groupMode": "default"})
              .height(8).span(8))
    timeline = (statetimeline.Panel().title("Alert timeline 告警时间线").datasource(PROMETHEUS)
                .with_target(prometheus.Dataquery()
                             .expr('max by (alertname, city, company) '
                                   '(ALERTS{alertstate="firing", city=~"${city:regex}"})')
                             .legend_format("{{city}} {{company}} {{alertname}}"))
                .height(8).span(16))
    return (base(ALERTS_UID, "courierwatch · Alerts 告警",
                 "What fires now, when it fired, and every published hour that breached.")
            .with_variable(city_variable(multi=True)).with_variable(company_variable())
            .with_panel(firing).with_panel(timeline)
            .with_panel(status_table("Breach history (published hours) 违规历史",
                                     history_sql(catalog)).height(14).span(24)))
