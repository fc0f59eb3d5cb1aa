"""The benchmark's speedup figure (load_tests.bench.speedup), against values worked by hand."""

from __future__ import annotations

import pytest

from load_tests.bench import speedup


@pytest.mark.parametrize(("capacity", "sustained", "baseline", "want"), [
    pytest.param(52_000.0, 50_000.0, 4_000.0, 13.0, id="capacity-over-baseline"),
    pytest.param(None, 47_700.0, 3_000.0, 15.9, id="no-capacity-takes-the-sustained-rate"),
    pytest.param(0.0, 9_000.0, 4_000.0, 2.2, id="zero-capacity-takes-the-sustained-rate"),
    pytest.param(10_000.0, 9_000.0, 3_000.0, 3.3, id="one-decimal"),
    pytest.param(52_000.0, 50_000.0, 0.0, None, id="no-baseline-no-speedup"),
])
def test_speedup_is_the_best_pipeline_rate_over_the_baseline(
        capacity: float | None, sustained: float, baseline: float, want: float | None) -> None:
    """Speedup = the pipeline's capacity (or, without one, its sustained rate) divided by
    the baseline's rate, to one decimal: 52,000 / 4,000 = 13.0; 47,700 / 3,000 = 15.9;
    9,000 / 4,000 = 2.25, shown 2.2 (round half to even); 10,000 / 3,000 = 3.33..., 3.3."""
    assert speedup(capacity, sustained, baseline) == want
