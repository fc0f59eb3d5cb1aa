"""The README's figures that come from the code are the code's."""

from __future__ import annotations

import re
from pathlib import Path

from courierwatch.catalog import load_catalog

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_catalog_counts_are_current() -> None:
    """The README's count of targets, event-measurable and reference-data ones, is the
    catalog's (issue 8 found it stale)."""
    targets = load_catalog().targets
    events = sum(1 for t in targets if t.measurable_by == "events")
    m = re.search(r"holds (\d+) quantitative targets from the five seed\s+documents, (\d+) of "
                  r"them measurable from scan events and (\d+) from reference data",
                  README.read_text("utf-8"))
    assert m is not None
    assert tuple(map(int, m.groups())) == (len(targets), events, len(targets) - events)
