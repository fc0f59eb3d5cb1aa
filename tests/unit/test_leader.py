"""streams.leader: the holder of scan partition 0 is the one publisher (issue 15)."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from streams.leader import Leadership


class TP(NamedTuple):
    topic: str
    partition: int


SCAN = "p.scan.v1"


@pytest.mark.parametrize(("assigned", "leading"), [
    pytest.param({TP(SCAN, 0), TP(SCAN, 2)}, True, id="holds partition 0"),
    pytest.param({TP(SCAN, 1), TP(SCAN, 3)}, False, id="other partitions"),
    pytest.param({TP("p.scan.v1.dlq", 0)}, False, id="partition 0 of another topic"),
    pytest.param(set(), False, id="nothing assigned (more workers than partitions)"),
])
def test_only_the_holder_of_scan_partition_0_publishes(assigned: set[TP], leading: bool) -> None:
    """Leadership follows partition 0 of the scan topic, and of no other topic."""
    lead = Leadership(SCAN)
    lead.assigned(assigned)
    assert lead.leading is leading


def test_revocation_stops_publication_and_a_new_assignment_is_a_take_over_once() -> None:
    """Revoking partition 0 ends leadership at once (before any other worker gets it);
    regaining it is reported as a take-over exactly once, so that the publisher re-reads
    what another worker may have published meanwhile; keeping it is not a take-over."""
    lead = Leadership(SCAN)
    lead.assigned({TP(SCAN, 0)})
    assert lead.take_over() is True and lead.take_over() is False
    lead.assigned({TP(SCAN, 0), TP(SCAN, 1)})
    assert lead.leading and lead.take_over() is False
    lead.revoked({TP(SCAN, 1)})
    assert lead.leading
    lead.revoked({TP(SCAN, 0), TP(SCAN, 1)})
    assert not lead.leading
    lead.assigned({TP(SCAN, 0)})
    assert lead.leading and lead.take_over() is True
