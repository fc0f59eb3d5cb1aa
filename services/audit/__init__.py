"""The auditor's tools: the hash-chained audit log, replay, its diff and manifest, the HTML
report and its charts."""
