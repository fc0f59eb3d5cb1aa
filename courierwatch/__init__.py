"""courierwatch core: the pure domain (no Kafka, no ClickHouse, no environment reads).

The contract (scan.v1), the city registry, SLA route classes, the policy catalog and
the KPI definitions live here as plain functions over plain data; `streams/` and
`services/` wire them to Kafka, ClickHouse and HTTP.
"""

__version__ = "0.1.0"
