"""The dead-letter flood guard halts on a bad deploy, not on a few bad events."""

from __future__ import annotations

import pytest

from streams.flood import DeadLetterFlood, FloodGuard


@pytest.mark.parametrize(("window", "batches", "floods_at"), [
    pytest.param(10_000, [(300, 600)], None, id="below-min-events"),
    pytest.param(10_000, [(300, 600), (0, 100)], 1, id="majority-once-min-reached"),
    pytest.param(10_000, [(400, 600)], 0, id="min-reached-in-one-batch"),
    pytest.param(10_000, [(500, 500), (500, 500)], None, id="exactly-half-is-not-more"),
    pytest.param(10_000, [(9_000, 0), (100, 900), (100, 900)], None, id="diluted-by-history"),
    pytest.param(2_000, [(2_000, 0), (0, 1_000), (0, 1_000)], 2, id="window-forgets-old"),
])
def test_flood_verdicts(window: int, batches: list[tuple[int, int]],
                        floods_at: int | None) -> None:
    """max share 0.5, min 1,000 events: the guard raises on the first batch after which
    more than half of the window's events were rejected; the oldest whole batches leave
    the window once the later ones alone fill it (in the last case the 2,000 valid events
    of the first batch leave it, so 2,000 of 2,000 are rejected; without forgetting it
    would be exactly half)."""
    guard = FloodGuard(max_share=0.5, window_events=window, min_events=1_000)
    raised_at = None
    for i, (valid, rejected) in enumerate(batches):
        try:
            guard.observe(valid, rejected)
        except DeadLetterFlood as exc:
            raised_at = i
            assert "halting" in str(exc) and "\n" not in str(exc)
            break
    assert raised_at == floods_at
