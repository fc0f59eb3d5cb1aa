"""The README's catalog counts are generated from the catalog, not typed by hand."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from courierwatch.catalog import load_catalog

README = Path(__file__).resolve().parents[2] / "README.md"
POLICIES = Path(__file__).resolve().parents[2] / "courierwatch" / "data" / "policies.yaml"


def _block() -> str:
    text = README.read_text("utf-8")
    m = re.search(r"<!-- catalog-counts:[^\n]*-->\n(.*?)\n<!-- /catalog-counts -->", text, re.S)
    assert m, "README has no catalog-counts block"
    return m.group(1)


def test_readme_block_is_the_generated_sentence() -> None:
    """The block between the markers is exactly `courierwatch policies counts`' text."""
    assert _block() == load_catalog().counts_sentence()


def test_readme_numbers_equal_the_catalog_file() -> None:
    """The README's numbers equal counts taken from policies.yaml with plain yaml: total,
    from events, from reference data, aspirational, major brands only."""
    targets = yaml.safe_load(POLICIES.read_text("utf-8"))["targets"]
    events = sum(t["measurable_by"] == "events" for t in targets)
    want = [len(targets), events, len(targets) - events,
            sum(t["strength"] == "aspirational" for t in targets),
            sum(bool(t.get("companies")) for t in targets)]
    assert [int(n) for n in re.findall(r"\b(\d+)\b", _block())] == want
