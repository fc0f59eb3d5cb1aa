"""Where a provisioned Grafana reaches the data: the one place of the provisioning defaults.

`courierwatch provision grafana` takes its option defaults from `Targets()` (cli/parser.py)
and services.grafana.provision builds the data sources and the contact point from the
values given. Kept apart from provision.py so that the parser does not import
grafana-client (0.4 s) on every command.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Targets:
    """Where Grafana reaches the data: ClickHouse over HTTP and Prometheus, and where its
    contact point posts alert notifications. The defaults are deploy/compose.yaml's hosts."""

    clickhouse_url: str = "http://clickhouse:8123"
    clickhouse_user: str = "default"
    prometheus_url: str = "http://prometheus:9090"
    webhook_url: str = "http://courierwatch:8765/api/grafana-alerts"


DEFAULT_TARGETS = Targets()
