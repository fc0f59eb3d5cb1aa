"""The KPI table is the one definition: counts, conditions, units and judgement derive from it."""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from courierwatch import kpi as kpi_module
from courierwatch.catalog import load_catalog
from courierwatch.figures import ClassCount, Figure, JoinedCell
from courierwatch.judgement import BREACH, NO_DATA, PASS, TOO_FEW, judge
from courierwatch.kpi import (
    CELL_COUNT_NAMES,
    COUNTS,
    JOIN_COUNT_NAMES,
    KPIS,
    KpiDefinition,
    check_table,
)
from warehouse.ddl import Layout
from warehouse.migrations import schema_statements


def test_a_misspelt_count_name_fails_at_import(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Importing the KPI module with a KPI that names a count not in COUNTS raises
    ValueError naming the KPI and the count (before: a silent 0 in every cell)."""
    bad = (*KPIS, KpiDefinition("typo_rate", "exc_dealy", "accepted", "per_1000", "typo"))
    with pytest.raises(ValueError, match=r"'typo_rate'.*'exc_dealy'"):
        check_table(bad, CELL_COUNT_NAMES, JOIN_COUNT_NAMES)
    text = Path(kpi_module.__file__).read_text("utf-8")
    assert '"xray_rate", "sec_xray"' in text
    (tmp_path / "kpi_typo_copy.py").write_text(
        text.replace('"xray_rate", "sec_xray"', '"xray_rate", "sec_xary"'), "utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ValueError, match="'xray_rate'.*'sec_xary'"):
            importlib.import_module("kpi_typo_copy")
    finally:
        sys.modules.pop("kpi_typo_copy", None)


# Columns of the cell_counts view written out by hand from docs/DESIGN.md's KPI table: a
# distinct-event state over the event-id hash, under the condition, named after the count.
HAND_WRITTEN_STATES = (
    "uniqExactIfState(sipHash64(event_id), type = 'ACCEPTED') AS `accepted`",
    "uniqExactIfState(sipHash64(event_id), type = 'DELIVERED' AND mode = 'LOCKER') "
    "AS `delivered_locker`",
    "uniqExactIfState(sipHash64(event_id), type = 'EXCEPTION' AND kind = 'LOSS') AS `exc_loss`",
    "uniqExactIfState(sipHash64(event_id), type = 'ACCEPTED' AND sec_xray = 1) AS `sec_xray`",
)
_STATE = re.compile(r"uniqExactIfState\(sipHash64\(event_id\), (.+?)\) AS `(\w+)`")


def test_every_count_is_a_state_column_with_its_condition() -> None:
    """Each definition of the cell_counts view (its first, and its re-creation by a later
    migration) holds one uniqExact state per COUNTS entry, named after it and with its
    condition, and nothing else: the schema is derived, not a second copy. Four columns
    are compared with their SQL written out by hand."""
    views = [s for s in schema_statements(Layout("db"))
             if "CREATE MATERIALIZED VIEW" in s and "cell_counts_mv" in s]
    assert views
    for ddl in views:
        states = {name: cond for cond, name in _STATE.findall(ddl)}
        assert states == {c.name: c.condition for c in COUNTS}
        assert ddl.count("uniqExactIfState") == len(COUNTS)
        for column in HAND_WRITTEN_STATES:
            assert column in ddl


def test_join_counts_are_what_the_join_query_returns() -> None:
    """JOIN_COUNT_NAMES are the count fields of a class (courierwatch.figures.ClassCount)
    and the promise counts of a cell (JoinedCell)."""
    per_class = tuple(f.name for f in fields(ClassCount))[1:]
    assert (*per_class, "promised", "kept") == JOIN_COUNT_NAMES
    assert {"promised", "kept"} <= {f.name for f in fields(JoinedCell)}


def _fig(kpi: str, num: float, den: float, city: str = "331000") -> Figure:
    return Figure(city, "ZTO", "2026-11-02 00:00:00", kpi, num, den)


@pytest.mark.parametrize(("num", "den", "min_sample", "want"), [
    pytest.param(1, 49, 50, TOO_FEW, id="below-min-sample"),
    pytest.param(6, 50, 50, PASS, id="at-min-sample-passes"),
    pytest.param(5, 50, 50, BREACH, id="at-min-sample-breaches"),
    pytest.param(6, 50, 51, TOO_FEW, id="min-sample-is-a-setting"),
    pytest.param(0, 0, 50, NO_DATA, id="empty-denominator"),
    pytest.param(1, 10, 0, BREACH, id="zero-min-sample-judges-all"),
])
def test_minimum_sample_rule(num: float, den: float, min_sample: int, want: str) -> None:
    """A rate on fewer than `min_sample` in its denominator is `too_few` on the row and on
    every target, never pass or breach. Judged against Taizhou's locker-share targets (its
    2022 plan and the YRD plan, both >= 12 %): 6/50 passes, 5/50 breaches."""
    catalog = load_catalog()
    f = _fig("locker_share", num, den)
    rows = judge(catalog, [f], min_sample)
    assert {t.threshold for t, _ in rows[0].targets} == {0.12}
    assert rows[0].status == want
    if want == TOO_FEW:
        assert {s for _, s in rows[0].targets} == {TOO_FEW}
        assert rows[0].to_json()["status"] == "too_few"


def test_volume_is_never_too_few() -> None:
    """A count KPI has no sample size: min_sample does not apply to volume."""
    rows = judge(load_catalog(), [_fig("volume", 3, 0, "371500")], 50)
    assert all(s != TOO_FEW for _, s in rows[0].targets)
