"""One settings object, built once from the environment and passed in.

| variable | default | meaning |
| --- | --- | --- |
| COURIERWATCH_DATA_DIR | ./.courierwatch | all on-disk state of the embedded mode |
| COURIERWATCH_KAFKA | embedded | `embedded` (start tansu on loopback) or a bootstrap list |
| COURIERWATCH_CLICKHOUSE | chdb:///<data dir>/clickhouse | or http(s)://user:pass@host:8123 |
| COURIERWATCH_DATABASE | courierwatch | ClickHouse database |
| COURIERWATCH_TOPIC_PREFIX | (empty) | prefix for every topic and consumer group |
| COURIERWATCH_PARTITIONS | 4 | partitions of the scan topic |
| COURIERWATCH_ALLOWED_LATENESS_S | 604800 (7 days) | see docs/semantics.md |
| COURIERWATCH_BATCH_MESSAGES | 200 | Kafka messages per batch (one insert) at most |
| COURIERWATCH_BATCH_WITHIN_S | 0.5 | flush a partial batch after this long |
| COURIERWATCH_INSERT_CHUNK_BYTES | 67108864 | a batch larger than this is inserted in |
|   |   | several inserts (bounds one insert's memory); one insert per batch is cheapest: |
|   |   | 8 MiB chunks cost the worker 1.29 cores at 52.5k events/s, one insert 0.99 |
| COURIERWATCH_DLQ_MAX_SHARE | 0.5 | halt when more of the last 10k events are rejected |
| COURIERWATCH_PUBLISH_GRACE_S | 3600 | publish a period this long after the watermark passed it |
| COURIERWATCH_PUBLISH_INTERVAL_S | 5 | how often to publish closed periods and check restatements |
| COURIERWATCH_API_PORT | 8765 | HTTP API and dashboard of the worker that owns ClickHouse |
| COURIERWATCH_API_HOST | 127.0.0.1 | address the API listens on; any non-loopback address |
|   |   | requires tokens (`courierwatch tokens add`), see docs/access.md |
| COURIERWATCH_API_RATE | 20 | requests per second per token (or client address), on average |
| COURIERWATCH_API_BURST | 60 | requests a caller may send at once before the rate applies |
| COURIERWATCH_TOKEN | (empty) | client side: the Bearer token the CLI sends to the API |
| COURIERWATCH_API_URL | (empty) | client side: read figures from this API (e.g. a remote |
|   |   | https://host) instead of the worker recorded in the data directory |
| COURIERWATCH_SWITCH_INTERVAL_S | 0.0002 | the worker's GIL switch interval (see streams.worker) |
| COURIERWATCH_CRASH_AFTER_BATCHES | 0 (off) | fault injection for recovery tests: the |
|   |   | worker dies right after its Nth ClickHouse insert, before the commit |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    kafka: str
    clickhouse: str
    database: str = "courierwatch"
    topic_prefix: str = ""
    partitions: int = 4
    allowed_lateness_s: float = 7 * 24 * 3600.0
    batch_messages: int = 200
    batch_within_s: float = 0.5
    insert_chunk_bytes: int = 64 * 1024 * 1024
    dlq_max_share: float = 0.5
    api_port: int = 8765
    api_host: str = "127.0.0.1"
    api_rate_per_s: float = 20.0
    api_burst: int = 60
    api_token: str = ""
    api_url: str = ""
    publish_grace_s: float = 3600.0
    publish_interval_s: float = 5.0
    crash_after_batches: int = 0
    switch_interval_s: float = 0.0002

    @property
    def embedded_kafka(self) -> bool:
        return self.kafka == "embedded"

    @property
    def scan_topic(self) -> str:
        return f"{self.topic_prefix}scan.v1"

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic_prefix}scan.v1.dlq"

    @property
    def consumer_group(self) -> str:
        return f"{self.topic_prefix}courierwatch-ingest"

    @property
    def broker_file(self) -> Path:
        """Where a running embedded broker records its address for other commands."""
        return self.data_dir / "broker.json"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def masked(self) -> dict[str, str]:
        """Printable settings with passwords in DSNs and the API token replaced by ***."""
        mask = re.compile(r"(//[^:/@]+:)[^@]+@")
        out = {k: mask.sub(r"\1***@", str(getattr(self, k))) for k in self.__slots__}
        if self.api_token:
            out["api_token"] = "***"
        return out


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from `env` (default: os.environ). Called once per command."""
    e = os.environ if env is None else env
    data_dir = Path(e.get("COURIERWATCH_DATA_DIR", ".courierwatch")).resolve()
    return Settings(
        data_dir=data_dir,
        kafka=e.get("COURIERWATCH_KAFKA", "embedded"),
        clickhouse=e.get("COURIERWATCH_CLICKHOUSE", f"chdb://{data_dir / 'clickhouse'}"),
        database=e.get("COURIERWATCH_DATABASE", "courierwatch"),
        topic_prefix=e.get("COURIERWATCH_TOPIC_PREFIX", ""),
        partitions=int(e.get("COURIERWATCH_PARTITIONS", "4")),
        allowed_lateness_s=float(e.get("COURIERWATCH_ALLOWED_LATENESS_S", 7 * 24 * 3600)),
        batch_messages=int(e.get("COURIERWATCH_BATCH_MESSAGES", "200")),
        batch_within_s=float(e.get("COURIERWATCH_BATCH_WITHIN_S", "0.5")),
        insert_chunk_bytes=int(e.get("COURIERWATCH_INSERT_CHUNK_BYTES", str(64 * 1024 * 1024))),
        dlq_max_share=float(e.get("COURIERWATCH_DLQ_MAX_SHARE", "0.5")),
        api_port=int(e.get("COURIERWATCH_API_PORT", "8765")),
        api_host=e.get("COURIERWATCH_API_HOST", "127.0.0.1"),
        api_rate_per_s=float(e.get("COURIERWATCH_API_RATE", "20")),
        api_burst=int(e.get("COURIERWATCH_API_BURST", "60")),
        api_token=e.get("COURIERWATCH_TOKEN", ""),
        api_url=e.get("COURIERWATCH_API_URL", "").rstrip("/"),
        publish_grace_s=float(e.get("COURIERWATCH_PUBLISH_GRACE_S", "3600")),
        publish_interval_s=float(e.get("COURIERWATCH_PUBLISH_INTERVAL_S", "5")),
        crash_after_batches=int(e.get("COURIERWATCH_CRASH_AFTER_BATCHES", "0")),
        switch_interval_s=float(e.get("COURIERWATCH_SWITCH_INTERVAL_S", "0.0002")),
    )


