"""Services: the command line, the HTTP API and dashboard, reports, orchestration."""
