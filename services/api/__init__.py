"""The HTTP API and the built-in dashboard: routes, series, OpenAPI, static assets, and
the alert and audit endpoints."""
