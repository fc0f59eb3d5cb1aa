"""Expand the ClickHouse data source's macros and dashboard variables as Grafana would, so
that tests can run panel SQL against chDB. Only what the dashboards use; anything left
with a `$` afterwards is an unknown macro or variable and fails the test."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

CLICKHOUSE = "grafana-clickhouse-datasource"


def expand(sql: str, variables: Mapping[str, list[str]], start_s: int, end_s: int) -> str:
    """Variables: `${v:singlequote}` -> 'a','b'; `${v}` / `$v` -> the first value. Macros:
    $__timeFilter(col), $__fromTime, $__toTime, $__interval_s (the plugin's 4.x forms)."""
    out = re.sub(r"\$__timeFilter\(([^()]+)\)",
                 lambda m: f"{m[1]} >= toDateTime({start_s}) AND {m[1]} <= toDateTime({end_s})",
                 sql)
    out = out.replace("$__fromTime", f"toDateTime({start_s})")
    out = out.replace("$__toTime", f"toDateTime({end_s})").replace("$__interval_s", "3600")
    for name, values in variables.items():
        out = out.replace(f"${{{name}:singlequote}}", ",".join(f"'{v}'" for v in values))
        out = out.replace(f"${{{name}}}", values[0])
        out = re.sub(rf"\${name}\b", values[0], out)
    if "$" in out:
        raise AssertionError(f"unexpanded macro or variable in: {out[out.index('$') - 40:][:120]}")
    return out


def clickhouse_queries(model: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, rawSql) of every ClickHouse query of a dashboard: panels, annotations and
    variables."""
    for panel in model.get("panels", []):
        for target in panel.get("targets", []):
            if target.get("datasource", {}).get("type") == CLICKHOUSE:
                yield f"{model['uid']} / {panel.get('title')} / {target['refId']}", \
                    target["rawSql"]
    for note in model.get("annotations", {}).get("list", []):
        target = note.get("target") or {}
        if target.get("datasource", {}).get("type") == CLICKHOUSE:
            yield f"{model['uid']} / annotation {note['name']}", target["rawSql"]
    for var in model.get("templating", {}).get("list", []):
        if var.get("datasource", {}).get("type") == CLICKHOUSE:
            yield f"{model['uid']} / variable {var['name']}", str(var["query"])
