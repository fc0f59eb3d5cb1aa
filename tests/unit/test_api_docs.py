"""The HTTP API's OpenAPI document and the dashboard series shaping."""

from __future__ import annotations

import faust
from openapi_spec_validator import validate

from courierwatch.catalog import load_catalog
from runtime.settings import load_settings
from services.api.openapi import spec
from services.api.series import series_payload
from services.worker import register_web


def served_paths() -> set[str]:
    """Every path the worker's web server registers (no request is served)."""
    app = faust.App("docs-test", broker="kafka://127.0.0.1:1", web_enabled=True,
                    autodiscover=False)
    register_web(app, load_settings({}), None)  # type: ignore[arg-type]  # no request served
    return set(app.web.views)


def test_openapi_document_is_valid_and_lists_every_served_api_path() -> None:
    """GET /openapi.json is a valid OpenAPI 3 document (openapi-spec-validator) and every
    /api/ path the worker registers is documented; nothing undocumented is served."""
    doc = spec()
    validate(doc)
    served = {p for p in served_paths() if p.startswith("/api/")}
    assert served, "no /api paths registered"
    assert served <= set(doc["paths"]), served - set(doc["paths"])
    assert set(doc["paths"]) <= served, set(doc["paths"]) - served


def _row(kpi: str, company: str, hour: int, num: float, den: float, status: str,
         thresholds: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {"city": "331000", "company": company, "kpi": kpi, "unit": "per_1000",
            "period_start": f"2026-11-02T{hour:02d}:00:00+08:00", "numerator": num,
            "denominator": den, "value": num / den * 1000, "status": status,
            "thresholds": thresholds or []}


def test_series_payload_groups_by_kpi_and_company_in_time_order() -> None:
    """Rows in any order come back as one series per KPI x company, points sorted by
    time, '*' first; the company filter keeps '*'; each target appears once, with the
    strength the catalog gives its policy id."""
    catalog = load_catalog()
    target = next(t for t in catalog.targets if t.metric == "delay_rate")
    thr = {"policy_id": target.id, "comparator": target.comparator,
           "threshold": target.threshold, "unit": target.unit, "source": target.source}
    rows = [_row("delay_rate", "ZTO", 9, 3, 100, "breach", [thr]),
            _row("delay_rate", "*", 8, 1, 400, "pass", [thr]),
            _row("delay_rate", "ZTO", 8, 1, 100, "pass", [thr]),
            _row("delay_rate", "SF", 8, 0, 100, "pass", [thr]),
            _row("damage_rate", "*", 8, 0, 400, "no_target")]
    p = series_payload(rows, "331000", "hour", catalog, 50, kpis={"delay_rate"},
                       companies={"ZTO"})
    assert [(s["kpi"], s["company"]) for s in p["series"]] == [
        ("delay_rate", "*"), ("delay_rate", "ZTO")]
    zto = p["series"][1]["points"]
    assert [pt["t"][11:13] for pt in zto] == ["08", "09"]
    assert [pt["value"] for pt in zto] == [10.0, 30.0]
    strength = getattr(target, "strength", None) or "binding"
    assert p["targets"] == [{"kpi": "delay_rate", **thr, "strength": strength,
                             "companies": None if target.companies is None
                             else list(target.companies)}]
    assert p["city_name"].startswith("台州")
