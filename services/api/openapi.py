"""The OpenAPI 3 description of the HTTP API, served at GET /openapi.json.

Every `/api/...` path the worker serves is listed in PATHS (tests/integration/
test_openapi.py fails when a served path is missing or the document is not valid
OpenAPI 3.0). A module that adds an endpoint adds its entry here.
"""

from __future__ import annotations

from typing import Any

from courierwatch.kpi import KPI_NAMES


def _param(name: str, description: str, required: bool = False,
           schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def _json(description: str, ref: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": ref}}}}


def _ok(description: str, ref: str) -> dict[str, Any]:
    return {"200": _json(description, ref),
            "400": _json("bad query parameter", "#/components/schemas/Error")}


CITY = _param("city", "6-digit GB/T 2260 code, a Chinese or English name, or YRD")
COMPANY = _param("company", "brand code (SF, ZTO, ...); /api/series takes a comma list")
FROM = _param("from", "start of event time, inclusive, ISO 8601 (CST unless an offset is "
              "given)", schema={"type": "string", "format": "date-time"})
TO = _param("to", "end of event time, exclusive, ISO 8601",
            schema={"type": "string", "format": "date-time"})
BY = _param("by", "period: hour or day", schema={"type": "string", "enum": ["hour", "day"]})

PATHS: dict[str, dict[str, Any]] = {
    "/api/kpi": {"get": {
        "summary": "KPIs per city x company x period with every applicable target",
        "parameters": [CITY, COMPANY, FROM, TO, BY],
        "responses": _ok("rows as `courierwatch kpi --format json`",
                         "#/components/schemas/KpiRows")}},
    "/api/series": {"get": {
        "summary": "Time series of one city's KPIs per company, with their targets",
        "parameters": [
            {**CITY, "required": True}, COMPANY,
            _param("kpi", "comma list of KPI names (default all): " + ", ".join(KPI_NAMES)
                   + ", on_time_rate.<route class>"), FROM, TO, BY],
        "responses": _ok("series and target lines", "#/components/schemas/Series")}},
    "/api/board": {"get": {
        "summary": "The breach board: each city x company x KPI over the window, judged "
                   "against every applicable target (with its quote), and per city the "
                   "companies breaching",
        "parameters": [CITY, COMPANY, FROM, TO],
        "responses": _ok("board cells", "#/components/schemas/Board")}},
    "/api/policies": {"get": {
        "summary": "The policy catalog (optionally only the targets covering one city)",
        "parameters": [CITY],
        "responses": _ok("catalog entries", "#/components/schemas/Policies")}},
    "/api/restatements": {"get": {
        "summary": "Changes to already-published figures, newest first",
        "parameters": [CITY, COMPANY, FROM, TO],
        "responses": _ok("restatements", "#/components/schemas/Rows")}},
    "/api/conflicts": {"get": {
        "summary": "Every version of every event id re-sent with other contents, the "
                   "counting one marked (for auditors)",
        "responses": {"200": _json("versions: event_id, content_hash, counts, ts, city, "
                                   "company, type, parcel_id, topic, partition, offset",
                                   "#/components/schemas/Rows")}}},
    "/api/dead-letters": {"get": {
        "summary": "Dead letters, newest first: reason, source position, redacted copy and "
                   "SHA-256 of the bytes (never the bytes), within the caller's scope by the "
                   "city the copy names",
        "parameters": [CITY, COMPANY,
                       _param("from", "received at or after, ISO 8601",
                              schema={"type": "string", "format": "date-time"}),
                       _param("to", "received before, ISO 8601",
                              schema={"type": "string", "format": "date-time"}),
                       _param("reason", "one reason: not_json, schema, type_fields, "
                              "future_ts, pii, oversized, undecodable_batch, ...")],
        "responses": _ok("dead letters: received_at, stage, reason, detail, redacted, "
                         "raw_sha256, raw_bytes, topic, partition, offset, msg_index, city, "
                         "company", "#/components/schemas/Rows")}},
    "/api/status": {"get": {
        "summary": "Ingest counters and the event-time watermark",
        "responses": {"200": {"description": "counters", "content": {"application/json": {
            "schema": {"type": "object", "properties": {
                "archived": {"type": "integer"}, "late": {"type": "integer"},
                "dead_lettered": {"type": "integer"},
                "watermark_ms": {"type": "integer"},
                "publisher": {"type": "boolean"},
                "published_until_ms": {
                    "type": "integer", "description": "every hour ending at or before this "
                    "has been published by this worker since it started publishing (0: "
                    "nothing yet)"}}}}}}}}},
    "/api/alerts": {"get": {
        "summary": "Alerts on breaches of the plans' targets (firing and resolved)",
        "parameters": [CITY, COMPANY,
                       _param("active", "1 for firing alerts only",
                              schema={"type": "string", "enum": ["0", "1", "true", "false"]})],
        "responses": _ok("alerts as `courierwatch alerts list --format json`",
                         "#/components/schemas/Rows")}},
    "/api/grafana-alerts": {"post": {
        "summary": "Receiver of Grafana's webhook contact point (national scope): logged "
                   "and counted",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["alerts"], "properties": {
                "alerts": {"type": "array", "items": {"type": "object"}}}}}}},
        "responses": {"200": {"description": "how many alerts were received", "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "received": {"type": "integer"}}}}}},
            "400": {"description": "not a Grafana webhook message"},
            "403": {"description": "not the national scope"}}}},
    "/api/audit": {"get": {
        "summary": "The hash-chained audit log (replays, imports, catalog changes, "
                   "provisioning, token changes)",
        "responses": {"200": {"description": "records in seq order", "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "records": {"type": "array", "items": {"type": "object"}}}}}}}}}},
    "/api/replay": {"get": {
        "summary": "Replay a period in the worker that owns the store (national scope): "
                   "the files of `courierwatch replay` under <data dir>/replays/<name>/",
        "parameters": [CITY, COMPANY, _param("from", "start (inclusive)", required=True),
                       _param("to", "end (exclusive)", required=True),
                       _param("by", "hour or day"),
                       _param("name", "folder name under <data dir>/replays/",
                              required=True)],
        "responses": {"200": {"description": "the replay's summary", "content": {
            "application/json": {"schema": {"type": "object"}}}}}}},
    "/api/probe": {"get": {
        "summary": "Benchmark latency markers: which marker cells are counted yet",
        "parameters": [{**CITY, "required": True},
                       _param("prefix", "company prefix of the markers", required=True)],
        "responses": _ok("cells", "#/components/schemas/Cells")}},
}

_NUM = {"type": "number"}
_NULLABLE_NUM = {"type": "number", "nullable": True}
SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "properties": {"error": {"type": "string"}},
              "required": ["error"]},
    "Threshold": {"type": "object", "properties": {
        "policy_id": {"type": "string"}, "comparator": {"type": "string"},
        "threshold": _NUM, "unit": {"type": "string"}, "scope": {"type": "string"},
        "source": {"type": "string"},
        "status": {"type": "string", "enum": ["pass", "breach", "no_data", "too_few"]},
        "strength": {"type": "string", "enum": ["binding", "aspirational"]},
        "companies": {"type": "array", "items": {"type": "string"}, "nullable": True}}},
    "KpiRow": {"type": "object", "properties": {
        "city": {"type": "string"}, "city_name": {"type": "string"},
        "company": {"type": "string"}, "period_start": {"type": "string"},
        "kpi": {"type": "string"}, "numerator": _NUM, "denominator": _NUM,
        "value": _NULLABLE_NUM, "unit": {"type": "string"},
        "counted_at": {"type": "string",
                       "enum": ["event", "origin+destination", "filed", "accepted"],
                       "description": "which city's cell the figure counts its units in "
                                      "(docs/semantics.md, 'Which city a figure counts in')"},
        "status": {"type": "string",
                   "enum": ["pass", "breach", "no_target", "no_data", "too_few"]},
        "breach_strength": {"type": "string", "nullable": True,
                            "enum": ["binding", "aspirational", None]},
        "thresholds": {"type": "array", "items": {"$ref": "#/components/schemas/Threshold"}}}},
    "KpiRows": {"type": "object", "properties": {
        "rows": {"type": "array", "items": {"$ref": "#/components/schemas/KpiRow"}},
        "min_sample": {"type": "integer"}}},
    "Rows": {"type": "object", "properties": {
        "rows": {"type": "array", "items": {"type": "object"}}}},
    "Cells": {"type": "object", "properties": {
        "cells": {"type": "object", "additionalProperties": {"type": "integer"}}}},
    "Policies": {"type": "object", "properties": {
        "policies": {"type": "array", "items": {"type": "object"}}}},
    "Board": {"type": "object", "properties": {
        "from": {"type": "string", "nullable": True}, "to": {"type": "string", "nullable": True},
        "min_sample": {"type": "integer"},
        "kpis": {"type": "array", "items": {"type": "object"}},
        "cities": {"type": "array", "items": {"type": "object", "properties": {
            "city": {"type": "string"}, "city_name": {"type": "string"},
            "breaching": {"type": "array", "items": {"type": "string"}},
            "aspirational": {"type": "array", "items": {"type": "string"}}}}},
        "cells": {"type": "array", "items": {"type": "object", "properties": {
            "city": {"type": "string"}, "company": {"type": "string"},
            "kpi": {"type": "string"}, "value": _NULLABLE_NUM, "unit": {"type": "string"},
            "text": {"type": "string"}, "numerator": _NUM, "denominator": _NUM,
            "denominator_name": {"type": "string"},
            "status": {"type": "string", "enum": ["pass", "breach", "no_target", "no_data",
                                                   "too_few", "invalid"]},
            "thresholds": {"type": "array", "items": {"type": "object"}}}}}}},
    "Series": {"type": "object", "properties": {
        "city": {"type": "string"}, "city_name": {"type": "string"},
        "by": {"type": "string"}, "min_sample": {"type": "integer"},
        "series": {"type": "array", "items": {"type": "object", "properties": {
            "kpi": {"type": "string"}, "unit": {"type": "string"},
            "company": {"type": "string"}, "window_h": {"type": "integer"},
            "points": {"type": "array", "items": {"type": "object", "properties": {
                "t": {"type": "string"}, "value": _NULLABLE_NUM, "numerator": _NUM,
                "denominator": _NUM, "status": {"type": "string"},
                "invalid": {"type": "boolean"}}}}}}},
        "targets": {"type": "array", "items": {"type": "object", "properties": {
            "kpi": {"type": "string"}, "policy_id": {"type": "string"},
            "comparator": {"type": "string"}, "threshold": _NUM,
            "unit": {"type": "string"}, "source": {"type": "string"},
            "strength": {"type": "string", "enum": ["binding", "aspirational"]},
            "companies": {"type": "array", "items": {"type": "string"},
                          "nullable": True}}}}}},
}


def spec() -> dict[str, Any]:
    return {"openapi": "3.0.3",
            "info": {"title": "courierwatch API", "version": "1",
                     "description": "Express-delivery service KPIs against the targets of "
                                    "the municipal and regional plans (快递服务质量监测)."},
            "paths": PATHS, "components": {"schemas": SCHEMAS}}
