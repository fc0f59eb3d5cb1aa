"""Wiring of the real components: settings, the embedded broker, the ClickHouse client."""
