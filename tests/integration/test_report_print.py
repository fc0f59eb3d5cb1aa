"""report.html prints on A4 with the verdict changes first (issue 23, item 7): headless
Chromium prints it to PDF and the PDF's pages are A4 (595 x 842 pt), not US Letter
(612 x 792). The differences are judged by courierwatch.verdicts against the real
catalog: 台州's YRD delay-rate target (≤ 2‰) passes at 10/10,000 (1‰) and breaches at
30/10,000 (3‰), a hand-computed change of verdict.

Seen failing: without `@page{size:A4}` Chromium prints Letter (612 x 792); without
the verdict section the 'pass → breach' text is missing.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from courierwatch.catalog import load_catalog
from courierwatch.verdicts import judged, verdict_changed
from services.audit.report_html import render_report
from tests.unit.test_report_html import _manifest, _row

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"


def _difference(published: tuple[float, float], replayed: tuple[float, float]) -> dict:
    catalog, cell = load_catalog(), ("331000", "ZTO", "2026-11-02 00:00:00", "delay_rate")
    before = judged(catalog, *cell, *published, 50)
    after = judged(catalog, *cell, *replayed, 50)
    return {"city": cell[0], "city_name": "台州 Taizhou (Zhejiang)", "company": cell[1],
            "period_start": "2026-11-02T00:00:00+08:00", "kpi": cell[3],
            "published": {"numerator": published[0], "denominator": published[1]},
            "replayed": {"numerator": replayed[0], "denominator": replayed[1]},
            "published_judged": before, "replayed_judged": after,
            "targets": after["targets"],
            "verdict_changed": verdict_changed(before["status"], after["status"]),
            "causes": [{"cause": "late_data", "count": 20, "detail": "20 late arrivals"}]}


def test_verdicts_are_judged_against_the_catalog() -> None:
    d = _difference((10, 10_000), (30, 10_000))
    assert d["published_judged"]["status"] == "pass"
    assert d["replayed_judged"]["status"] == "breach"
    assert d["verdict_changed"]
    assert d["published_judged"]["shown"] == "1.00‰" and d["replayed_judged"]["shown"] == "3.00‰"
    assert not _difference((10, 10_000), (12, 10_000))["verdict_changed"]


def test_the_report_prints_on_a4_with_verdict_changes_first(tmp_path: Path) -> None:
    diffs = {"from_live": [], "from_published": [_difference((10, 10_000), (30, 10_000)),
                                                 _difference((10, 10_000), (12, 10_000))]}
    rows = [_row("SF", 0.6, "pass") for _ in range(400)]  # several pages
    page = render_report(rows, _manifest(), diffs)
    first = page.index("Verdict changes")
    assert first < page.index("What was replayed") < page.index("Judged figures")
    section = page[first:page.index("What was replayed")]
    assert "3.00‰ breach" in section and "1.00‰ pass" in section and "(30 / 10000)" in section
    assert "≤2‰" in section  # the target beside the rates
    html = tmp_path / "report.html"
    html.write_text(page, encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.as_uri()],
                   capture_output=True, timeout=180, check=True)
    data = pdf.read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert len(boxes) >= 2, "expected a report of several pages"
    for w, h in boxes:
        assert abs(float(w) - 595) < 1.5 and abs(float(h) - 842) < 1.5, (w, h)
