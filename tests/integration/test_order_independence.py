"""Property: the figures do not depend on arrival order, re-sends or partitioning.

Drives the real ingest step (streams.ingest.Ingestor: decode, validate, insert) into the
real ClickHouse engine (chDB, in this process) batch by batch, without the broker, so that
hypothesis can try many arrangements; the broker path is covered by test_pipeline.py.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courierwatch.catalog import load_catalog
from courierwatch.routes import load_route_table
from courierwatch.scope import Scope
from load_tests.generator import GeneratorConfig, generate
from runtime.settings import load_settings
from streams.decode import Arrival
from streams.ingest import Ingestor
from tests.integration.compare import assert_matches_reference
from warehouse.client import Warehouse
from warehouse.queries import CellFilter
from warehouse.report import kpi_report
from warehouse.sink import ClickHouseSink

pytestmark = pytest.mark.integration

EVENTS = list(generate(GeneratorConfig(count=600, seed=3)))
NOW = datetime(2026, 11, 20, tzinfo=UTC)
_databases = itertools.count()


@pytest.fixture(scope="module")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"chdb://{tmp_path_factory.mktemp('chdb') / 'clickhouse'}"


def _ingest(dsn: str, arrivals: list[list[Arrival]], lateness_s: float = 7 * 86400) -> Warehouse:
    wh = Warehouse(dsn, f"prop_{next(_databases)}")
    s = load_settings({"COURIERWATCH_ALLOWED_LATENESS_S": str(lateness_s)})
    ingestor = Ingestor(s, ClickHouseSink(wh), 0, clock=lambda: NOW)
    for batch in arrivals:
        ingestor.handle(batch)
    return wh


def _arrange(events: list[dict[str, object]], rnd: random.Random, dup_share: float,
             partitions: int) -> list[list[Arrival]]:
    """Shuffle, re-send a share, cut into messages of random size on random partitions,
    and group the messages into batches of random size."""
    stream = list(events) + [e for e in events if rnd.random() < dup_share]
    rnd.shuffle(stream)
    offsets = [0] * partitions
    messages: list[Arrival] = []
    i = 0
    while i < len(stream):
        n = rnd.randint(1, 60)
        p = rnd.randrange(partitions)
        body = b"\n".join(orjson.dumps(e) for e in stream[i:i + n])
        messages.append(Arrival("scan.v1", p, offsets[p], body))
        offsets[p] += 1
        i += n
    batches, j = [], 0
    while j < len(messages):
        k = rnd.randint(1, 8)
        batches.append(messages[j:j + k])
        j += k
    return batches


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), dup_share=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
       partitions=st.integers(1, 4))
def test_any_order_duplication_and_partitioning_gives_the_reference_figures(
        chdb_dsn: str, seed: int, dup_share: float, partitions: int) -> None:
    """Any permutation of the events, any re-sending of any of them, any cut into messages,
    partitions and batches: every cell x KPI (by hour) equals the plain batch computation
    on the deduplicated events."""
    wh = _ingest(chdb_dsn, _arrange(EVENTS, random.Random(seed), dup_share, partitions))
    flt = CellFilter(by="hour", scope=Scope.national())
    rows = [r.to_json() for r in kpi_report(wh, flt, load_route_table(), load_catalog())]
    assert assert_matches_reference(rows, EVENTS, "hour") > 100


def test_events_later_than_the_allowed_lateness_are_archived_not_lost(chdb_dsn: str) -> None:
    """With a lateness of one hour and a stream sent newest-first, every event is still in
    the archive: those too late for the figures are flagged late and counted in
    late_events, the others are in the figures; none disappears."""
    newest_first = sorted(EVENTS, key=lambda e: str(e["ts"]), reverse=True)
    batches = [[Arrival("scan.v1", 0, i, orjson.dumps(e))] for i, e in enumerate(newest_first)]
    wh = _ingest(chdb_dsn, batches, lateness_s=3600)
    total, late = wh.query(f"SELECT uniqExact(event_id), countIf(late = 1) FROM {wh.db}.events")[0]
    assert total == len({e["event_id"] for e in EVENTS})
    assert late > 0
    late_cells = wh.query(f"SELECT sum(n) FROM (SELECT uniqExactMerge(arrivals) AS n "
                          f"FROM {wh.db}.late_events GROUP BY city, company, hour)")[0][0]
    assert late_cells == late
    figures = wh.query(f"SELECT sum(n) FROM (SELECT uniqExactMerge(accepted) AS n FROM "
                       f"{wh.db}.cell_counts GROUP BY city, company, hour)")[0][0]
    accepted_in_time = wh.query(f"SELECT uniqExact(event_id) FROM {wh.db}.events "
                                "WHERE late = 0 AND type = 'ACCEPTED'")[0][0]
    assert figures == accepted_in_time
