"""`courierwatch process --input FILE`: the file through broker, workers and ClickHouse."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from runtime.broker import ensure_topics, kafka_bootstrap
from runtime.settings import Settings
from services.owner import ensure_unowned
from services.pipeline import end_offsets, publish_file, running_worker, wait_until_consumed
from services.progress import progress_bar
from warehouse.client import Warehouse
from warehouse.scoping import system_read


def completion_targets(before: dict[int, int], reported: dict[int, int], messages: int,
                       partitions: int) -> dict[int, int]:
    """The offsets the worker must commit before `process` may stop, per partition.

    `publish_file` sends its messages round-robin from partition 0, so partition p received
    messages // partitions (+1 for the first messages % partitions). The broker's reported
    end offsets alone are not trusted: tansu 0.6 under-reports the end of a partition that
    holds multi-record batches (docs/reliability.md), and stopping at that end would leave
    the tail of the file unprocessed. Each target is the larger of the two readings.
    """
    sent = {p: messages // partitions + (1 if p < messages % partitions else 0)
            for p in range(partitions)}
    return {p: max(reported.get(p, 0), before.get(p, 0) + sent[p]) for p in range(partitions)}


@system_read("the operator's summary after `process`, which needs the data directory "
             "itself (every city, by file access)")
def run_process(settings: Settings, path: Path, console: Console) -> dict[str, Any]:
    """Process the file to completion and return a summary of what the store now holds."""
    ensure_unowned(settings)
    started = time.monotonic()
    with kafka_bootstrap(settings) as bootstrap:
        ensure_topics(bootstrap, settings)
        before = end_offsets(bootstrap, settings.scan_topic, settings.partitions)
        with running_worker(settings, bootstrap) as worker, progress_bar(console) as bar:
            with open(path, "rb") as fh:
                total_lines = sum(1 for line in fh if line.strip())
            pub = bar.add_task("publishing", total=total_lines)
            messages, lines = publish_file(bootstrap, settings.scan_topic, path,
                                           settings.partitions,
                                           progress=lambda n: bar.advance(pub, n))
            targets = completion_targets(
                before, end_offsets(bootstrap, settings.scan_topic, settings.partitions),
                messages, settings.partitions)
            base = sum(before.values())
            ing = bar.add_task("processing (messages)", total=sum(targets.values()) - base)
            wait_until_consumed(bootstrap, settings, targets, worker,
                                progress=lambda n: bar.update(ing, completed=n - base))
    elapsed = time.monotonic() - started
    wh = Warehouse(settings.clickhouse, settings.database, cluster=settings.clickhouse_cluster)
    try:
        archived, distinct = wh.query(f"SELECT count(), uniqExact(event_id) FROM {wh.db}.events")[0]
        dead = wh.query(f"SELECT count() FROM {wh.db}.dead_letters")[0][0]
        late = wh.query(f"SELECT count() FROM {wh.db}.events WHERE late = 1")[0][0]
    finally:
        wh.close()
    return {"input_lines": lines, "messages": messages, "seconds": round(elapsed, 2),
            "archived_rows": int(archived), "distinct_events": int(distinct),
            "late_rows": int(late), "dead_letters": int(dead)}
