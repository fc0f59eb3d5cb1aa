"""Which store errors are transient: worth retrying with back-off, never worth stopping for.

Transient (the store or the way to it is down or overloaded; the same insert will succeed
later): a refused, reset or timed-out connection, an HTTP transport failure, and the
ClickHouse error codes of overload and unavailability in `TRANSIENT_CODES` (too many
parts, memory limit, too many queries, timeouts, a read-only or unreachable replica,
Keeper, an insert of unknown status). Everything else (a type or SQL error, an unknown
column, a constraint) is deterministic: retrying the same batch cannot succeed, so the
worker stops without committing (docs/semantics.md, "When ClickHouse fails").
"""

from __future__ import annotations

import re

from clickhouse_connect.driver.exceptions import OperationalError, StreamFailureError

from courierwatch.masking import mask_secrets

TRANSIENT_CODES: dict[int, str] = {
    32: "ATTEMPT_TO_READ_AFTER_EOF", 159: "TIMEOUT_EXCEEDED", 160: "TOO_SLOW",
    202: "TOO_MANY_SIMULTANEOUS_QUERIES", 203: "NO_FREE_CONNECTION", 209: "SOCKET_TIMEOUT",
    210: "NETWORK_ERROR", 236: "ABORTED", 241: "MEMORY_LIMIT_EXCEEDED",
    242: "TABLE_IS_READ_ONLY", 252: "TOO_MANY_PARTS", 285: "TOO_FEW_LIVE_REPLICAS",
    319: "UNKNOWN_STATUS_OF_INSERT", 394: "QUERY_WAS_CANCELLED", 425: "SYSTEM_ERROR",
    439: "CANNOT_SCHEDULE_TASK", 999: "KEEPER_EXCEPTION", 1000: "POCO_EXCEPTION",
}
_CODE = re.compile(r"\bCode: (\d+)\b")


class TransientStoreError(RuntimeError):
    """Raised by a fault hook (or an adapter) for a failure that a retry may cure."""


def clickhouse_code(exc: BaseException) -> int | None:
    """The ClickHouse error code in the exception's message (`Code: 252. DB::Exception...`)."""
    m = _CODE.search(str(exc))
    return int(m.group(1)) if m else None


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same write later may succeed (see the module docstring)."""
    if isinstance(exc, TransientStoreError | ConnectionError | TimeoutError):
        return True
    code = clickhouse_code(exc)
    if code is not None:
        return code in TRANSIENT_CODES
    # clickhouse-connect raises OperationalError for HTTP transport failures (connection
    # refused, reset, timed out); a StreamFailureError without a code is the engine
    # refusing the data mid-stream (chDB reports a bad value so): deterministic.
    return isinstance(exc, OperationalError) and not isinstance(exc, StreamFailureError)


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The exception as one short line for a log: type, then its message's first line,
    with any password in a URL masked."""
    text = mask_secrets(str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:limit] if text else ''}"
