"""The mark for reads that take no caller's scope (tests/unit/test_access.py).

Every read of the warehouse takes a CellFilter or a Scope (courierwatch.scope), except the
reads no caller ever sees the rows of: the worker's own bookkeeping, schema migrations, the
operator's summary after `process`. Those carry `@system_read(reason)`; the test of
required scopes accepts nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def system_read(reason: str) -> Callable[[F], F]:
    """Mark a read that takes no caller's scope because no caller ever sees its rows
    directly (the alert evaluator's input, ingest bookkeeping). `reason` says why; the test
    of required scopes (tests/unit/test_access.py) accepts only reads that take a
    CellFilter or Scope, or carry this mark with a reason."""
    if not reason.strip():
        raise ValueError("a system read needs a reason")

    def mark(fn: F) -> F:
        fn.__system_read__ = reason  # type: ignore[attr-defined]
        return fn

    return mark
