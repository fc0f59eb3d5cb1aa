"""The Prometheus rules generated from the catalog, unit-tested with the real `promtool`.

promtool (Debian package `prometheus`, installed by .ci/run) evaluates the committed rules
file on synthetic series. Without it the tests skip with the reason, unless CI is set:
then its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dashboards.prometheus_rules import rules_document

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "rules" / "courierwatch.rules.yml"
PROMTOOL = shutil.which("promtool")


def promtool() -> str:
    if PROMTOOL:
        return PROMTOOL
    if os.environ.get("CI"):
        pytest.fail("promtool is missing under CI: .ci/run installs the Debian package "
                    "prometheus")
    pytest.skip("promtool not installed (apt-get install prometheus); CI requires it")


def test_committed_rules_file_is_current() -> None:
    """deploy/prometheus/rules/courierwatch.rules.yml is what the generator prints from
    the catalog today (run `make rules` after changing the catalog or the alert rules)."""
    assert RULES.read_text("utf-8") == rules_document()


def test_rules_file_passes_promtool_check() -> None:
    """promtool parses every recording and alerting rule (PromQL and templates valid)."""
    out = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


def _series(city: str, company: str, kpi: str, num: str, den: str) -> list[dict[str, str]]:
    labels = f'city="{city}",company="{company}",kpi="{kpi}"'
    return [{"series": f"courierwatch_kpi_numerator_total{{{labels}}}", "values": num},
            {"series": f"courierwatch_kpi_denominator_total{{{labels}}}", "values": den}]


def _expected(policy: str, rule: str, city: str, company: str, kpi: str) -> dict[str, Any]:
    """The alert as the rules file defines it, with its templates expanded by hand."""
    doc = yaml.safe_load(RULES.read_text("utf-8"))
    (r,) = [r for g in doc["groups"] for r in g["rules"]
            if r.get("labels", {}).get("policy_id") == policy and r["labels"]["rule"] == rule]
    ann = dict(r["annotations"])
    ann["summary"] = ann["summary"].replace("{{ $labels.city }}", city).replace(
        "{{ $labels.company }}", company)
    return {"exp_labels": {"city": city, "company": company, "kpi": kpi, **r["labels"]},
            "exp_annotations": ann}


def test_promtool_unit_tests(tmp_path: Path) -> None:
    """On Prometheus's own evaluation: 5 % of ZTO's Taizhou parcels delayed for two hours
    fires both burn rules of the YRD delay target (2 per 1000; 5 % is 25x); the healthy
    0.3 % (1.5x) fires nothing; a cell of 40 parcels an hour with one delay fires nothing
    (minimum sample); x-ray at 70 % in Wuhan (30 % misses: 10x the 3 % read into its 100 %
    target) fires the slow rule of Wuhan's target only (past 6x, short of 14.4x)."""
    tests = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [
        {"interval": "1m",
         "input_series": _series("331000", "ZTO", "delay_rate", "0+5x130", "0+100x130"),
         "alert_rule_test": [{"eval_time": "70m", "alertname": "CourierwatchTargetBreach",
                              "exp_alerts": [
                                  _expected("yrd-2020-delay-rate", "fast", "331000", "ZTO",
                                            "delay_rate"),
                                  _expected("yrd-2020-delay-rate", "slow", "331000", "ZTO",
                                            "delay_rate")]}]},
        {"interval": "1m",
         "input_series": _series("331000", "ZTO", "delay_rate", "0+0.3x400", "0+100x400"),
         "alert_rule_test": [{"eval_time": t, "alertname": "CourierwatchTargetBreach",
                              "exp_alerts": []} for t in ("70m", "6h")]},
        {"interval": "1m",
         "input_series": _series("371500", "EMS", "delay_rate", "0x30 1x90",
                                 "0+0.67x120"),
         "alert_rule_test": [{"eval_time": "70m", "alertname": "CourierwatchTargetBreach",
                              "exp_alerts": []}]},
        {"interval": "1m",
         "input_series": _series("420100", "YTO", "xray_rate", "0+70x130", "0+100x130"),
         "alert_rule_test": [{"eval_time": "70m", "alertname": "CourierwatchTargetBreach",
                              "exp_alerts": [
                                  _expected("wuhan-2025-xray", "slow", "420100", "YTO",
                                            "xray_rate")]}]},
    ]}
    path = tmp_path / "tests.yml"
    path.write_text(yaml.safe_dump(tests, allow_unicode=True), "utf-8")
    out = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
