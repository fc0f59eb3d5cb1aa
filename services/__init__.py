"""Services: the worker process (services.worker), the HTTP API and dashboard, starting
workers and publishing files (services.pipeline), `process`, `replay`, and who owns the
data directory. The command line is in `cli`, above; see docs/architecture.md."""
