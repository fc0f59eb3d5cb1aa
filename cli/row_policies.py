"""`courierwatch access clickhouse-sql`: roles, row policies and readers per scope for a
ClickHouse server (warehouse.row_policies), printed or applied.

The tables come from the server itself (every table of the database with a `city` column),
or, with `--print` and no `--dsn`, from the project's schema migrated into a throwaway
embedded engine. Each reader's password is generated here and printed once (stderr); the
SQL holds only its SHA-256.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
import tempfile
from typing import Any

from rich.console import Console
from rich.table import Table

from courierwatch.scope import Scope, ScopeError, parse_scope
from runtime.settings import load_settings
from services.access.tokens import TokenStore
from warehouse.row_policies import (
    CITY_TABLES_SQL,
    VIEW_ENGINES,
    access_statements,
    password_statement,
    scope_access,
)


class AccessError(Exception):
    """An access command that cannot be done; printed, exit status 2."""


def _scopes(args: argparse.Namespace) -> list[Scope]:
    try:
        given = [parse_scope(s) for s in args.scope or []]
    except ScopeError as exc:
        raise AccessError(str(exc)) from exc
    if not given or args.from_tokens:
        given += [r.parsed_scope for r in TokenStore(load_settings().data_dir).records()]
    if not given:
        raise AccessError("no scope: pass --scope (repeatable) or create tokens first")
    return sorted(set(given), key=str)


def _city_tables(client: Any, database: str) -> list[str]:
    rows = client.query(CITY_TABLES_SQL, parameters={"db": database,
                                                     "views": list(VIEW_ENGINES)}).result_rows
    return [str(r[0]) for r in rows]


def _schema_tables(database: str) -> list[str]:
    """The city tables of the project's own schema, migrated into a temporary chDB."""
    from warehouse.client import Warehouse

    with tempfile.TemporaryDirectory(prefix="courierwatch-schema-") as tmp:
        wh = Warehouse(f"chdb://{tmp}/clickhouse", database)
        try:
            return _city_tables(wh.client, database)
        finally:
            wh.close()


def _grafana(args: argparse.Namespace, scopes: list[Scope], passwords: dict[str, str],
             database: str, err: Console) -> None:
    """Per scope: its Grafana organisation and data source, as its reader (no password
    is printed: each goes from ClickHouse straight into Grafana's secure storage)."""
    from services.grafana.scopes import api_factory, provision_scope_org

    credential = args.grafana_credential or load_settings().grafana_token
    api_for = api_factory(args.grafana_url, credential)
    table = Table(title="Grafana organisations per scope")
    for col in ("scope", "organisation id", "organisation", "data source"):
        table.add_column(col)
    for scope in scopes:
        user = scope_access(scope).user
        org = provision_scope_org(api_for, scope, user, passwords[user], args.dsn, database)
        table.add_row(org.scope, str(org.org_id), "created" if org.created else "existing",
                      org.datasource)
    err.print(table)


def clickhouse_sql(args: argparse.Namespace) -> int:
    database = args.database or load_settings().database
    scopes = _scopes(args)
    client = None
    if args.dsn:
        from warehouse.client import connect

        client = connect(args.dsn)
        tables = _city_tables(client, database)
        existing = {str(r[0]) for r in client.query("SELECT name FROM system.users").result_rows}
    else:
        tables, existing = _schema_tables(database), set()
    grafana = bool(args.grafana_url)
    if grafana and (client is None or args.print):
        raise AccessError("--grafana-url needs --dsn (and no --print): each reader's new "
                          "password goes from ClickHouse straight into its data source")
    passwords: dict[str, str] = {}
    statements: list[str] = []
    for scope in scopes:
        user = scope_access(scope).user
        password = secrets.token_urlsafe(24)
        digest = hashlib.sha256(password.encode()).hexdigest()
        if user not in existing or grafana:
            passwords[user] = password
        statements += access_statements(scope, database, tables, digest)
        if grafana:
            statements.append(password_statement(scope, digest))
    if args.print or client is None:
        sys.stdout.write("".join(s + ";\n" for s in statements))
    else:
        for s in statements:
            client.command(s)
    err = Console(stderr=True)
    if grafana:
        _grafana(args, scopes, passwords, database, err)
        return 0
    if passwords:
        table = Table(title="ClickHouse readers created (passwords shown once)")
        for col in ("scope", "user", "password"):
            table.add_column(col)
        for scope in scopes:
            user = scope_access(scope).user
            if user in passwords:
                table.add_row(str(scope), user, passwords[user])
        err.print(table)
    err.print(f"{len(statements)} statements for {len(scopes)} scopes on {len(tables)} "
              f"tables of {database}" + ("" if args.print or client is None else ": applied"))
    return 0


def add_access_parser(sub: Any) -> None:
    p = sub.add_parser("access", help="enforce the scopes in a ClickHouse server (at scale)",
                       description="Generate, print or apply the ClickHouse roles, row "
                       "policies and read-only users that enforce each scope inside a "
                       "ClickHouse server (one reader per scope, for that scope's Grafana "
                       "data source). See docs/access.md.")
    asub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = asub.add_parser("clickhouse-sql", help="CREATE ROLE / ROW POLICY / USER per scope",
                        description="Per scope: a role, SELECT on each table with a city "
                        "column, a row policy USING the scope's cities, a read-only user. "
                        "Without --scope: every scope of the tokens.")
    c.add_argument("--scope", action="append", help="national | province:NN | "
                   "city:NNNNNN[,...] (repeatable)")
    c.add_argument("--from-tokens", action="store_true",
                   help="add the scopes of every token of the data directory")
    c.add_argument("--dsn", help="ClickHouse server, http(s)://admin:password@host:8123; "
                   "without it the SQL is printed for the project's own schema")
    c.add_argument("--database", help="default COURIERWATCH_DATABASE")
    c.add_argument("--print", action="store_true", help="print the SQL, do not apply it")
    c.add_argument("--grafana-url", help="also give each scope a Grafana organisation whose "
                   "ClickHouse data source logs in as the scope's reader (needs --dsn)")
    c.add_argument("--grafana-credential",
                   help="Grafana server-admin token or user:password (default "
                   "$COURIERWATCH_GRAFANA_TOKEN)")
    c.set_defaults(func=clickhouse_sql)
