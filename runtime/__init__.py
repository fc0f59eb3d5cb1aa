"""Runtime adapters beside the warehouse: the settings table (runtime.settings), the
embedded tansu broker and topic set-up (runtime.broker), loopback ports (runtime.ports).
The ClickHouse client is in `warehouse`. See docs/architecture.md."""
