"""The README's and docs/architecture.md's counts and lists, checked against the code: the
catalog counts (generated from the catalog), the packages, the served API paths and the
materialized views on `events`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from courierwatch.catalog import load_catalog
from tests.unit.test_api_docs import served_paths
from warehouse.ddl import DropView, View
from warehouse.migrations import MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
POLICIES = ROOT / "courierwatch" / "data" / "policies.yaml"
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve")


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


def _between(text: str, marker: str) -> str:
    m = re.search(rf"<!-- {marker}[^\n]*-->\n(.*?)\n<!-- /{marker} -->", text, re.S)
    assert m, f"no {marker} block"
    return m.group(1)


def _number(text: str, noun: str) -> int:
    """The number word before `noun` in `text` ("Eight packages" -> 8); one occurrence."""
    found = re.findall(rf"\b({'|'.join(WORDS)})\s+{noun}", text, re.I)
    assert len(found) == 1, (noun, found)
    return WORDS.index(found[0].lower())


def _views_on_events() -> dict[str, str]:
    """View -> the table it feeds, for every materialized view on `events` that the
    migrations leave in place (a view dropped and re-created counts once)."""
    views: dict[str, str] = {}
    for migration in MIGRATIONS:
        for obj in migration.objects:
            if isinstance(obj, View) and obj.source == "events":
                views[obj.name] = obj.target
            elif isinstance(obj, DropView):
                views.pop(obj.name, None)
    return views


def test_readme_counts_the_packages_lint_imports_checks() -> None:
    """"Eight packages": the README's and the architecture's number is the number of root
    packages of the import-linter contracts."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    packages = config["tool"]["importlinter"]["root_packages"]
    assert _number(README.read_text("utf-8"), "packages") == len(packages)
    assert _number(ARCHITECTURE.read_text("utf-8"), "Python packages") == len(packages)


def test_readme_lists_every_served_api_path() -> None:
    """The README's API paths are exactly the /api paths the worker serves."""
    listed = set(re.findall(r"`(/api/[a-z-]+)`", _between(README.read_text("utf-8"),
                                                          "api-paths")))
    assert listed == {p for p in served_paths() if p.startswith("/api/")}


def test_the_docs_name_every_view_on_events() -> None:
    """docs/architecture.md's table of views on `events` (view, table fed) is what the
    migrations create, the README's diagram names every table fed, and both say how many."""
    views = _views_on_events()
    assert views
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \|", _between(
        ARCHITECTURE.read_text("utf-8"), "views-on-events"), re.M)
    assert dict(rows) == views and len(rows) == len(views)
    readme = README.read_text("utf-8")
    opening = readme.index("```", readme.index("## How it works"))
    diagram = readme[opening:readme.index("```", opening + 3)]
    assert [t for t in views.values() if t not in diagram] == []
    assert _number(diagram, "materialized views") == len(views)
    assert _number(ARCHITECTURE.read_text("utf-8"), "materialized views") == len(views)
