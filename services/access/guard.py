"""The API's access layer: one aiohttp middleware in front of every route of the worker.

For every request except the public ones (PUBLIC_PATHS: the dashboard page, which holds
no figures and asks for a token), in this order:

1. size: a query string longer than MAX_QUERY_BYTES is refused (414);
2. who: `Authorization: Bearer TOKEN` is looked up in the token store (services.access.tokens);
   without a header, the caller is the local user (national scope) only in local mode:
   the server listens on loopback, no token exists, and the request was not forwarded by a
   proxy (`Forwarded` / `X-Forwarded-For`: a proxy on the same host would otherwise turn
   every remote caller into a local one). Otherwise 401;
3. rate: a token bucket per token (or per client address for a refused caller) (429);
4. what: the standard filter parameters (`city`, `company`, `from`, `to`, `by`) are parsed
   against the caller's scope (services.access.request_filter): 400 for a bad value, 403 for a
   city the scope does not cover, decided before any query;
5. the scope and the filter are put on the request (`request_scope`, `request_filter`) for
   the handler, whose reads (warehouse.queries) cannot be built without them.

A handler that forgets the filter cannot fall back to "everything": `request_scope` raises
when the middleware did not run, and the data layer has no default scope.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import Metric

from courierwatch.scope import Scope
from runtime.settings import Settings
from services.access.ratelimit import RateLimiter
from services.access.request_filter import BadRequest, OutsideScope, parse_filter
from services.access.tokens import TokenStore
from warehouse.queries import CellFilter

MAX_QUERY_BYTES = 2048
PUBLIC_PATHS = {"/": "the dashboard page: static HTML without figures, asks for a token",
                "/favicon.ico": "an icon",
                "/openapi.json": "the API's description: paths and parameters, no figures"}
PUBLIC_PREFIXES = ("/static/",)  # the dashboard's own scripts and styles, no figures
_SCOPE = "courierwatch.scope"
_FILTER = "courierwatch.filter"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class BindRefused(RuntimeError):
    """The server would listen beyond loopback with no token to require."""


def check_bind(settings: Settings) -> None:
    """Refuse to serve on a non-loopback address while no token exists (issue 14, 3)."""
    if not is_loopback(settings.api_host) and not TokenStore(settings.data_dir).any():
        raise BindRefused(
            f"refusing to listen on {settings.api_host}: no API token exists, so every "
            "caller would be refused, or, worse, trusted. Create one first: courierwatch "
            "tokens add --name NAME --scope national (or province:NN, city:NNNNNN), or "
            "listen on 127.0.0.1 (COURIERWATCH_API_HOST) for the local single-user mode.")


def request_scope(request: web.Request) -> Scope:
    """The caller's scope, as resolved by the middleware (KeyError if it did not run)."""
    scope = request[_SCOPE]
    assert isinstance(scope, Scope)
    return scope


def request_filter(request: web.Request) -> CellFilter:
    """The request's city/company/time filter within the caller's scope."""
    flt = request[_FILTER]
    assert isinstance(flt, CellFilter)
    return flt


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def access_middleware(settings: Settings, store: TokenStore | None = None,
                      clock: Callable[[], float] = time.monotonic) -> Any:
    tokens = store or TokenStore(settings.data_dir)
    limiter = RateLimiter(settings.api_rate_per_s, settings.api_burst, clock)
    loopback = is_loopback(settings.api_host)

    def limited(caller: str) -> web.Response | None:
        wait_s = limiter.allow(caller)
        if wait_s:
            return _error(429, "too many requests", **{"Retry-After": str(int(wait_s) + 1)})
        return None

    def unauthorized(request: web.Request, message: str) -> web.Response:
        return limited(f"addr:{request.remote}") or _error(
            401, message, **{"WWW-Authenticate": 'Bearer realm="courierwatch"'})

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
            return await handler(request)
        if len(request.query_string) > MAX_QUERY_BYTES:
            return _error(414, f"query string longer than {MAX_QUERY_BYTES} bytes")
        header = request.headers.get("Authorization", "")
        if header:
            kind, _, token = header.partition(" ")
            record = tokens.lookup(token.strip()) if kind.lower() == "bearer" else None
            if record is None:
                return unauthorized(request, "unknown or revoked token")
            scope, caller = record.parsed_scope, f"token:{record.name}"
        elif (loopback and not tokens.any() and "Forwarded" not in request.headers
              and "X-Forwarded-For" not in request.headers):
            scope, caller = Scope.national(), f"local:{request.remote}"
        else:
            return unauthorized(request, "an API token is required: Authorization: Bearer "
                                "TOKEN (courierwatch tokens add)")
        refused = limited(caller)
        if refused:
            return refused
        try:
            request[_FILTER] = parse_filter(request.query, scope)
        except BadRequest as exc:
            return _error(400, str(exc))
        except OutsideScope:
            return _error(403, "the requested city is outside this token's scope")
        request[_SCOPE] = scope
        return await handler(request)

    return middleware


class ScopedRegistry:
    """The default Prometheus registry with every per-city sample removed, for callers
    below the national scope (issue 14: per-city labels only behind national or loopback)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            samples = [s for s in metric.samples if "city" not in s.labels]
            if samples or not metric.samples:
                metric.samples = samples
                yield metric
