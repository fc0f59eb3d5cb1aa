"""Grafana: provisioning of folder, data sources, dashboards and alert rules; per-scope access."""
