"""Load tests: the synthetic scan.v1 event generator and the benchmark harness."""
