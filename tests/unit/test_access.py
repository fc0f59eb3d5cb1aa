"""The access layer without a server: the required scope of the query layer, the token
store, request validation, the rate limiter, the route registry and /metrics filtering."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import faust
import pytest
from prometheus_client import CollectorRegistry, Gauge, generate_latest

import services
import warehouse
from courierwatch.scope import Scope, parse_scope
from runtime.settings import load_settings
from services.access.guard import BindRefused, ScopedRegistry, check_bind
from services.access.ratelimit import RateLimiter
from services.access.request_filter import BadRequest, parse_filter
from services.access.tokens import TokenError, TokenStore
from warehouse.client import Warehouse
from warehouse.queries import CellFilter, OutsideScope, where_clause

CST = timezone(timedelta(hours=8))
TAIZHOU = parse_scope("city:331000")
NATIONAL = Scope.national()


def _source(fn: Any) -> str:
    try:
        return inspect.getsource(fn)
    except OSError:  # generated (dataclass __init__ and the like): no query in it
        return ""


def _reading_functions() -> list[tuple[str, Any]]:
    """Every function and method of the warehouse and services packages that runs a query
    (`.query(` in its source): the reads. warehouse.client is the query primitive itself."""
    found = []
    for package in (warehouse, services):
        for mod_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{mod_info.name}")
            if module.__name__ == "warehouse.client":
                continue
            members = [(n, f) for n, f in inspect.getmembers(module, inspect.isfunction)]
            for cname, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__:
                    members += [(f"{cname}.{n}", f) for n, f in vars(cls).items()
                                if inspect.isfunction(f)]
            for name, fn in members:
                if fn.__module__ == module.__name__ and ".query(" in _source(fn):
                    found.append((f"{module.__name__}.{name}", fn))
    return found


def _unscoped(reads: list[tuple[str, Any]]) -> list[str]:
    """Names of the reads that take no required CellFilter/Scope and are not system reads."""
    bad = []
    for name, fn in reads:
        if getattr(fn, "__system_read__", "").strip():
            continue
        hints = inspect.get_annotations(fn, eval_str=True)
        params = inspect.signature(fn).parameters
        scoped = [p for p, h in hints.items() if h in (CellFilter, Scope) and p in params]
        if not scoped or any(params[p].default is not inspect.Parameter.empty for p in scoped):
            bad.append(name)
    return bad


def test_every_query_function_requires_a_scope() -> None:
    """Snuba's required tenant filter: each read of the warehouse takes a CellFilter (whose
    scope is required) or a Scope, as a parameter without a default, or is marked as a
    system read (never served to a caller) with its reason."""
    reads = _reading_functions()
    assert {"warehouse.queries.cell_counts", "warehouse.queries.restatements",
            "warehouse.queries.on_time_counts"} <= {n for n, _ in reads}
    assert _unscoped(reads) == []


def test_the_scope_check_catches_an_unscoped_read() -> None:
    """The check itself: a read without a scope, or with a defaulted one, is reported."""

    def leaky(wh: Warehouse) -> object:
        return wh.query("SELECT * FROM cell_counts")

    def defaulted(wh: Warehouse, scope: Scope = NATIONAL) -> object:
        return wh.query("SELECT 1")

    def fine(wh: Warehouse, flt: CellFilter) -> object:
        return wh.query("SELECT 1")

    reads = [("leaky", leaky), ("defaulted", defaulted), ("fine", fine)]
    assert _unscoped(reads) == ["leaky", "defaulted"]


def test_a_filter_cannot_be_built_without_a_scope() -> None:
    """No default scope: omitting it or passing None fails before any SQL exists."""
    with pytest.raises(TypeError):
        CellFilter(city="331000")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        CellFilter(scope=None)  # type: ignore[arg-type]


def test_a_filter_for_a_city_outside_its_scope_cannot_be_built() -> None:
    """The data layer refuses on its own, whatever the HTTP layer did."""
    with pytest.raises(OutsideScope):
        CellFilter(city="420100", scope=TAIZHOU)
    with pytest.raises(OutsideScope):
        CellFilter(city="YRD", scope=parse_scope("province:33"))


def test_where_clause_always_starts_with_the_scope_condition() -> None:
    """Every WHERE built from a filter carries the scope; the values are parameters."""
    params: dict[str, object] = {}
    flt = CellFilter(company="SF", scope=TAIZHOU)
    where = where_clause(flt, "ts", params, city_col="d_city")
    assert where.startswith("(d_city IN {scope_cities:Array(String)})")
    assert "331000" not in where and params["scope_cities"] == ["331000"]


def test_tokens_are_stored_only_as_hashes_in_an_owner_only_file(tmp_path: Path) -> None:
    """`add` returns a 256-bit token once; the file (0600) holds its SHA-256, not the token;
    lookup finds it; revoke makes lookup fail."""
    store = TokenStore(tmp_path)
    record, token = store.add("taizhou", TAIZHOU)
    assert len(token) >= 43  # token_urlsafe(32): 32 bytes -> 43 base64url characters
    raw = store.path.read_text()
    assert token not in raw and record.sha256 in raw
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    fresh = TokenStore(tmp_path)  # another process's view
    assert fresh.lookup(token) == record and fresh.lookup(token + "x") is None
    assert fresh.lookup(token).parsed_scope == TAIZHOU  # type: ignore[union-attr]
    store.revoke("taizhou")
    assert fresh.lookup(token) is None and not fresh.any()


def test_token_names_are_unique_and_checked(tmp_path: Path) -> None:
    """A second token of the same name, a bad name or revoking a missing name is an error."""
    store = TokenStore(tmp_path)
    store.add("wuhan", parse_scope("city:420100"))
    for bad in ("wuhan", "", "a b", "x" * 65, "../etc"):
        with pytest.raises(TokenError):
            store.add(bad, Scope.national())
    with pytest.raises(TokenError):
        store.revoke("nobody")
    assert [r.name for r in store.records()] == ["wuhan"]


def test_ensure_stores_a_given_token_once_and_replaces_it_on_rotation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`tokens ensure --from-env VAR` (deploy/: every worker start) stores the hash of the
    variable's token, never the token; a second run changes nothing and audits nothing; a
    new token under the same name replaces the old one (revoke + add in the audit log);
    a short, missing or already-used token is refused."""
    from cli.main import main
    from services.audit import log as audit_log

    monkeypatch.setenv("COURIERWATCH_DATA_DIR", str(tmp_path))
    token = "t" * 43
    monkeypatch.setenv("OPS", token)
    argv = ["tokens", "ensure", "--name", "ops", "--scope", "national", "--from-env", "OPS"]
    assert main(argv) == 0 and main(argv) == 0
    store = TokenStore(tmp_path)
    assert token not in store.path.read_text()
    assert [r.name for r in store.records()] == ["ops"] and store.lookup(token) is not None
    journal = audit_log.journal_path(tmp_path)
    assert [r.action for r in audit_log.read_journal(journal).records] == ["tokens.add"]
    monkeypatch.setenv("OPS", "u" * 44)
    assert main(argv) == 0
    assert store.lookup(token) is None and store.lookup("u" * 44).name == "ops"  # type: ignore[union-attr]
    assert [r.action for r in audit_log.read_journal(journal).records] == [
        "tokens.add", "tokens.revoke", "tokens.add"]
    for bad in ("short", "x" * 42, "a b" * 20, ""):
        monkeypatch.setenv("OPS", bad)
        assert main(argv) == 2
    with pytest.raises(TokenError, match="another name"):
        store.ensure("other", NATIONAL, "u" * 44)
    assert [r.name for r in store.records()] == ["ops"]


