"""Render every dashboard to JSON: `python -m dashboards.build [--check]`.

The JSON in dashboards/json/ and deploy/grafana/provisioning/alerting/ is generated from
this code and committed (file-based provisioning in deploy/grafana/ points at it);
`--check` exits 1 when it is stale, and tests/unit/test_dashboards.py fails the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from courierwatch.catalog import Catalog, load_catalog
from dashboards.alert_rules import file_provisioning
from dashboards.alerts import alerts
from dashboards.city import city
from dashboards.common import FOLDER_TITLE
from dashboards.green import green_security
from dashboards.pipeline import pipeline
from dashboards.regional import league, overview

JSON_DIR = Path(__file__).resolve().parent / "json"
ALERTING_FILE = (Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "provisioning"
                 / "alerting" / "courierwatch.json")
DASHBOARDS: tuple[Callable[[Catalog], Dashboard], ...] = (
    overview, city, league, green_security, alerts, pipeline)


def render(catalog: Catalog) -> dict[str, dict[str, Any]]:
    """uid -> the dashboard's JSON model (plain dicts, as Grafana's API takes it)."""
    out: dict[str, dict[str, Any]] = {}
    for make in DASHBOARDS:
        model = json.loads(json.dumps(make(catalog).build(), cls=JSONEncoder))
        out[model["uid"]] = model
    return out


def to_text(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dashboards.build",
                                description="Write dashboards/json/<uid>.json from the code.")
    p.add_argument("--check", action="store_true", help="exit 1 if the committed JSON is stale")
    args = p.parse_args(argv)
    stale = []
    catalog = load_catalog()
    files = {JSON_DIR / f"{uid}.json": to_text(m) for uid, m in render(catalog).items()}
    files[ALERTING_FILE] = to_text(file_provisioning(catalog, FOLDER_TITLE))
    for path, text in files.items():
        if path.exists() and path.read_text("utf-8") == text:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(text, "utf-8")
    if stale:
        print(("stale: " if args.check else "wrote: ") + ", ".join(stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
