"""The built-in dashboard's files, served from the package (never from a CDN: these
machines and many regulators' networks have no internet).

Only the files listed here are served, each at a fixed path; nothing maps a request path
to the file system. uPlot 1.6.32 (MIT, services/api/static/vendor/uplot/LICENSE) comes from
the npm registry (`npm pack uplot`), dist/uPlot.iife.min.js and dist/uPlot.min.css.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import faust

ASSETS: dict[str, tuple[str, str]] = {
    "/static/dashboard.js": ("static/dashboard.js", "application/javascript"),
    "/static/dashboard.css": ("static/dashboard.css", "text/css"),
    "/static/uplot.min.js": ("static/vendor/uplot/uPlot.iife.min.js", "application/javascript"),
    "/static/uplot.min.css": ("static/vendor/uplot/uPlot.min.css", "text/css"),
    "/static/uplot.LICENSE.txt": ("static/vendor/uplot/LICENSE", "text/plain"),
}


def read_asset(name: str) -> bytes:
    return resources.files("services.api").joinpath(name).read_bytes()


def register_assets(app: faust.App) -> None:
    for path, (name, content_type) in ASSETS.items():
        body = read_asset(name)

        async def serve(web: Any, request: Any, body: bytes = body,
                        content_type: str = content_type) -> Any:
            return web.bytes(body, content_type=content_type,
                             headers={"Cache-Control": "no-cache",
                                      "X-Content-Type-Options": "nosniff"})

        app.page(path, name=f"asset{path.replace('/', '_').replace('.', '_')}")(serve)
