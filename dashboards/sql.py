"""ClickHouse SQL shared by the dashboards and the Grafana alert rules.

Figures are computed in ClickHouse from the same stores the KPI report reads
(warehouse/schema.py): the count KPIs from `cell_counts` (live, every hour as it fills) by
merging the uniqExact states named in `courierwatch.figures.COUNT_KPIS`, the join KPIs
(`on_time_rate`, `on_time_rate.<route class>`, `promise_kept_rate`) from `kpi_published`
(hours once published, i.e. after the grace period). Ratios are sums of numerators over
sums of denominators, never averages of ratios (DESIGN.md, KPI definitions).

The policy targets are inlined from the catalog as a `values()` table, so that Grafana
needs no table of ours for them and a dashboard always carries the catalog it was built
from; the JSON test fails when the catalog changes and the JSON was not regenerated.
"""

from __future__ import annotations

from collections.abc import Sequence

from courierwatch.catalog import Catalog, PolicyTarget
from courierwatch.cities import CITIES, SEED_CITIES
from courierwatch.judgement import DEFAULT_MIN_SAMPLE
from courierwatch.kpi import COUNT_KPIS, KPI_BY_NAME, TAPE_MM_SUM
from dashboards.sources import DATABASE

# A rate whose denominator is below this is shown but not judged ("too few to judge"): the
# default of COURIERWATCH_MIN_SAMPLE (a deployment that changes it regenerates the JSON).
MIN_JUDGED_DENOMINATOR = DEFAULT_MIN_SAMPLE
# Count KPIs of cell_counts; tape_mm_mean needs tape_cells and has its own panel.
CELL_KPIS = tuple(k.name for k in COUNT_KPIS if TAPE_MM_SUM not in (k.numerator, k.denominator))


def quote(text: str) -> str:
    """A ClickHouse string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def strength_of(t: PolicyTarget) -> str:
    """'binding' or 'aspirational' (力争/基本 in the sentence, courierwatch.catalog)."""
    return t.strength


def figure_name(t: PolicyTarget) -> str:
    """The KPI row a target judges: `on_time_rate.yrd_24h` for a route-class target."""
    return f"{t.metric}.{t.route_class}" if t.route_class else t.metric


def targets_table(catalog: Catalog, metric: str | None = None) -> str:
    """Every event-measurable target (of one metric, when given) as an inline table:
    policy_id, figure, cities, comparator, threshold, strength, effective, companies."""
    rows = []
    for t in catalog.targets:
        if t.measurable_by != "events" or metric not in (None, t.metric):
            continue
        cities = "[" + ", ".join(quote(c) for c in t.cities) + "]"
        companies = "[" + ", ".join(quote(c) for c in t.companies or ()) + "]"
        rows.append(f"({quote(t.id)}, {quote(figure_name(t))}, {cities}, "
                    f"{quote(t.comparator)}, {t.threshold!r}, {quote(strength_of(t))}, "
                    f"{quote(t.effective.isoformat())}, {companies})")
    names = ("policy_id", "figure", "cities", "comparator", "threshold", "strength")
    columns = ", ".join(f"r.{i} AS {n}" for i, n in enumerate(names, 1))
    # companies: [] = every company (judged on the all-companies row too); a list = only
    # those companies' own cells, never the all-companies row (courierwatch.catalog).
    return (f"SELECT {columns}, toDate(r.7) AS effective, r.8 AS companies "
            f"FROM (SELECT arrayJoin(CAST([{', '.join(rows)}], 'Array(Tuple(String, String, "
            "Array(String), String, Float64, String, String, Array(String)))')) AS r)")


def city_matches(city_expr: str, cities: str = "cities") -> str:
    """True when the target's `cities` list covers the city (a code or an 'NN*' prefix)."""
    return (f"arrayExists(p -> if(endsWith(p, '*'), startsWith({city_expr}, "
            f"substring(p, 1, length(p) - 1)), p = {city_expr}), {cities})")


def passes(value: str, comparator: str = "comparator", threshold: str = "threshold") -> str:
    """`value comparator threshold` as a ClickHouse boolean."""
    return (f"multiIf({comparator} = '>=', {value} >= {threshold}, "
            f"{comparator} = '>', {value} > {threshold}, "
            f"{comparator} = '<=', {value} <= {threshold}, "
            f"{comparator} = '<', {value} < {threshold}, {value} = {threshold})")


def city_name(city_expr: str) -> str:
    """`台州 Taizhou (Zhejiang)` for a known code, the code otherwise."""
    codes = "[" + ", ".join(quote(c) for c in CITIES) + "]"
    labels = "[" + ", ".join(quote(c.label) for c in CITIES.values()) + "]"
    return f"transform({city_expr}, {codes}, {labels}, {city_expr})"


def cell_figures(group: Sequence[tuple[str, str]], where: str,
                 kpis: Sequence[str] = CELL_KPIS) -> str:
    """(group aliases..., kpi, numerator, denominator, value) from `cell_counts`.

    `group` holds (expression over cell_counts, alias) pairs, e.g. (("city", "city"),
    ("'*'", "company")); only the counts the chosen KPIs need are merged.
    """
    needed = sorted({c for k in kpis for c in (KPI_BY_NAME[k].numerator,
                                                KPI_BY_NAME[k].denominator) if c})
    select = ", ".join(f"{e} AS {a}" for e, a in group)
    aliases = ", ".join(a for _, a in group)
    merges = ", ".join(f"uniqExactMerge(`{c}`) AS `{c}`" for c in needed)
    pairs = []
    for k in kpis:
        num, den = KPI_BY_NAME[k].numerator, KPI_BY_NAME[k].denominator
        scale = 0.0 if KPI_BY_NAME[k].unit == "count" else KPI_BY_NAME[k].scale
        pairs.append(f"({quote(k)}, toFloat64(`{num}`), "
                     f"toFloat64({f'`{den}`' if den else '0'}), {scale!r})")
    non_constant = ", ".join(a for e, a in group if not e.startswith("'")) or "tuple()"
    return f"""SELECT {aliases}, k.1 AS kpi, k.2 AS numerator, k.3 AS denominator,
    if(k.4 = 0, k.2, if(k.3 = 0, NULL, k.2 / k.3 * k.4)) AS value
  FROM (SELECT {select}, {merges} FROM {DATABASE}.cell_counts
        WHERE {where} GROUP BY {non_constant})
  ARRAY JOIN [{', '.join(pairs)}] AS k"""


