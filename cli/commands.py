"""Command handlers: turn parsed arguments into settings and values, call the services."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from courierwatch.catalog import load_catalog
from courierwatch.cities import city_label
from courierwatch.companies import load_company_lists
from courierwatch.filter_values import (
    FilterError,
    check_range,
    kpi_matches,
    parse_city,
    parse_company,
    parse_kpis,
)
from courierwatch.labels import document_label, kpi_label
from courierwatch.periods import as_cst
from courierwatch.routes import load_route_table
from courierwatch.units import fmt_target
from runtime.settings import load_settings
from services.progress import progress_bar


class UserError(Exception):
    """A mistake in the command line: printed without a traceback, exit status 2."""


def parse_time(text: str | None) -> datetime | None:
    """ISO date or date-time; China Standard Time unless it carries an offset."""
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"not an ISO 8601 date or time: {text!r}") from exc
    return as_cst(t)


def generate(args: argparse.Namespace) -> int:
    from load_tests.generator import GeneratorConfig, parse_incident, write_jsonl

    kwargs: dict[str, Any] = {"count": args.count, "seed": args.seed,
                              "span_hours": args.span_hours, "duplicate_rate": args.duplicates,
                              "disorder_s": args.disorder}
    if args.start:
        kwargs["start"] = parse_time(args.start)
    try:
        kwargs["incidents"] = tuple(parse_incident(s) for s in args.incident)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    config = GeneratorConfig(**kwargs)
    console = Console(stderr=True)
    with progress_bar(console) as bar:
        task = bar.add_task("generating", total=args.count)
        n = write_jsonl(config, Path(args.out), progress=lambda k: bar.advance(task, k))
    console.print(f"wrote {n:,} events to {args.out}")
    return 0


def process(args: argparse.Namespace) -> int:
    from services.process import InputRejected, rejection_verdict, run_process

    path = Path(args.input)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    settings = load_settings()
    try:
        summary = run_process(settings, path, Console(stderr=True))
    except InputRejected as exc:
        raise UserError(str(exc)) from None
    if args.format == "json":
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        print_run_summary(summary)
    verdict = rejection_verdict(summary, settings.process_max_rejected_share,
                                summary["tabular"])
    if verdict:
        print(f"courierwatch: {verdict}", file=sys.stderr)
        return 1
    return 0


def print_run_summary(summary: dict[str, Any]) -> None:
    """This run's own counts first, then the store's totals (one line each)."""
    console = Console(highlight=False)
    console.print(f"{summary['input']}: {summary['lines_read']:,} lines read: "
                  f"{summary['stored']:,} stored ({summary['new_events']:,} new events, "
                  f"{summary['duplicates']:,} duplicates, {summary['late']:,} late), "
                  f"{summary['rejected']:,} rejected; {summary['seconds']} s", markup=False)
    for reason, n in summary["rejected_by_reason"].items():
        console.print(f"  rejected {n:>7,}  {reason}", markup=False)
    store = summary["store"]
    console.print(f"store: {store['distinct_events']:,} distinct events in "
                  f"{store['archived_rows']:,} archived rows, {store['late_rows']:,} late, "
                  f"{store['dead_letters']:,} dead letters", markup=False)


def _filters(args: argparse.Namespace) -> tuple[str | None, str | None, datetime | None,
                                                 datetime | None]:
    """(city code, company, start, end) from --city/--company/--from/--to, by the rules the
    API applies too (courierwatch.filter_values): a mistake is a UserError, never an empty
    answer."""
    start, end = parse_time(args.start), parse_time(args.end)
    try:
        city = parse_city(args.city) if args.city else None
        company = parse_company(args.company) if args.company else None
        check_range(start, end)
    except FilterError as exc:
        raise UserError(str(exc)) from None
    return city, company, start, end


def _print_json(rows: object) -> None:
    sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")


def kpi(args: argparse.Namespace) -> int:
    from cli.render import kpi_table, to_csv
    from services.figures_source import KPI_ROWS, fetch_rows

    city, company, start, end = _filters(args)
    try:
        wanted = parse_kpis(args.kpi) if args.kpi else None
    except FilterError as exc:
        raise UserError(str(exc)) from None
    if args.by == "range" and (start is None or end is None):
        raise UserError("--by range needs --from and --to")
    rows = fetch_rows(load_settings(), KPI_ROWS, city, company, start, end, args.by)
    if wanted:
        rows = [r for r in rows if kpi_matches(r["kpi"], wanted)]
    if args.breaches:
        rows = [r for r in rows if r["status"] == "breach"]
    if args.format == "json":
        _print_json(rows)
    elif args.format == "csv":
        sys.stdout.write(to_csv(rows))
    else:
        scope = city_label(city) if city else "all cities"
        Console().print(kpi_table(rows, title=f"KPIs by {args.by}: {scope}, "
                                  f"{company or 'all companies'}", lang=args.lang))
    return 0


def replay(args: argparse.Namespace) -> int:
    from services.audit.replay import run_replay
    from services.figures_source import local_scope
    from services.owner import reclaim_orphan_worker, running_api
    from warehouse.queries import CellFilter

    settings = load_settings()
    city, company, start, end = _filters(args)
    if start is None or end is None:
        raise UserError("replay needs --from and --to")
    out = Path(args.out)
    reclaim_orphan_worker(settings.data_dir)
    base = running_api(settings.data_dir) if settings.embedded_clickhouse else None
    if base:  # `serve` or the demo owns the store: the worker replays, we copy the files
        summary = _replay_through(settings, base, city, company, start, end, args.by, out)
    else:
        flt = CellFilter(city, company, start, end, args.by, scope=local_scope(settings))
        summary = run_replay(settings, flt, out, console=Console(stderr=True))
    if args.format == "json":
        _print_json(summary)
    else:
        Console().print(" ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


def _replay_through(settings: Any, base: str, city: str | None, company: str | None,
                    start: datetime, end: datetime, by: str, out: Path) -> dict[str, Any]:
    """Replay in the running worker (GET /api/replay), then move its files to `out`."""
    import os
    import shutil
    import time

    from services.api.audit import REPLAYS_DIR
    from services.owner import get_json

    name = f"cli-{int(time.time() * 1000)}-{os.getpid()}"
    Console(stderr=True).print(f"a worker ({base}) owns {settings.data_dir}: replaying "
                               "there")
    params = {"city": city or "", "company": company or "", "from": start.isoformat(),
              "to": end.isoformat(), "by": by, "name": name}
    summary = dict(get_json(base, "/api/replay", params, timeout_s=24 * 3600.0,
                            token=settings.api_token))
    made = settings.data_dir / REPLAYS_DIR / name
    out.mkdir(parents=True, exist_ok=True)
    for f in sorted(made.iterdir()):
        shutil.move(str(f), str(out / f.name))
    made.rmdir()
    return summary | {"out": str(out), "replayed_by": base}


def _print_rows(args: argparse.Namespace, rows: list[dict[str, Any]], title: str,
                columns: tuple[str, ...], cells: Callable[[dict[str, Any]], list[str]]) -> int:
    """Rows as JSON (`--format json`) or as a rich table of `columns`, one `cells(row)` each."""
    from rich.table import Table

    if args.format == "json":
        _print_json(rows)
        return 0
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for r in rows:
        table.add_row(*cells(r))
    Console().print(table)
    return 0


def restatements(args: argparse.Namespace) -> int:
    from courierwatch.verdicts import judged, verdict_changed
    from services.figures_source import RESTATEMENT_ROWS, fetch_rows

    settings, catalog = load_settings(), load_catalog()
    rows = fetch_rows(settings, RESTATEMENT_ROWS, *_filters(args))
    for r in rows:  # each side judged against the cell's targets, as `kpi` judges
        cell = (r["city"], r["company"], str(r["period_start"])[:19], r["kpi"])
        old = judged(catalog, *cell, r["old_numerator"], r["old_denominator"],
                     settings.min_sample)
        new = judged(catalog, *cell, r["new_numerator"], r["new_denominator"],
                     settings.min_sample)
        r |= {"old_shown": old["shown"], "new_shown": new["shown"],
              "old_status": old["status"], "new_status": new["status"],
              "targets": new["targets"],
              "verdict_changed": verdict_changed(old["status"], new["status"])}
    changed = sum(1 for r in rows if r["verdict_changed"])
    if args.verdict_changed:
        rows = [r for r in rows if r["verdict_changed"]]
    return _print_rows(
        args, rows, f"Restatements of published figures: {len(rows):,} shown, {changed:,} "
        "change a verdict (pass <-> breach)",
        ("restated at (UTC)", "period", "city", "company", "kpi", "targets", "old", "new",
         "cause"),
        lambda r: [r["restated_at"][:19], f"{r['period']} {r['period_start'][:16]}",
                   city_label(r["city"]), r["company"], kpi_label(r["kpi"], args.lang),
                   "\n".join(r["targets"]) or "–",
                   f"{r['old_shown']} {r['old_status']} "
                   f"({r['old_numerator']:g}/{r['old_denominator']:g})",
                   ("[bold red]" if r["verdict_changed"] else "")
                   + f"{r['new_shown']} {r['new_status']} "
                   f"({r['new_numerator']:g}/{r['new_denominator']:g})"
                   + ("[/]" if r["verdict_changed"] else ""), r["cause"]])


def conflicts(args: argparse.Namespace) -> int:
    from services.figures_source import CONFLICT_ROWS, fetch_rows

    rows = fetch_rows(load_settings(), CONFLICT_ROWS)
    return _print_rows(
        args, rows, f"Conflicting re-sends: {len({r['event_id'] for r in rows})} event ids",
        ("event id", "counts", "ts", "city", "company", "type", "partition", "offset"),
        lambda r: [str(r["event_id"]), "yes" if r["counts"] else "no", str(r["ts"]),
                   city_label(str(r["city"])), str(r["company"]), str(r["type"]),
                   str(r["partition"]), str(r["offset"])])


def dead_letters(args: argparse.Namespace) -> int:
    from services.figures_source import fetch_dead_letters

    if args.limit < 1:
        raise UserError("--limit must be at least 1")
    rows, by_reason = fetch_dead_letters(load_settings(), *_filters(args), args.reason,
                                         args.limit)
    total = sum(by_reason.values())
    shown = (f"all {total:,}" if len(rows) >= total else
             f"the newest {len(rows):,} of {total:,}; --limit N shows more, --reason R one "
             "reason")
    title = f"Dead letters: {shown}" + "".join(
        f", {k} {n:,}" for k, n in sorted(by_reason.items()))
    if args.format == "json":
        _print_json(rows)
        if len(rows) < total:
            print(f"courierwatch: {shown}", file=sys.stderr)
        return 0
    return _print_rows(
        args, rows, title,
        ("received (UTC)", "reason", "detail", "city", "source position", "redacted copy"),
        lambda r: [str(r["received_at"])[:19], str(r["reason"]), str(r["detail"])[:60],
                   city_label(str(r["city"])) if r["city"] else "–",
                   str(r.get("source_position") or
                       f"{r['topic']}/{r['partition']}/{r['offset']}#{r['msg_index']}"),
                   str(r["redacted"])[:80]])


def policies_export(args: argparse.Namespace) -> int:
    data = load_catalog().export()
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return 0


def policies_counts(args: argparse.Namespace) -> int:
    sys.stdout.write(load_catalog().counts_sentence() + "\n")
    return 0


def policies_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    catalog, company_lists = load_catalog(), load_company_lists()
    try:
        city = parse_city(args.city) if args.city else None
    except FilterError as exc:
        raise UserError(str(exc)) from None
    table = Table(title="Policy catalog (targets of the five seed plans)", show_lines=True)
    for col in ("id", "metric", "target", "strength", "scope", "companies", "in force",
                "document (文号), section", "quote"):
        table.add_column(col, overflow="fold")
    for t in catalog.targets:
        if not args.all and t.measurable_by != "events":
            continue
        if city and not t.applies_to(city, datetime.max.date()):
            continue
        scope = t.scope + ": " + ", ".join(city_label(c) if c[-1] != "*" else c
                                           for c in t.cities)
        strength = "[yellow]aspirational[/]" if t.aspirational else "binding"
        named = [n for n, codes in company_lists.items() if codes == t.companies]
        companies = ("all" if t.companies is None else
                     f"{named[0]}: " * bool(named) + ", ".join(t.companies))
        table.add_row(t.id, kpi_label(t.metric, args.lang)
                      + (f" [{t.route_class}]" if t.route_class else ""),
                      fmt_target(t.comparator, t.threshold, t.unit), strength, scope,
                      companies, t.effective.isoformat(),
                      f"{document_label(t.source)}, {t.section} ({t.source})", t.quote)
    Console().print(table)
    load_route_table()  # validates the route-class file alongside
    return 0


def serve(args: argparse.Namespace) -> int:
    import time

    from runtime.broker import ensure_topics, kafka_bootstrap
    from services.access.guard import check_bind
    from services.pipeline import running_worker

    settings = load_settings()
    if args.host:
        settings = settings.with_(api_host=args.host)
    check_bind(settings)
    port = args.port or settings.api_port
    console = Console()
    with kafka_bootstrap(settings) as bootstrap:
        ensure_topics(bootstrap, settings)
        with running_worker(settings, bootstrap, web_port=port) as worker:
            console.print(f"courierwatch serving: dashboard http://{settings.api_host}:{port}/"
                          f" · API /api/kpi · metrics /metrics · producers: bootstrap {bootstrap}, "
                          f"topic {settings.scan_topic} · Ctrl-C stops")
            while worker.alive():
                time.sleep(1)
            print(f"courierwatch: the worker stopped (exit status {worker.proc.returncode}): "
                  f"{worker.failure_reason()}; its log: {worker.log_path}", file=sys.stderr)
            return 1


def demo(args: argparse.Namespace) -> int:
    from cli.demo import run_demo

    return run_demo(load_settings(), args.duration, args.format, args.rate)


def bench(args: argparse.Namespace) -> int:
    from load_tests.bench import run_bench
    from load_tests.bench_report import bench_table

    if args.duration <= 0:
        raise UserError("--duration must be positive")
    if args.rate is not None and args.rate < 0:
        raise UserError("--rate must be >= 0")
    if args.workers < 1 or (args.partitions is not None and args.partitions < args.workers):
        raise UserError("--workers must be >= 1 and --partitions at least --workers")
    result = run_bench(load_settings(), args.duration, args.format, args.mode, args.rate,
                       workers=args.workers, partitions=args.partitions,
                       hostile=args.hostile, peer=args.peer)
    if args.format == "json":
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        Console().print(bench_table(result))
    return 0


def _without_credentials(url: str) -> str:
    """The URL with any user:password removed (never written to the audit log)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def provision_grafana(args: argparse.Namespace) -> int:
    from grafana_client.api import GrafanaApi
    from grafana_client.client import GrafanaException

    from services.grafana.provision import provision, total_steps
    from services.grafana.targets import Targets

    token = load_settings().grafana_token or None
    if token is None and "@" not in args.url:
        raise UserError("set COURIERWATCH_GRAFANA_TOKEN to a Grafana service-account token "
                        "(or put user:password in --url)")
    api = GrafanaApi.from_url(args.url, credential=token, timeout=30.0)
    catalog = load_catalog()
    targets = Targets(clickhouse_url=args.clickhouse_url, prometheus_url=args.prometheus_url,
                      webhook_url=args.webhook_url)
    console = Console(stderr=True)
    try:
        with progress_bar(console) as bar:
            task = bar.add_task("provisioning Grafana", total=total_steps(catalog))
            summary = provision(api, catalog, targets, lambda _: bar.advance(task))
    except GrafanaException as exc:
        raise RuntimeError(f"Grafana refused: {exc}") from exc
    from services.audit import log as audit_log

    audit_log.append(  # provisioning runs are on the hash-chained audit log (docs/audit.md)
        audit_log.current_actor(), "provision_grafana",
        {"url": _without_credentials(args.url), "clickhouse_url": args.clickhouse_url,
         "prometheus_url": args.prometheus_url, "webhook_url": args.webhook_url},
        {"objects": [{"kind": k, "uid": u, "action": a} for k, u, a in summary.actions]})
    if args.format == "json":
        print(json.dumps([{"kind": k, "uid": u, "action": a} for k, u, a in summary.actions],
                         ensure_ascii=False, indent=2))
    else:
        for kind, uid, action in summary.actions:
            console.print(f"{action:9} {kind:14} {uid}")
    return 0


def show_settings(args: argparse.Namespace) -> int:
    from rich.table import Table

    values = load_settings().masked()
    if args.format == "json":
        _print_json(values)
        return 0
    table = Table(title="Effective settings (secrets masked)")
    table.add_column("variable")
    table.add_column("value", overflow="fold")
    for name, value in values.items():
        table.add_row(name, value)
    Console().print(table)
    return 0