def test_two_tokens_differ() -> None:
    """Tokens are random: 50 of them are pairwise distinct."""
    import secrets

    assert len({secrets.token_urlsafe(32) for _ in range(50)}) == 50


@pytest.mark.parametrize(("query", "message"), [
    pytest.param({"city": "331000' OR 1=1 --"}, "city", id="city-injection"),
    pytest.param({"city": "٣٣١٠٠٠"}, "city", id="city-non-ascii-digits"),
    pytest.param({"city": "x" * 65}, "city", id="city-too-long"),
    pytest.param({"company": "s f"}, "company", id="company-space"),
    pytest.param({"company": "SF' UNION SELECT 1"}, "company", id="company-injection"),
    pytest.param({"from": "2026-11-02'); DROP TABLE x"}, "from", id="from-injection"),
    pytest.param({"to": "yesterday"}, "to", id="to-not-iso"),
    pytest.param({"from": "1970-01-01"}, "from", id="from-year-1970"),
    pytest.param({"from": "2026-11-03", "to": "2026-11-02"}, "after", id="to-before-from"),
    pytest.param({"from": "2024-01-01", "to": "2026-01-01"}, "days", id="range-too-long"),
    pytest.param({"by": "fortnight"}, "by", id="by-fortnight"),
    pytest.param({"by": "range"}, "by", id="by-range-without-from-to"),
])
def test_hostile_or_malformed_values_are_refused(query: dict[str, str], message: str) -> None:
    """Every filter value is checked for its exact shape before a query exists."""
    with pytest.raises(BadRequest, match=message):
        parse_filter(query, Scope.national())