def published_figures(group: Sequence[tuple[str, str]], where: str) -> str:
    """The join KPIs (on time, per route class, promise kept) from published hours, summed
    over `group`; `where` may use city, company, kpi and period_start."""
    select = ", ".join(f"{e} AS {a}" for e, a in group)
    aliases = ", ".join(a for _, a in group)
    non_constant = ", ".join(a for e, a in group if not e.startswith("'"))
    return f"""SELECT {aliases}, kpi, n AS numerator, d AS denominator,
    if(d = 0, NULL, n / d) AS value
  FROM (SELECT {select}, kpi, sum(numerator) AS n, sum(denominator) AS d
  FROM {DATABASE}.kpi_published FINAL
  WHERE period = 'hour' AND city != 'YRD' AND company != '*'
    AND (kpi IN ('on_time_rate', 'promise_kept_rate') OR startsWith(kpi, 'on_time_rate.'))
    AND {where}
  GROUP BY {non_constant}{', ' if non_constant else ''}kpi)"""


def judged_figures(catalog: Catalog, city_filter: str, kpi_filter: str = "1") -> str:
    """Every figure (all companies) of the chosen cities over the dashboard's time range
    against each target that judges an all-companies row (no company scope), with a
    status: breach, aspirational breach, pass or too few to judge (denominator below
    MIN_JUDGED_DENOMINATOR). Seed cities first."""
    seeds = "[" + ", ".join(quote(c) for c in SEED_CITIES) + "]"
    return f"""WITH figures AS (
  {cell_figures((("city", "city"),), f"$__timeFilter(hour) AND {city_filter}")}
  UNION ALL
  {published_figures((("city", "city"),), f"$__timeFilter(period_start) AND {city_filter}")}
)
SELECT {city_name('f.city')} AS city_name, f.kpi AS kpi, f.value AS value,
  f.denominator AS denominator,
  concat(t.comparator, ' ', toString(t.threshold)) AS target, t.strength AS strength,
  multiIf(f.denominator < {MIN_JUDGED_DENOMINATOR}, 'too few to judge',
          {passes('f.value', 't.comparator', 't.threshold')}, 'pass',
          t.strength = 'aspirational', 'aspirational breach', 'breach') AS status,
  t.policy_id AS policy_id
FROM figures AS f INNER JOIN ({targets_table(catalog)}) AS t ON t.figure = f.kpi
WHERE {city_matches('f.city', 't.cities')} AND t.effective <= toDate($__toTime)
  AND empty(t.companies) AND f.value IS NOT NULL AND {kpi_filter}
ORDER BY indexOf({seeds}, f.city) = 0, indexOf({seeds}, f.city), f.city, f.kpi, policy_id"""


def company_series(figure: str, city: str = "'${city}'",
                   companies: str = "${company:singlequote}") -> str:
    """(time, company, value) per hour for one KPI in one city: each chosen company and
    '*' (all companies). `figure` is a count KPI, a join KPI or a SQL expression naming
    `on_time_rate.<class>` (quoted literal or expression)."""
    name = figure if figure.startswith(("'", "concat(")) else quote(figure)
    plain = figure.strip("'")
    if plain in CELL_KPIS:
        per = cell_figures((("hour", "time"), ("company", "company")),
                           f"city = {city} AND company IN ({companies}) AND $__timeFilter(hour)",
                           (plain,))
        total = cell_figures((("hour", "time"), ("'*'", "company")),
                             f"city = {city} AND $__timeFilter(hour)", (plain,))
    else:
        per = published_figures((("period_start", "time"), ("company", "company")),
                                f"city = {city} AND company IN ({companies}) "
                                "AND $__timeFilter(period_start)")
        total = published_figures((("period_start", "time"), ("'*'", "company")),
                                  f"city = {city} AND $__timeFilter(period_start)")
    return f"""SELECT time, company, value FROM (
  {per}
  UNION ALL
  {total}
) WHERE kpi = {name} ORDER BY time, company"""


def target_lines(catalog: Catalog, figure: str, city: str = "'${city}'") -> str:
    """One flat series per target that applies to the city and KPI, over the time range:
    named `target <comparator> <threshold> (<policy id>[; companies])`, or `aspirational
    target ...`; a company-scoped target names the companies it judges."""
    name = figure if figure.startswith(("'", "concat(")) else quote(figure)
    metric = "on_time_rate" if "on_time_rate" in figure else figure.strip("'")
    return f"""SELECT t AS time,
  concat(if(strength = 'aspirational', 'aspirational target ', 'target '), comparator, ' ',
         toString(threshold), ' (', policy_id,
         if(empty(companies), '', concat('; ', arrayStringConcat(companies, ' '))), ')')
    AS target,
  threshold AS value
FROM ({targets_table(catalog, metric)}) ARRAY JOIN [$__fromTime, $__toTime] AS t
WHERE figure = {name} AND {city_matches(city)} AND effective <= toDate($__toTime)
ORDER BY time, target"""
