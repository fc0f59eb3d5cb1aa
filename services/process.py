"""`courierwatch process --input FILE`: the file through broker, workers and ClickHouse."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from runtime.broker import ensure_topics, kafka_bootstrap
from runtime.settings import Settings
from services.owner import ensure_unowned
from services.pipeline import (
    WorkerDied,
    end_offsets,
    publish_file,
    running_worker,
    wait_until_consumed,
)
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


CSV_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xls")
IMPORT_HINT = ("a company's CSV or Excel export goes through `courierwatch import FILE "
               "--mapping MAPPING.yaml` (examples/olist/)")


class InputRejected(RuntimeError):
    """`process`/`import` input of which too much was rejected, or a worker that stopped:
    the message is the reason in one line."""


def looks_tabular(path: Path) -> bool:
    """True for a CSV/Excel file: by its suffix, or a first line that is not a JSON object
    but holds commas or tabs."""
    if path.suffix.lower() in CSV_SUFFIXES:
        return True
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                first = line.strip()
                return not first.startswith(b"{") and (b"," in first or b"\t" in first)
    return False


def rejection_verdict(summary: dict[str, Any], share: float, tabular: bool) -> str | None:
    """None when the run is acceptable; else why not, in one line: every line rejected, or
    more than `share` of them (COURIERWATCH_PROCESS_MAX_REJECTED_SHARE), with the first
    reasons, and for a tabular file the hint to use `import --mapping`."""
    lines, rejected = summary["lines_read"], summary["rejected"]
    if not lines or not rejected or (rejected < lines and rejected <= share * lines):
        return None
    what = "every line" if rejected == lines else f"{rejected:,} of {lines:,} lines"
    first = "; ".join(summary["first_rejections"]) or "see `courierwatch dead-letters`"
    hint = f"; {IMPORT_HINT}" if tabular else ""
    return (f"{what} of {summary['input']} rejected (more than "
            f"{share:.0%} allowed): {first}{hint}")


@system_read("this run's own counts for the operator who ran `process` (file access to the "
             "data directory: every city)")
def _run_counts(wh: Warehouse, since_ms: int) -> dict[str, Any]:
    """What this run stored and rejected: rows archived and dead letters received since
    `since_ms` (the run owns the store, so nothing else writes meanwhile)."""
    p = {"since": since_ms}
    since = "fromUnixTimestamp64Milli({since:Int64}, 'UTC')"
    stored, late = wh.query(f"SELECT count(), countIf(late = 1) FROM {wh.db}.events "
                            f"WHERE ingested_at >= {since}", p)[0]
    by_reason = dict(wh.query(f"SELECT reason, count() FROM {wh.db}.dead_letters FINAL "
                              f"WHERE received_at >= {since} GROUP BY reason "
                              "ORDER BY count() DESC, reason", p))
    first = wh.query(f"""SELECT reason, any(detail), min(msg_index) FROM {wh.db}.dead_letters
        FINAL WHERE received_at >= {since} GROUP BY reason ORDER BY count() DESC, reason
        LIMIT 3""", p)
    return {"stored": int(stored), "late": int(late),
            "rejected": sum(int(n) for n in by_reason.values()),
            "rejected_by_reason": {str(k): int(n) for k, n in by_reason.items()},
            "first_rejections": [f"{r}: {str(d)[:120]}" for r, d, _ in first]}


@system_read("the store's totals for the operator who ran `process` (file access to the "
             "data directory: every city)")
def _store_totals(wh: Warehouse) -> dict[str, int]:
    archived, distinct, late = wh.query(
        f"SELECT count(), uniqExact(event_id), countIf(late = 1) FROM {wh.db}.events")[0]
    dead = wh.query(f"SELECT count() FROM {wh.db}.dead_letters")[0][0]
    return {"archived_rows": int(archived), "distinct_events": int(distinct),
            "late_rows": int(late), "dead_letters": int(dead)}


def _open(settings: Settings) -> Warehouse:
    return Warehouse(settings.clickhouse, settings.database, cluster=settings.clickhouse_cluster)


@system_read("the operator's summary after `process`, which needs the data directory "
             "itself (every city, by file access)")
def run_process(settings: Settings, path: Path, console: Console) -> dict[str, Any]:
    """Process the file to completion and return what this run did with it (lines read,
    stored, new events, duplicates, rejected by reason, late) and the store's totals.

    Raises InputRejected, in one line, when the worker stops (a flood of bad input halts it,
    streams.flood) and for a file with no line."""
    ensure_unowned(settings)
    tabular = looks_tabular(path)
    wh = _open(settings)
    try:
        distinct_before = _store_totals(wh)["distinct_events"]
    finally:
        wh.close()
    started = time.monotonic()
    since_ms = int(time.time() * 1000) - 1000  # the worker's clock is this machine's
    with kafka_bootstrap(settings) as bootstrap:
        ensure_topics(bootstrap, settings)
        before = end_offsets(bootstrap, settings.scan_topic, settings.partitions)
        with running_worker(settings, bootstrap) as worker, progress_bar(console) as bar:
            with open(path, "rb") as fh:
                total_lines = sum(1 for line in fh if line.strip())
            if not total_lines:
                raise InputRejected(f"{path} holds no lines")
            pub = bar.add_task("publishing", total=total_lines)
            messages, lines = publish_file(bootstrap, settings.scan_topic, path,
                                           settings.partitions,
                                           progress=lambda n: bar.advance(pub, n))
            targets = completion_targets(
                before, end_offsets(bootstrap, settings.scan_topic, settings.partitions),
                messages, settings.partitions)
            base = sum(before.values())
            ing = bar.add_task("processing (messages)", total=sum(targets.values()) - base)
            try:
                wait_until_consumed(bootstrap, settings, targets, worker,
                                    progress=lambda n: bar.update(ing, completed=n - base))
            except WorkerDied as exc:
                hint = f"; {IMPORT_HINT}" if tabular else ""
                raise InputRejected(f"{path}: {exc}{hint}") from None
    elapsed = time.monotonic() - started
    wh = _open(settings)
    try:
        run, store = _run_counts(wh, since_ms), _store_totals(wh)
    finally:
        wh.close()
    new = store["distinct_events"] - distinct_before
    return {"input": str(path), "lines_read": lines, "stored": run["stored"],
            "new_events": new, "duplicates": run["stored"] - new,
            "rejected": run["rejected"], "rejected_by_reason": run["rejected_by_reason"],
            "first_rejections": run["first_rejections"], "late": run["late"],
            "messages": messages, "seconds": round(elapsed, 2), "tabular": tabular,
            "store": store,
            # the store's totals, also at the top level for scripts written before
            "distinct_events": store["distinct_events"], "dead_letters": store["dead_letters"]}