def test_a_valid_request_becomes_a_scoped_filter() -> None:
    """Names resolve to codes, naive times are CST, the scope is the caller's."""
    flt = parse_filter({"city": "台州", "company": "ZTO", "from": "2026-11-02",
                        "to": "2026-11-03T00:00+08:00", "by": "hour"}, TAIZHOU)
    assert (flt.city, flt.company, flt.by, flt.scope) == ("331000", "ZTO", "hour", TAIZHOU)
    assert flt.start == datetime(2026, 11, 2, tzinfo=CST)
    with pytest.raises(OutsideScope):
        parse_filter({"city": "武汉"}, TAIZHOU)


def test_rate_limiter_allows_the_burst_then_the_rate() -> None:
    """burst requests at once, then one per 1/rate seconds; callers are independent."""
    now = [0.0]
    rl = RateLimiter(rate_per_s=2.0, burst=3, clock=lambda: now[0])
    assert [rl.allow("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rl.allow("a") == pytest.approx(0.5)
    assert rl.allow("b") == 0.0
    now[0] = 0.5
    assert rl.allow("a") == 0.0 and rl.allow("a") > 0


def test_rate_limiter_table_is_bounded() -> None:
    """With max_callers reached, new callers still get a bucket; the table stays bounded."""
    now = [0.0]
    rl = RateLimiter(rate_per_s=1.0, burst=1, clock=lambda: now[0], max_callers=10)
    for i in range(100):
        assert rl.allow(f"c{i}") == 0.0
    assert len(rl._buckets) <= 10


def test_serve_refuses_a_public_address_without_tokens(tmp_path: Path) -> None:
    """0.0.0.0 without any token is refused; with a token it is allowed; loopback always."""
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path),
                              "COURIERWATCH_API_HOST": "0.0.0.0"})
    with pytest.raises(BindRefused, match="tokens add"):
        check_bind(settings)
    check_bind(settings.with_(api_host="127.0.0.1"))
    TokenStore(tmp_path).add("ops", Scope.national())
    check_bind(settings)


def test_every_api_route_is_scoped_or_listed_scope_free(tmp_path: Path) -> None:
    """Enumerate the routes the worker serves: each /api route reads through the caller's
    scope (SCOPED_ROUTES) or is listed in SCOPE_FREE_ROUTES with a reason; the access
    middleware is installed in front of all of them."""
    from services.access.guard import PUBLIC_PATHS, PUBLIC_PREFIXES
    from services.api.views import SCOPE_FREE_ROUTES, SCOPED_ROUTES
    from services.worker import register_web

    app = faust.App("routes-test", broker="kafka://127.0.0.1:1", web_enabled=True,
                    autodiscover=False)
    settings = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path)})
    register_web(app, settings, None)  # type: ignore[arg-type]
    web_app = app.web.web_app  # type: ignore[attr-defined]
    paths = {r.resource.canonical for r in web_app.router.routes() if r.resource}
    api = {p for p in paths if p.startswith("/api")}
    assert api, "no /api routes found"
    assert api <= SCOPED_ROUTES | set(SCOPE_FREE_ROUTES), api - SCOPED_ROUTES
    assert not SCOPED_ROUTES & set(SCOPE_FREE_ROUTES)
    assert all(reason.strip() for reason in SCOPE_FREE_ROUTES.values())
    others = {p for p in paths - api if not p.startswith(PUBLIC_PREFIXES)}
    assert others <= set(PUBLIC_PATHS) | {"/metrics"}
    assert any(getattr(m, "__qualname__", "").startswith("access_middleware")
               for m in web_app.middlewares)


def test_metrics_below_national_drop_every_per_city_sample() -> None:
    """A non-national caller gets the exposition without any sample labelled by city."""
    registry = CollectorRegistry()
    g = Gauge("cw_test_city_value", "per city", ["city"], registry=registry)
    g.labels(city="331000").set(1)
    Gauge("cw_test_total", "no city", registry=registry).set(5)
    text = generate_latest(ScopedRegistry(registry)).decode()  # type: ignore[arg-type]
    assert "cw_test_total 5.0" in text and "331000" not in text
    assert 'city="331000"' in generate_latest(registry).decode()


def test_company_codes_are_read_in_any_case_and_star_is_all_companies() -> None:
    """Issue 23: `zto` is ZTO (codes are case-insensitive), `*` the all-company rows."""
    assert parse_filter({"company": "zto"}, Scope.national()).company == "ZTO"
    assert parse_filter({"company": "*"}, Scope.national()).company == "*"
