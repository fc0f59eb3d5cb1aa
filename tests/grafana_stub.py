"""A stand-in Grafana HTTP API (no Grafana can run here): a real http.server on loopback
that keeps folders, data sources, dashboards, contact points and alert rules by uid and
records every request. It answers as Grafana 11 documents: 404 for an unknown uid, 409 for
a create of an existing uid, 412 for a dashboard save without overwrite of an existing uid."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

KINDS = {"folders": r"/api/folders", "datasources": r"/api/datasources",
         "contactpoints": r"/api/v1/provisioning/contact-points",
         "alertrules": r"/api/v1/provisioning/alert-rules"}


class GrafanaStub:
    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {k: {} for k in (*KINDS, "dashboards")}
        self.requests: list[tuple[str, str, Any, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                url = urlparse(self.path)
                stub.requests.append((method, url.path, body, dict(self.headers)))
                if self.headers.get("Authorization") != "Bearer test-token":
                    return self._reply(401, {"message": "Unauthorized"})
                status, answer = stub.route(method, url.path, parse_qs(url.query), body)
                self._reply(status, answer)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GrafanaStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(self, method: str, path: str, query: dict[str, list[str]],
              body: Any) -> tuple[int, Any]:
        if path == "/api/dashboards/db" and method == "POST":
            uid = body["dashboard"]["uid"]
            if uid in self.store["dashboards"] and not body.get("overwrite"):
                return 412, {"message": "version-mismatch"}
            self.store["dashboards"][uid] = body
            return 200, {"uid": uid, "status": "success"}
        for kind, prefix in KINDS.items():
            m = re.fullmatch(prefix + r"(?:/uid)?(?:/([^/]+))?", path)
            if not m:
                continue
            objs, uid = self.store[kind], m.group(1)
            if method == "GET" and uid is None:
                items = list(objs.values())
                if "name" in query:
                    items = [o for o in items if o.get("name") == query["name"][0]]
                return 200, items
            if method == "GET":
                return (200, objs[uid]) if uid in objs else (404, {"message": "not found"})
            if method == "POST":
                if body["uid"] in objs:
                    return 409, {"message": "already exists"}
                objs[body["uid"]] = body
                return 200, body
            if method == "PUT":
                if uid not in objs:
                    return 404, {"message": "not found"}
                update = {k: v for k, v in body.items() if k != "overwrite"}  # a flag, not state
                objs[uid] = {**objs[uid], **update}
                return 200, objs[uid]
        return 404, {"message": f"no route {method} {path}"}
