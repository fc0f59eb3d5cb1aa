"""Run by test_row_policies in a child process (chDB opens one data path per process):
`python -m tests.integration.row_policy_probe DIR SCOPE...` prints, as JSON, for each scope

- `formatted`: every statement of `courierwatch access clickhouse-sql` for the project's
  schema, as chDB's own parser formats it (`formatQuery`; a syntax error raises);
- `policy_cities`: the cities the row policy's USING expression admits, evaluated by chDB
  over every known city code;
- `bound_cities`: the cities the API's bound-parameter condition (Scope.sql_condition)
  admits, evaluated the same way.
"""

from __future__ import annotations

import sys

import orjson

from courierwatch.cities import CITIES
from courierwatch.scope import parse_scope
from warehouse.client import Warehouse
from warehouse.row_policies import (
    CITY_TABLES_SQL,
    VIEW_ENGINES,
    access_statements,
    policy_condition,
)

DB = "courierwatch"


def main(path: str, scopes: list[str]) -> None:
    wh = Warehouse(f"chdb://{path}", DB)
    codes = sorted([*CITIES, "YRD"])  # the region rows too (published figures, alerts)
    source = f"(SELECT arrayJoin({orjson.dumps(codes).decode().replace(chr(34), chr(39))}) AS city)"
    tables = [r[0] for r in wh.query(CITY_TABLES_SQL, {"db": DB, "views": list(VIEW_ENGINES)})]
    out = {"tables": tables, "scopes": {}}
    for text in scopes:
        scope = parse_scope(text)
        stmts = access_statements(scope, DB, tables, "0" * 64)
        formatted = [wh.query("SELECT formatQuery({q:String})", {"q": s})[0][0] for s in stmts]
        policy = [r[0] for r in wh.query(
            f"SELECT city FROM {source} WHERE {policy_condition(scope)} ORDER BY city")]
        params: dict[str, object] = {}
        cond = scope.sql_condition("city", params)
        bound = [r[0] for r in wh.query(
            f"SELECT city FROM {source} WHERE {cond} ORDER BY city", params)]
        out["scopes"][text] = {"statements": stmts, "formatted": formatted,
                               "policy_cities": policy, "bound_cities": bound}
    wh.close()
    sys.stdout.write(orjson.dumps(out).decode())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
