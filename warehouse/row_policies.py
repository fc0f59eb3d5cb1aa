"""At scale: the same scopes enforced inside a ClickHouse server (docs/access.md).

Per scope: a role, SELECT granted on each table that holds a `city` column (and on nothing
else: dead letters and internal tables stay unreadable), a row policy per table
`USING <the scope's condition on city>`, and a read-only user holding the role, for the
Grafana data source of that scope's organisation. chDB has no users, so none of this
applies in the embedded mode, where the API is the boundary.

DDL cannot take query parameters, so the scope's values are written as literals; they are
safe because a Scope only ever holds codes that matched `[1-9][0-9]` or `[1-9][0-9]{5}`
(courierwatch.scope.parse_scope), which `_literal` checks again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from courierwatch.cities import YRD_REGION
from courierwatch.scope import Scope

_CODE = re.compile(r"[0-9]{2}|[0-9]{6}")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Engines that store no rows of their own (a view reads its source, itself under a policy).
VIEW_ENGINES = ("View", "MaterializedView", "Null", "LiveView", "WindowView")


def _literal(code: str) -> str:
    if not _CODE.fullmatch(code):
        raise ValueError(f"not a province or city code: {code!r}")
    return f"'{code}'"


def _ident(name: str) -> str:
    if not _IDENT.fullmatch(name):
        raise ValueError(f"not an identifier: {name!r}")
    return name


def scope_slug(scope: Scope) -> str:
    """A stable identifier for the scope: `national`, `p33`, `c331000`, `p32_c331000`;
    long ones end in a digest so names stay under 64 characters."""
    if scope.is_national:
        return "national"
    provinces, cities = scope.sql_values()
    slug = "_".join([f"p{p}" for p in provinces] + [f"c{c}" for c in cities])
    if len(slug) > 40:
        slug = slug[:24] + "_" + hashlib.sha256(slug.encode()).hexdigest()[:12]
    return slug


def policy_condition(scope: Scope, column: str = "city") -> str:
    """The row policy's USING expression: same meaning as Scope.sql_condition, as literals."""
    col = _ident(column)
    if scope.is_national:
        return "1"
    provinces, cities = scope.sql_values()
    conds = []
    if provinces:
        conds.append(f"substring({col}, 1, 2) IN ({', '.join(map(_literal, provinces))})")
    if cities:
        conds.append(f"{col} IN ({', '.join(map(_literal, cities))})")
    if scope.covers(YRD_REGION):  # stored region rows (published figures, alerts)
        conds.append(f"{col} = '{YRD_REGION}'")
    return " OR ".join(conds)


@dataclass(frozen=True, slots=True)
class ScopeAccess:
    scope: Scope
    role: str
    user: str


def scope_access(scope: Scope) -> ScopeAccess:
    slug = scope_slug(scope)
    return ScopeAccess(scope, f"courierwatch_{slug}", f"courierwatch_reader_{slug}")


def access_statements(scope: Scope, database: str, city_tables: Sequence[str],
                      password_sha256: str) -> list[str]:
    """The DDL for one scope, one statement per string, idempotent (IF NOT EXISTS / OR
    REPLACE): role, grants, a permissive row policy per table, and the user.

    A user with this role sees in each table exactly the rows the policy admits. ClickHouse
    ORs permissive policies that apply to a user, so a reader must hold one scope role only
    (the user created here holds exactly one)."""
    a = scope_access(scope)
    db = _ident(database)
    if not re.fullmatch(r"[0-9a-f]{64}", password_sha256):
        raise ValueError("password_sha256 must be 64 lowercase hex digits")
    out = [f"CREATE ROLE IF NOT EXISTS {a.role}"]
    for t in sorted(city_tables):
        table = f"{db}.{_ident(t)}"
        out.append(f"GRANT SELECT ON {table} TO {a.role}")
        out.append(f"CREATE ROW POLICY OR REPLACE {a.role}_{t} ON {table} FOR SELECT "
                   f"USING {policy_condition(scope)} TO {a.role}")
    out.append(f"CREATE USER IF NOT EXISTS {a.user} IDENTIFIED WITH sha256_hash BY "
               f"'{password_sha256}' SETTINGS readonly = 1")
    out.append(f"GRANT {a.role} TO {a.user}")
    out.append(f"ALTER USER {a.user} DEFAULT ROLE {a.role}")
    return out


def password_statement(scope: Scope, password_sha256: str) -> str:
    """Set the reader's password (when its new value goes straight into Grafana)."""
    if not re.fullmatch(r"[0-9a-f]{64}", password_sha256):
        raise ValueError("password_sha256 must be 64 lowercase hex digits")
    return (f"ALTER USER {scope_access(scope).user} IDENTIFIED WITH sha256_hash BY "
            f"'{password_sha256}'")


CITY_TABLES_SQL = """SELECT c.table FROM system.columns AS c
    INNER JOIN system.tables AS t ON t.database = c.database AND t.name = c.table
    WHERE c.database = {db:String} AND c.name = 'city' AND t.engine NOT IN {views:Array(String)}
    ORDER BY c.table"""
