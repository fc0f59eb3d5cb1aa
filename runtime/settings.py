"""The settings table: the one place a tunable is named, typed, defaulted and explained.

`SETTINGS` lists every environment variable courierwatch reads. From it, and from nothing
else, come: parsing (`load_settings`, once per process; a bad value is one line naming the
variable, `SettingsError`), the environment that rebuilds the same settings in a worker
process (`settings_env`), the printable form with secrets masked (`Settings.masked`) and
the README's settings table (`markdown_table`; `python -m runtime.settings` prints it and
`tests/unit/test_settings.py` fails when the README is stale). No other module reads the
environment (tests/unit/test_environment_reads.py fails on one that does): a worker's
environment comes from `child_environment`, and the one variable whose name is not in the
table, the one a user names on the command line (`tokens ensure --from-env NAME`), is read
by `named_variable`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from courierwatch.contract import DEFAULT_LIMITS, Limits
from courierwatch.judgement import DEFAULT_MIN_SAMPLE
from courierwatch.masking import mask_secrets


class SettingsError(ValueError):
    """A setting's value cannot be used; the message is one line naming the variable."""


def _int(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("not an integer") from None
        if value < low:
            raise ValueError(f"must be >= {low}")
        return value
    return parse


def _float(low: float, high: float = float("inf")) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("not a number") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}")
        return value
    return parse


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("not a boolean (1/0, true/false, yes/no)")


def _text(text: str) -> str:
    return text


def _url(text: str) -> str:
    return text.strip().rstrip("/")


def _urls(text: str) -> tuple[str, ...]:
    urls = tuple(u.strip() for u in text.split(",") if u.strip())
    for u in urls:
        if not u.startswith(("http://", "https://")):
            raise ValueError(f"{u!r} is not an http(s) URL")
    return urls


