"""The retry policy: transient store errors back off with jitter; anything else stops at once."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import (
    DatabaseError,
    OperationalError,
    ProgrammingError,
    StreamFailureError,
)

from streams.retry import BatchRefused, RetryPolicy, SinkUnavailable
from warehouse.errors import TransientStoreError, is_transient


class FakeClock:
    """Records the sleeps instead of sleeping; `random` gives a fixed jitter draw."""

    def __init__(self, draw: float = 0.5) -> None:
        self.slept: list[float] = []
        self.draw = draw

    def sleep(self, s: float) -> None:
        self.slept.append(s)

    def random(self) -> float:
        return self.draw


def failing(errors: list[BaseException]) -> tuple[list[int], object]:
    calls = [0]

    def action() -> str:
        calls[0] += 1
        if errors:
            raise errors.pop(0)
        return "stored"
    return calls, action


@pytest.mark.parametrize(("exc", "transient"), [
    pytest.param(ConnectionRefusedError(111, "Connection refused"), True, id="refused"),
    pytest.param(ConnectionResetError(104, "Connection reset by peer"), True, id="reset"),
    pytest.param(TimeoutError("timed out"), True, id="timeout"),
    pytest.param(OperationalError("Error HTTPConnectionPool(host='ch', port=8123): Max "
                                  "retries exceeded"), True, id="http-transport"),
    pytest.param(DatabaseError("Code: 252. DB::Exception: Too many parts (300). "
                               "(TOO_MANY_PARTS)"), True, id="too-many-parts"),
    pytest.param(DatabaseError("Code: 241. DB::Exception: Memory limit (total) exceeded. "
                               "(MEMORY_LIMIT_EXCEEDED)"), True, id="memory-limit"),
    pytest.param(DatabaseError("Code: 202. DB::Exception: Too many simultaneous queries. "
                               "(TOO_MANY_SIMULTANEOUS_QUERIES)"), True, id="overload"),
    pytest.param(TransientStoreError("fault injection: store unavailable"), True, id="fault"),
    pytest.param(DatabaseError("Code: 60. DB::Exception: Unknown table expression identifier "
                               "'x.nope'. (UNKNOWN_TABLE)"), False, id="unknown-table"),
    pytest.param(DatabaseError("Code: 53. DB::Exception: Type mismatch. (TYPE_MISMATCH)"),
                 False, id="type-mismatch"),
    pytest.param(ProgrammingError("Unrecognized column 'b' in table x.t"), False,
                 id="unknown-column"),
    pytest.param(StreamFailureError("bad value in stream"), False, id="chdb-bad-value"),
    pytest.param(ValueError("a bug"), False, id="bug"),
])
def test_classification(exc: BaseException, transient: bool) -> None:
    """Connection refused/reset, timeouts, HTTP transport failures and ClickHouse's overload
    codes are transient; SQL, type and schema errors (with a code or without) are not."""
    assert is_transient(exc) is transient


def test_transient_errors_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    """Six transient failures, then success: waits are initial * 2^k capped at max_s, each
    scaled by (1 - jitter * draw); the action's result is returned."""
    clock = FakeClock(draw=0.5)
    policy = RetryPolicy(initial_s=0.2, max_s=1.0, jitter=0.2, sleep=clock.sleep,
                         random=clock.random)
    calls, action = failing([ConnectionResetError("reset")] * 6)
    retries: list[int] = []
    assert policy.run(action, lambda: False, lambda: retries.append(1)) == "stored"  # type: ignore[arg-type]
    steps = [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert clock.slept == pytest.approx([s * 0.9 for s in steps])
    assert calls[0] == 7 and len(retries) == 6


@pytest.mark.parametrize("draw", [0.0, 0.999])
def test_jitter_stays_within_its_band(draw: float) -> None:
    """Whatever the random draw, a wait lies in [(1 - jitter) * step, step]."""
    clock = FakeClock(draw)
    policy = RetryPolicy(initial_s=1.0, max_s=8.0, jitter=0.25, sleep=clock.sleep,
                         random=clock.random)
    next_delay = policy.delays()
    for step in (1.0, 2.0, 4.0, 8.0, 8.0):
        assert 0.75 * step <= next_delay() <= step


def test_deterministic_error_stops_at_once_without_sleeping() -> None:
    """A type error from the store is raised as BatchRefused on the first attempt: no
    retry, no sleep (before: retried forever, the worker wedged silently)."""
    clock = FakeClock()
    policy = RetryPolicy(sleep=clock.sleep, random=clock.random)
    calls, action = failing([DatabaseError("Code: 53. DB::Exception: Type mismatch")])
    with pytest.raises(BatchRefused, match="Code: 53") as err:
        policy.run(action, lambda: False, what="insert into events_in")  # type: ignore[arg-type]
    assert calls[0] == 1 and clock.slept == []
    assert "\n" not in str(err.value) and str(err.value).startswith("insert into events_in")


def test_transient_error_at_shutdown_gives_up_as_unavailable() -> None:
    """While the process is stopping, a transient failure ends the retries with
    SinkUnavailable instead of sleeping again."""
    clock = FakeClock()
    stopping = [False]

    def action() -> None:
        stopping[0] = len(clock.slept) >= 2
        raise ConnectionRefusedError("refused")

    policy = RetryPolicy(sleep=clock.sleep, random=clock.random)
    with pytest.raises(SinkUnavailable):
        policy.run(action, lambda: stopping[0])
    assert len(clock.slept) == 2


def test_logged_store_errors_mask_passwords() -> None:
    """The one-line form of a store error, which the retry and exit lines log, never
    carries a password from a URL in the error's message."""
    from warehouse.errors import first_line

    exc = OperationalError("Error HTTPConnectionPool(https://ops:hunter2@ch.example:8443) "
                           "refused\nsecond line")
    line = first_line(exc)
    assert "hunter2" not in line and "ops:***@ch.example" in line and "\n" not in line
