"""Stream processing: the faust app (streams.app), the ingest steps (decode, sink writes
under the retry policy, offsets, metrics, flood guard, fault hooks) composed by
streams.ingest, and the publisher of closed periods. The broker itself is in `runtime`,
the ClickHouse client and sinks in `warehouse`. See docs/architecture.md."""
