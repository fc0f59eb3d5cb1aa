"""The README's demo command (`make demo DURATION=60`), for real: embedded broker, chDB, the
worker and its alert runner, the generator with both incidents, for 60 seconds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.conftest import Cli

pytestmark = pytest.mark.integration


def test_demo_shows_the_taizhou_alert_and_the_wuhan_breach_in_80_columns(
        tmp_path: Path) -> None:
    """After 60 s in an 80-column terminal the final report: pages on ZTO's delays in 台州
    Taizhou (written for a person: ‰ with at most two decimals, vs ≤2‰, since HH:MM CST);
    lists YTO's X-ray breach in 武汉 Wuhan against wuhan-2025-xray and no breach of any
    other company in Wuhan's X-ray; every healthy seed city passes X-ray on all companies
    except Wuhan (whose all-companies share holds YTO's lapse); no line is wider than 80
    cells; times are CST only."""
    cli = Cli(tmp_path / "cw", COLUMNS="80", LINES="50")
    out = cli.run("demo", "--duration", "60", timeout=600).stdout
    lines = out.splitlines()
    assert max(cell_len(line) for line in lines) <= 80, max(lines, key=cell_len)

    active = re.search(r"Active alerts \((\d+)\)", out)
    assert active and int(active.group(1)) >= 1, out[-3000:]
    alert = out[active.end():]
    assert re.search(r"✗ page\s*│\s*台州 Taizhou", alert), alert
    flat = re.sub(r"\s*│\s*", " ", alert)  # the alert cell folds over lines
    assert "ZTO" in flat and "延误率" in flat and "delays" in flat
    value = re.search(r"(\d+(?:\.\d+)?)‰ vs ≤2‰", flat)
    assert value and float(value.group(1)) > 2 and not re.search(r"\.\d{3}", value.group(1))
    assert re.search(r"\d\d:\d\d CST \(\d+ (h|min)", flat), flat

    breaches = [line for line in lines if line.startswith("✗ ")]
    wuhan = [line for line in breaches if line.startswith("✗ 武汉 Wuhan")]
    assert len(wuhan) == 1 and "· YTO · 过机安检率" in wuhan[0], breaches
    assert "(wuhan-2025-xray)" in out
    assert any(line.startswith("✗ 台州 Taizhou (Zhejiang) · ZTO · 延误率") for line in breaches)

    xray = [line for line in lines if line.startswith("│ x-ray")]
    assert len(xray) == 2  # two tables of three cities at 80 columns
    assert xray[0].count("100.0%") == 3  # 常州 台州 聊城 pass
    assert "✗" in xray[1].split("│")[2]  # 武汉 (all companies) holds YTO's lapse
    assert "data up to" in out and "CST" in out and "UTC" not in out
