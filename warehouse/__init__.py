"""ClickHouse adapter: the client (warehouse.client), schema and migrations, the sink
contract and its ClickHouse and in-memory sinks, which errors are transient, KPI queries,
the KPI report and what the publisher reads.

Works the same against the in-process engine (`chdb:///dir`) and a ClickHouse server
(`http://host:8123`): both go through clickhouse-connect's `Client`.
"""
