"""Grafana dashboards as code (grafana-foundation-sdk, build for Grafana 11.6).

Each dashboard is a function returning an SDK builder; `dashboards.build` renders them all
to `dashboards/json/*.json` (generated, never hand-edited) and the provisioning command
uploads the same objects.
"""