def _path(text: str) -> Path:
    return Path(text).resolve()


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the table: Settings field, variable, parser, default text and meaning."""

    field: str
    env: str
    parse: Callable[[str], Any]
    default: str
    meaning: str
    secret: bool = False  # masked whole when printed (DSN passwords are masked always)


MiB = 1024 * 1024
SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "COURIERWATCH_DATA_DIR", _path, ".courierwatch",
            "all on-disk state of the embedded mode"),
    Setting("kafka", "COURIERWATCH_KAFKA", _text, "embedded",
            "`embedded` (start tansu on loopback) or a bootstrap list `host:9092,...`"),
    Setting("clickhouse", "COURIERWATCH_CLICKHOUSE", _text, "",
            "`chdb://<data dir>/clickhouse` when empty, or `http(s)://user:pass@host:8123`"),
    Setting("clickhouse_cluster", "COURIERWATCH_CLICKHOUSE_CLUSTER", _text, "",
            "a ClickHouse cluster (`remote_servers`) name: replicated, sharded tables "
            "`ON CLUSTER` (warehouse/migrations.py); empty for chDB or one server"),
    Setting("database", "COURIERWATCH_DATABASE", _text, "courierwatch",
            "ClickHouse database (the demo uses `courierwatch_demo`)"),
    Setting("topic_prefix", "COURIERWATCH_TOPIC_PREFIX", _text, "",
            "prefix of every topic and consumer group"),
    Setting("partitions", "COURIERWATCH_PARTITIONS", _int(1), "4", "partitions of the scan topic"),
    Setting("api_port", "COURIERWATCH_API_PORT", _int(0), "8765",
            "HTTP API and dashboard of the worker that owns ClickHouse"),
    Setting("api_host", "COURIERWATCH_API_HOST", _text, "127.0.0.1",
            "address the API listens on; any non-loopback address requires API tokens "
            "(docs/access.md)"),
    Setting("api_rate_per_s", "COURIERWATCH_API_RATE", _float(0.001), "20",
            "API requests per second per token (or client address), on average"),
    Setting("api_burst", "COURIERWATCH_API_BURST", _int(1), "60",
            "API requests a caller may send at once before the rate applies"),
    Setting("api_token", "COURIERWATCH_TOKEN", _text, "",
            "client: the Bearer token the CLI sends to the API (`courierwatch tokens add`)",
            secret=True),
    Setting("api_url", "COURIERWATCH_API_URL", _url, "",
            "client: read figures from this API (e.g. a remote `https://host`) instead of "
            "the worker recorded in the data directory"),
    Setting("ops_token", "COURIERWATCH_OPS_TOKEN", _text, "",
            "deploy: the national token the health check (deploy/healthcheck.py) and "
            "Prometheus send; each worker stores its hash first (`tokens ensure --from-env`)",
            secret=True),
    Setting("grafana_token", "COURIERWATCH_GRAFANA_TOKEN", _text, "",
            "Grafana credential: a service-account token for `provision grafana`; a "
            "server-admin token or `user:password` for `access clickhouse-sql --grafana-url`",
            secret=True),
    Setting("min_sample", "COURIERWATCH_MIN_SAMPLE", _int(0), str(DEFAULT_MIN_SAMPLE),
            "a rate on a smaller denominator is shown as `too_few`, not judged"),
    Setting("allowed_lateness_s", "COURIERWATCH_ALLOWED_LATENESS_S", _float(0), "604800",
            "events older than the watermark minus this are archived, not counted "
            "(docs/semantics.md)"),
    Setting("publish_grace_s", "COURIERWATCH_PUBLISH_GRACE_S", _float(0), "3600",
            "a period is published this long after the watermark passed its end"),
    Setting("publish_interval_s", "COURIERWATCH_PUBLISH_INTERVAL_S", _float(0.01), "5",
            "how often closed periods are published and restatements recorded"),
    Setting("batch_messages", "COURIERWATCH_BATCH_MESSAGES", _int(1), "200",
            "Kafka messages per batch (one insert) at most"),
    Setting("batch_within_s", "COURIERWATCH_BATCH_WITHIN_S", _float(0.001), "0.5",
            "a partial batch is flushed after this long"),
    Setting("max_batches_in_flight", "COURIERWATCH_MAX_BATCHES_IN_FLIGHT", _int(1), "3",
            "batches gathered, decoded or inserting at once (bounds the worker's memory)"),
    Setting("insert_chunk_bytes", "COURIERWATCH_INSERT_CHUNK_BYTES", _int(1), str(64 * MiB),
            "a larger batch is inserted in several inserts (one insert per batch is cheapest)"),
    Setting("dlq_max_share", "COURIERWATCH_DLQ_MAX_SHARE", _float(0, 1), "0.5",
            "the worker halts when a larger share of recent events is rejected"),
    Setting("process_max_rejected_share", "COURIERWATCH_PROCESS_MAX_REJECTED_SHARE",
            _float(0, 1), "0.5",
            "`process` and `import` exit 1 when a larger share of their input lines was "
            "rejected (and always when every line was)"),
    Setting("dlq_window_events", "COURIERWATCH_DLQ_WINDOW_EVENTS", _int(1), "10000",
            "how many recent events the dead-letter share is taken over"),
    Setting("dlq_min_events", "COURIERWATCH_DLQ_MIN_EVENTS", _int(0), "1000",
            "no halt before this many events were seen in the window"),
    Setting("max_message_bytes", "COURIERWATCH_MAX_MESSAGE_BYTES", _int(1),
            str(DEFAULT_LIMITS.max_message_bytes),
            "a larger Kafka message is dead-lettered whole (`oversized`)"),
    Setting("max_event_bytes", "COURIERWATCH_MAX_EVENT_BYTES", _int(1),
            str(DEFAULT_LIMITS.max_event_bytes),
            "a larger event is dead-lettered (`oversized`)"),
    Setting("max_future_s", "COURIERWATCH_MAX_FUTURE_S", _float(0),
            f"{DEFAULT_LIMITS.max_future_s:g}",
            "an event time further ahead of the clock is dead-lettered (`future_ts`)"),
    Setting("retry_initial_s", "COURIERWATCH_RETRY_INITIAL_S", _float(0.001), "0.2",
            "first back-off after a transient ClickHouse error (doubles, with jitter)"),
    Setting("retry_max_s", "COURIERWATCH_RETRY_MAX_S", _float(0.001), "30",
            "longest back-off between retries"),
    Setting("switch_interval_s", "COURIERWATCH_SWITCH_INTERVAL_S", _float(1e-6), "0.0002",
            "the worker's GIL switch interval (services.worker)"),
    Setting("faust_commit_interval_s", "COURIERWATCH_FAUST_COMMIT_INTERVAL_S", _float(0.01),
            "0.5", "faust: how often committable offsets are committed"),
    Setting("faust_max_poll_records", "COURIERWATCH_FAUST_MAX_POLL_RECORDS", _int(1), "1000",
            "faust: records per fetch"),
    Setting("faust_max_fetch_bytes", "COURIERWATCH_FAUST_MAX_FETCH_BYTES", _int(1),
            str(16 * MiB), "faust: bytes per fetch (and per produced request)"),
    Setting("faust_stream_buffer", "COURIERWATCH_FAUST_STREAM_BUFFER", _int(1), "4096",
            "faust: messages buffered per stream"),
    Setting("faust_rebalance_timeout_s", "COURIERWATCH_FAUST_REBALANCE_TIMEOUT_S", _float(0.1),
            "4", "faust: group rebalance timeout (tansu completes a join only after it)"),
    Setting("faust_session_timeout_s", "COURIERWATCH_FAUST_SESSION_TIMEOUT_S", _float(0.1),
            "6", "faust: group session timeout"),
    Setting("faust_heartbeat_s", "COURIERWATCH_FAUST_HEARTBEAT_S", _float(0.01), "1",
            "faust: heartbeat interval"),
    Setting("alert_webhooks", "COURIERWATCH_ALERT_WEBHOOKS", _urls, "",
            "comma-separated URLs that receive alerts as Alertmanager webhooks (version 4)"),
    Setting("alert_interval_s", "COURIERWATCH_ALERT_INTERVAL_S", _float(0.01), "5",
            "how often the worker evaluates newly settled alert buckets (docs/alerting.md)"),
    Setting("alert_settle_s", "COURIERWATCH_ALERT_SETTLE_S", _int(0), "600",
            "an alert bucket is evaluated once event time is this far past its end; the "
            "other alerting defaults are courierwatch.alerting.AlertRules"),
    Setting("alert_max_backoff_s", "COURIERWATCH_ALERT_MAX_BACKOFF_S", _float(0.01), "60",
            "longest wait between two attempts to deliver a webhook"),
    Setting("owner", "COURIERWATCH_OWNER", _text, "",
            "worker: set by the command that starts it (its process identity as JSON, "
            "services.owner); not for users"),
    Setting("reset_database", "COURIERWATCH_RESET_DATABASE", _bool, "0",
            "worker: drop the database at start (the demo's fresh start)"),
    Setting("crash_after_batches", "COURIERWATCH_CRASH_AFTER_BATCHES", _int(0), "0",
            "fault injection for recovery tests: the worker dies right after its Nth insert, "
            "before the commit (0 = off)"),
    Setting("fault_file", "COURIERWATCH_FAULT_FILE", _text, "",
            "fault injection: while this file exists every store write fails, as a store "
            "that is down, or deterministically if its first word is `permanent` (empty = off)"),
    Setting("fault_poison", "COURIERWATCH_FAULT_POISON", _text, "",
            "fault injection (tests only): decoding raises on any event whose bytes contain "
            "this text, which is then quarantined as a `crash` dead letter (empty = off)"),
    Setting("fuzz_messages", "COURIERWATCH_FUZZ_MESSAGES", _int(1), "100000",
            "tests only: messages of the fuzz harness (tests/unit/test_fuzz_hostile.py; CI's "
            "nightly size is 1000000)"),
    Setting("read_committed", "COURIERWATCH_READ_COMMITTED", _bool, "1",
            "consumers read with `isolation_level=read_committed`: records of aborted "
            "transactions never count (docs/reliability.md)"),
)
_BY_FIELD = {s.field: s for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every tunable of one process (see SETTINGS for meanings and defaults)."""

    data_dir: Path
    kafka: str
    clickhouse: str
    clickhouse_cluster: str
    database: str
    topic_prefix: str
    partitions: int
    api_port: int
    api_host: str
    api_rate_per_s: float
    api_burst: int
    api_token: str
    api_url: str
    ops_token: str
    grafana_token: str
    min_sample: int
    allowed_lateness_s: float
    publish_grace_s: float
    publish_interval_s: float
    batch_messages: int
    batch_within_s: float
    max_batches_in_flight: int
    insert_chunk_bytes: int
    dlq_max_share: float
    process_max_rejected_share: float
    dlq_window_events: int
    dlq_min_events: int
    max_message_bytes: int
    max_event_bytes: int
    max_future_s: float
    retry_initial_s: float
    retry_max_s: float
    switch_interval_s: float
    faust_commit_interval_s: float
    faust_max_poll_records: int
    faust_max_fetch_bytes: int
    faust_stream_buffer: int
    faust_rebalance_timeout_s: float
    faust_session_timeout_s: float
    faust_heartbeat_s: float
    alert_webhooks: tuple[str, ...]
    alert_interval_s: float
    alert_settle_s: int
    alert_max_backoff_s: float
    owner: str
    reset_database: bool
    crash_after_batches: int
    fault_file: str
    fault_poison: str
    fuzz_messages: int
    read_committed: bool

    @property
    def isolation_level(self) -> str:
        """What every Kafka consumer of the pipeline reads (the `read_committed` setting)."""
        return "read_committed" if self.read_committed else "read_uncommitted"

    @property
    def embedded_kafka(self) -> bool:
        return self.kafka == "embedded"

    @property
    def embedded_clickhouse(self) -> bool:
        """chDB: one process at a time may open the store (docs/DESIGN.md)."""
        return self.clickhouse.startswith("chdb://")

    @property
    def scan_topic(self) -> str:
        return f"{self.topic_prefix}scan.v1"

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic_prefix}scan.v1.dlq"

    @property
    def alert_topic(self) -> str:
        return f"{self.topic_prefix}alerts.v1"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}courierwatch-ingest"

    @property
    def broker_file(self) -> Path:
        """Where a running embedded broker records its address for other commands."""
        return self.data_dir / "broker.json"

    @property
    def limits(self) -> Limits:
        """The contract's bounds on input (courierwatch.contract.Limits)."""
        return Limits(self.max_message_bytes, self.max_event_bytes, self.max_future_s)

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def masked(self) -> dict[str, str]:
        """Printable settings by variable: passwords in DSNs and secret values as ***."""
        return {s.env: "***" if s.secret and getattr(self, s.field) else
                mask_secrets(_format(getattr(self, s.field))) for s in SETTINGS}


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from `env` (default: os.environ). Called once per process.

    Raises SettingsError (one line: variable, value, what is wrong) on a bad value.
    """
    e = os.environ if env is None else env
    values: dict[str, Any] = {}
    for s in SETTINGS:
        text = e.get(s.env, s.default)
        try:
            values[s.field] = s.parse(text)
        except ValueError as exc:
            shown = "***" if s.secret else mask_secrets(text)
            raise SettingsError(f"{s.env}={shown!r}: {exc}") from None
    if not values["clickhouse"]:
        values["clickhouse"] = f"chdb://{values['data_dir'] / 'clickhouse'}"
    return Settings(**values)


def settings_env(s: Settings) -> dict[str, str]:
    """The environment that rebuilds `s` in a child process (a worker)."""
    return {row.env: _format(getattr(s, row.field)) for row in SETTINGS}


def child_environment(s: Settings) -> dict[str, str]:
    """A child process's whole environment: this process's (PATH and the like pass through
    unread) with every setting's variable set to rebuild `s`."""
    return os.environ | settings_env(s)


def named_variable(name: str) -> str:
    """The value of the variable a user names on the command line (`tokens ensure
    --from-env NAME`), "" when unset: the one read of a variable that is not in SETTINGS."""
    return os.environ.get(name, "")


def variable_of(field: str) -> str:
    """The environment variable of a Settings field (`variable_of("ops_token")`)."""
    return _BY_FIELD[field].env


def markdown_table() -> str:
    """The README's settings table, generated from SETTINGS."""
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        lines.append(f"| `{s.env}` | {default} | {s.meaning} |")
    return "\n".join(lines) + "\n"


def _check_table() -> None:
    """Every Settings field has exactly one row and every row a field (import-time)."""
    names = [f.name for f in fields(Settings)]
    if sorted(names) != sorted(_BY_FIELD) or len(_BY_FIELD) != len(SETTINGS):
        raise RuntimeError("runtime.settings: SETTINGS and Settings fields differ")


_check_table()

if __name__ == "__main__":
    sys.stdout.write(markdown_table())
