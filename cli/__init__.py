"""The command line, the top layer: parses arguments, builds settings, calls the services.

Nothing imports `cli`; it may import every package below it (docs/architecture.md).
"""
