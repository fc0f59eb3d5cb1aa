"""ClickHouse adapter: schema and migrations, batch writer, KPI queries.

Works the same against the in-process engine (`chdb:///dir`) and a ClickHouse server
(`http://host:8123`): both go through clickhouse-connect's `Client`.
"""