def settings_env(s: Settings) -> dict[str, str]:
    """The environment that rebuilds `s` in a child process (a worker)."""
    return {
        "COURIERWATCH_DATA_DIR": str(s.data_dir), "COURIERWATCH_KAFKA": s.kafka,
        "COURIERWATCH_CLICKHOUSE": s.clickhouse, "COURIERWATCH_DATABASE": s.database,
        "COURIERWATCH_TOPIC_PREFIX": s.topic_prefix,
        "COURIERWATCH_PARTITIONS": str(s.partitions),
        "COURIERWATCH_ALLOWED_LATENESS_S": str(s.allowed_lateness_s),
        "COURIERWATCH_BATCH_MESSAGES": str(s.batch_messages),
        "COURIERWATCH_BATCH_WITHIN_S": str(s.batch_within_s),
        "COURIERWATCH_INSERT_CHUNK_BYTES": str(s.insert_chunk_bytes),
        "COURIERWATCH_DLQ_MAX_SHARE": str(s.dlq_max_share),
        "COURIERWATCH_API_PORT": str(s.api_port),
        "COURIERWATCH_API_HOST": s.api_host,
        "COURIERWATCH_API_RATE": str(s.api_rate_per_s),
        "COURIERWATCH_API_BURST": str(s.api_burst),
        "COURIERWATCH_CRASH_AFTER_BATCHES": str(s.crash_after_batches),
        "COURIERWATCH_SWITCH_INTERVAL_S": str(s.switch_interval_s),
        "COURIERWATCH_PUBLISH_GRACE_S": str(s.publish_grace_s),
        "COURIERWATCH_PUBLISH_INTERVAL_S": str(s.publish_interval_s),
    }
