"""`courierwatch tokens add|ensure|list|revoke` and `courierwatch access clickhouse-sql`.

Token changes are written to the audit log (services.audit.log) by `record_token_change`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from cli.row_policies import AccessError, add_access_parser
from courierwatch.scope import ScopeError, parse_scope
from runtime.settings import Settings, load_settings, named_variable
from services.access.tokens import TokenError, TokenRecord, TokenStore
from services.audit import log as audit_log

__all__ = ["AccessError", "access_parser", "tokens_parser"]

access_parser = add_access_parser


def record_token_change(settings: Settings, action: str, record: TokenRecord) -> None:
    """Append the token change to the hash-chained audit log (services.audit.log): action
    `tokens.add` or `tokens.revoke`, the name and scope, and the token's SHA-256 (which
    ties the record to the stored entry); never the token itself."""
    audit_log.append(audit_log.current_actor(), f"tokens.{action}",
                     {"name": record.name, "scope": record.scope},
                     {"token_sha256": record.sha256, "created_at": record.created_at},
                     settings=settings)


def tokens_add(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        scope = parse_scope(args.scope)
        record, token = TokenStore(settings.data_dir).add(args.name, scope)
    except (ScopeError, TokenError) as exc:
        raise AccessError(str(exc)) from exc
    record_token_change(settings, "add", record)
    if args.format == "json":
        sys.stdout.write(orjson.dumps({"name": record.name, "scope": record.scope,
                                       "token": token}).decode() + "\n")
    else:
        console = Console()
        console.print(f"token [bold]{record.name}[/] for scope [bold]{record.scope}[/] "
                      "(shown once, only its SHA-256 is kept):")
        console.print(token, soft_wrap=True, highlight=False)
        console.print("clients send: Authorization: Bearer TOKEN (CLI: COURIERWATCH_TOKEN)")
    return 0


def tokens_ensure(args: argparse.Namespace) -> int:
    """Store the hash of the token in the environment variable `--from-env` under `--name`,
    unless it is there already (deploy/: each worker runs this before it starts, so the
    operator's one secret both lets the API bind beyond loopback and is what Prometheus and
    the health check send). The token never appears on a command line or in the output."""
    settings = load_settings()
    token = named_variable(args.from_env).strip()
    if not token:
        raise AccessError(f"{args.from_env} is not set or empty: set it to the token "
                          "(e.g. `openssl rand -base64 32`)")
    try:
        added, replaced = TokenStore(settings.data_dir).ensure(
            args.name, parse_scope(args.scope), token)
    except (ScopeError, TokenError) as exc:
        raise AccessError(str(exc)) from exc
    if replaced is not None:
        record_token_change(settings, "revoke", replaced)
    if added is not None:
        record_token_change(settings, "add", added)
    state = "stored" if replaced is None else "replaced the previous token"
    Console(stderr=True).print(f"token {args.name} ({args.scope}) from {args.from_env}: "
                               + (state if added is not None else "already stored"))
    return 0


def tokens_list(args: argparse.Namespace) -> int:
    records = [r.public() for r in TokenStore(load_settings().data_dir).records()]
    if args.format == "json":
        sys.stdout.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    table = Table(title=f"API tokens ({len(records)})")
    for col in ("name", "scope", "created_at"):
        table.add_column(col)
    for r in records:
        table.add_row(r["name"], r["scope"], r["created_at"])
    Console().print(table)
    return 0


def tokens_revoke(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        record = TokenStore(settings.data_dir).revoke(args.name)
    except TokenError as exc:
        raise AccessError(str(exc)) from exc
    record_token_change(settings, "revoke", record)
    Console(stderr=True).print(f"revoked {record.name} ({record.scope}); requests with it "
                               "are refused from now on")
    return 0


def _name_and_scope(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True, help="a label: 1-64 letters, digits, . _ -")
    p.add_argument("--scope", required=True, help="national | province:33 or province:浙江 | "
                   "city:331000, city:台州 or 'city:Taizhou (Zhejiang)'[,city:...]")


def tokens_parser(sub: Any) -> None:
    """The `tokens` command (add, ensure, list, revoke)."""
    p = sub.add_parser("tokens", help="API tokens bound to a scope (who may see what)",
                       description="Tokens for the HTTP API, each bound to a scope: national, "
                       "province:NN (2-digit prefix: 32 Jiangsu, 33 Zhejiang) or city:NNNNNN"
                       "[,city:...]. Stored as SHA-256 hashes in <data dir>/tokens.json "
                       "(mode 0600); a token is shown once. See docs/access.md.")
    tsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = tsub.add_parser("add", help="create a token and print it once",
                        description="Create a token for a scope and print it (once).")
    _name_and_scope(a)
    a.add_argument("--format", choices=("text", "json"), default="text",
                   help='json prints {"name", "scope", "token"}')
    a.set_defaults(func=tokens_add)
    e = tsub.add_parser("ensure", help="store the hash of a token given in an environment "
                        "variable, unless it is there already (deployments)",
                        description="Store the SHA-256 of the token in the environment "
                        "variable VAR under NAME with SCOPE; nothing changes when NAME already "
                        "holds it, a different token under NAME replaces it. For containers "
                        "that bind the API beyond loopback (deploy/README.md).")
    _name_and_scope(e)
    e.add_argument("--from-env", required=True, metavar="VAR",
                   help="the environment variable holding the token (>= 43 characters)")
    e.set_defaults(func=tokens_ensure)
    ls = tsub.add_parser("list", help="names and scopes of the tokens (never the tokens)",
                         description="Names, scopes and creation times of the tokens.")
    ls.add_argument("--format", choices=("table", "json"), default="table")
    ls.set_defaults(func=tokens_list)
    r = tsub.add_parser("revoke", help="delete a token; its requests get 401 from now on",
                        description="Delete the token NAME; the API refuses it at once.")
    r.add_argument("name", metavar="NAME")
    r.set_defaults(func=tokens_revoke)
