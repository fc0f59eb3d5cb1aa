"""The `courierwatch` argument parser: one small function per command.

Each function adds its command, its `--help` text and its arguments, and binds the
handler of `cli.commands`. To add a command: write its handler there and its function
here, and list the function in `COMMANDS`.
"""

from __future__ import annotations

import argparse
from typing import Any

from cli import access_commands, alerts, audit_commands, commands, import_command
from services.grafana.targets import DEFAULT_TARGETS

Subparsers = Any  # argparse's _SubParsersAction, private in typeshed


def _add_filters(p: argparse.ArgumentParser, time_of: str = "event time") -> None:
    p.add_argument("--city", help="6-digit code, Chinese or English name (台州, Taizhou "
                   "(Zhejiang)), or YRD for the Yangtze River Delta region")
    p.add_argument("--company", help="brand code in any case: SF, ZTO, YTO, STO, YUNDA, JT, JD, "
                   "EMS, ...; * for the rows summing every company")
    p.add_argument("--from", dest="start", metavar="T",
                   help=f"start of {time_of}, inclusive: 2026-11-02 or 2026-11-02T08:00 "
                   "(China Standard Time unless an offset is given)")
    p.add_argument("--to", dest="end", metavar="T", help=f"end of {time_of}, exclusive")


def _demo(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="run everything on the embedded defaults with live KPIs",
                       description="Start the embedded broker, ClickHouse (chDB), the stream "
                       "workers and a generator for the seed cities; show live KPIs against "
                       "the seeds' targets. Ctrl-C or --duration stops it.")
    p.add_argument("--duration", type=float, help="stop after this many seconds and print "
                   "the final KPI report")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--rate", type=int, default=5000, help="generated events per second")
    p.set_defaults(func=commands.demo)


def _serve(sub: Subparsers) -> None:
    p = sub.add_parser("serve", help="run the worker with the HTTP API, dashboard and /metrics",
                       description="Start the broker (embedded unless COURIERWATCH_KAFKA names "
                       "one) and a stream worker that owns ClickHouse and serves the live "
                       "dashboard at /, the API at /api/kpi and /api/restatements, and "
                       "Prometheus metrics at /metrics. Runs until Ctrl-C.")
    p.add_argument("--port", type=int, help="HTTP port (default COURIERWATCH_API_PORT, 8765)")
    p.add_argument("--host", help="address to listen on (default COURIERWATCH_API_HOST, "
                   "127.0.0.1); any other address needs API tokens (courierwatch tokens add)")
    p.set_defaults(func=commands.serve)


def _generate(sub: Subparsers) -> None:
    p = sub.add_parser("generate", help="write synthetic scan.v1 events (JSON lines)",
                       description="Deterministic synthetic scan.v1 events for the seed "
                       "cities and the YRD's main cities: same --seed, same bytes.")
    p.add_argument("--count", type=int, required=True, help="number of events (duplicates "
                   "included)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output file (.jsonl)")
    p.add_argument("--start", help="first acceptance time, ISO 8601 (default "
                   "2026-11-02T00:00+08:00)")
    p.add_argument("--span-hours", type=float, default=24.0,
                   help="acceptances are spread over this many hours")
    p.add_argument("--duplicates", type=float, default=0.0,
                   help="share of events re-sent with the same event_id, e.g. 0.1")
    p.add_argument("--disorder", type=float, default=0.0, metavar="SECONDS",
                   help="emit events up to this much event time out of order")
    p.add_argument("--incident", action="append", default=[], metavar="SPEC",
                   help="kind:city:company:start:hours:factor, e.g. "
                   "delay:331000:ZTO:2026-11-02T08:00+08:00:6:20 (repeatable)")
    p.set_defaults(func=commands.generate)


def _process(sub: Subparsers) -> None:
    p = sub.add_parser("process", help="run a scan.v1 file through the real pipeline",
                       description="Publish the file through the broker, ingest it with the "
                       "stream workers into ClickHouse, exit once all of it is processed. "
                       "Running it again on the same file changes no figure.")
    p.add_argument("--input", required=True, help="scan.v1 events, JSON lines")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="format of the summary")
    p.set_defaults(func=commands.process)


def _kpi(sub: Subparsers) -> None:
    p = sub.add_parser("kpi", help="KPIs per city x company x period with targets",
                       description="One row per city x company x period x KPI: numerator, "
                       "denominator, value, and every applicable target with pass/breach. "
                       "company '*' sums all companies; city YRD sums the YRD cities.")
    _add_filters(p)
    p.add_argument("--by", choices=("hour", "day", "week", "month", "range"), default="day",
                   help="period of a row: hour, day, week (from Monday), month, or range "
                   "(one row per cell for the whole --from..--to)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--lang", choices=("zh", "en"), default="zh",
                   help="zh (default): Chinese KPI labels beside the identifiers in the table")
    p.add_argument("--breaches", action="store_true", help="only rows that breach a target")
    p.add_argument("--kpi", metavar="NAMES", help="only these KPIs, comma-separated: "
                   "on_time_rate,delay_rate (on_time_rate includes its route classes)")
    p.set_defaults(func=commands.kpi)


def _replay(sub: Subparsers) -> None:
    p = sub.add_parser("replay", help="recompute a period from the event archive, for audit",
                       description="Pin the archive at its latest ingest, copy the "
                       "period's events into an isolated database, recompute every figure with "
                       "the same code, compare with the live and the published figures, and "
                       "write to DIR: kpis.json (rows as `kpi --format json`, canonical: two "
                       "replays give identical bytes), manifest.json (range, counts, archive "
                       "offsets, input/output SHA-256, code and catalog versions), "
                       "differences.json (each difference with its cause), report.html "
                       "(self-contained, printable) and events.csv (the events behind the "
                       "figures). Appends a record to the audit log.")
    _add_filters(p)
    p.add_argument("--by", choices=("hour", "day"), default="day")
    p.add_argument("--out", default="replay", metavar="DIR", help="output folder")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=commands.replay)


def _restatements(sub: Subparsers) -> None:
    p = sub.add_parser("restatements", help="changes to already-published figures",
                       description="A period is published once event time has passed its "
                       "end plus the grace period; late events that change a published figure "
                       "are recorded here with old and new values, cause and time.")
    _add_filters(p)
    p.add_argument("--verdict-changed", action="store_true",
                   help="only restatements that turned a pass into a breach or back")
    p.add_argument("--lang", choices=("zh", "en"), default="zh",
                   help="zh (default): Chinese KPI labels beside the identifiers")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=commands.restatements)



def _dead_letters(sub: Subparsers) -> None:
    p = sub.add_parser("dead-letters", help="rejected input: reasons, where it came from",
                       description="Every input line or message the pipeline rejected, "
                       "newest first: the reason, the topic, partition, offset and index in "
                       "the message it came from, a redacted copy (digits of anything that "
                       "looks like personal data masked) and the SHA-256 of the bytes as "
                       "received, never the bytes. Within your scope by the city the copy "
                       "names (docs/reliability.md).")
    _add_filters(p, time_of="arrival (when the pipeline received it)")
    p.add_argument("--reason", help="one reason: not_json, schema, type_fields, future_ts, "
                   "pii, oversized, too_deep, crash, undecodable_batch, ...")
    p.add_argument("--limit", type=int, default=1000, help="show at most this many, newest "
                   "first (the title says how many there are in all)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=commands.dead_letters)


def _conflicts(sub: Subparsers) -> None:
    p = sub.add_parser("conflicts", help="event ids re-sent with different contents",
                       description="Every version of every event id that arrived with more "
                       "than one content, the one that counts marked (the earliest ts, then "
                       "city, company, type, content hash; docs/reliability.md), with the "
                       "partition and offset it was first read from.")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=commands.conflicts)


def _policies(sub: Subparsers) -> None:
    p = sub.add_parser("policies", help="the policy catalog of the five seed documents",
                       description="Every quantitative target of the seed plans, with its "
                       "source file, section and the original sentence.")
    psub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    pe = psub.add_parser("export", help="the catalog as JSON")
    pe.add_argument("--format", choices=("json",), default="json")
    pe.set_defaults(func=commands.policies_export)
    pl = psub.add_parser("list", help="a readable table of the catalog",
                         description="One row per target with its threshold, strength "
                         "(binding, or aspirational for 力争/基本 sentences), city scope, "
                         "company scope (all, or the major brands), effective date, source "
                         "and quote.")
    pl.add_argument("--city", help="only targets that apply to this city")
    pl.add_argument("--all", action="store_true", help="include targets measured by "
                    "reference data, not events")
    pl.add_argument("--lang", choices=("zh", "en"), default="zh",
                    help="zh (default): Chinese KPI labels beside the identifiers")
    pl.set_defaults(func=commands.policies_list)
    pc = psub.add_parser("counts", help="the README's sentence of catalog counts",
                         description="How many targets the catalog holds, how many are "
                         "measurable from events, aspirational, or for the major brands only; "
                         "the README's block between the catalog-counts markers is this text.")
    pc.set_defaults(func=commands.policies_counts)


def _provision(sub: Subparsers) -> None:
    p = sub.add_parser("provision", help="provision a Grafana with the dashboards and alerts",
                       description="Upsert, by fixed uid, the courierwatch folder, the ClickHouse "
                       "and Prometheus data sources, the dashboards of dashboards/, the contact "
                       "point and one alert rule per catalog target. Idempotent: a second run "
                       "creates nothing. The API token comes from COURIERWATCH_GRAFANA_TOKEN "
                       "(or user:password in the URL).")
    psub = p.add_subparsers(dest="target", required=True, metavar="TARGET")
    pg = psub.add_parser("grafana", help="provision a Grafana over its HTTP API",
                         description="Provision a Grafana (tested against a recorded stub, "
                         "not a live Grafana; see dashboards/README.md).")
    pg.add_argument("--url", required=True, help="Grafana base URL, e.g. http://grafana:3000")
    pg.add_argument("--clickhouse-url", default=DEFAULT_TARGETS.clickhouse_url,
                    help="ClickHouse HTTP address as Grafana reaches it")
    pg.add_argument("--prometheus-url", default=DEFAULT_TARGETS.prometheus_url,
                    help="Prometheus address as Grafana reaches it")
    pg.add_argument("--webhook-url", default=DEFAULT_TARGETS.webhook_url,
                    help="where the contact point posts alert notifications")
    pg.add_argument("--format", choices=("table", "json"), default="table")
    pg.set_defaults(func=commands.provision_grafana)


def _alerts(sub: Subparsers) -> None:
    p = sub.add_parser("alerts", help="alerts raised on breaches of the plans' targets",
                       description="Alerts per city x company x KPI x policy, raised by the "
                       "multi-window burn-rate evaluation of docs/alerting.md.")
    asub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    al = asub.add_parser("list", help="firing and resolved alerts, newest first",
                         description="One object per alert episode with city, company, kpi, "
                         "state (firing|resolved), value, threshold, policy_id, started_at, "
                         "resolved_at and its windows, sample and source quote.")
    al.add_argument("--active", action="store_true", help="only alerts firing now")
    al.add_argument("--city", help="code or name (台州, Wuhan, 331000)")
    al.add_argument("--company", help="brand code")
    al.add_argument("--format", choices=("table", "json"), default="table")
    al.set_defaults(func=alerts.alerts_list)


def _bench(sub: Subparsers) -> None:
    p = sub.add_parser("bench", help="benchmark the whole pipeline and a naive baseline",
                       description="Drive the whole pipeline on the embedded defaults (its own "
                       "broker and ClickHouse under <data dir>/bench, wiped at start) with "
                       "generated traffic; report sustained events/s, scan-to-queryable "
                       "latency p50/p99, worker peak memory and lag over time, and the naive "
                       "one-event-at-a-time faust baseline measured in the same run. "
                       "See load_tests/README.md.")
    p.add_argument("--duration", type=float, default=60.0, metavar="S",
                   help="seconds of sustained load (throughput mode; default 60)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--mode", choices=("throughput", "memory", "replay"), default="throughput",
                   help="throughput (default): sustained rate, latency, memory, baseline; "
                   "memory: 5 million parcels in flight, worker peak RSS; replay: recompute "
                   "all KPIs of a period from a 10-million-event archive")
    p.add_argument("--rate", type=float, metavar="EVENTS_PER_S",
                   help="offered rate of the sustained phase (default 105000: the 100000 target "
                   "plus 5%%; 0 = as fast as the producer can)")
    p.add_argument("--workers", type=int, default=1,
                   help="throughput mode: workers in one consumer group (scale-out; with more "
                   "than 1 each has a private chDB, a stand-in for a ClickHouse server)")
    p.add_argument("--partitions", type=int,
                   help="throughput mode: partitions of the bench topic (default 4)")
    p.add_argument("--hostile", action="store_true",
                   help="throughput mode: a hostile mix, 10%% of messages with an explicit "
                   "null field and 1%% with a rejected event (docs/reliability.md)")
    p.add_argument("--no-peer", dest="peer", action="store_false",
                   help="throughput mode: skip the Quix Streams peer (load_tests/peer.py)")
    p.set_defaults(func=commands.bench)


def _settings(sub: Subparsers) -> None:
    p = sub.add_parser("settings", help="the effective settings, secrets masked",
                       description="Every COURIERWATCH_* variable with the value this "
                       "process would use (defaults filled in, passwords masked). The table "
                       "of meanings is in the README (generated from runtime.settings).")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=commands.show_settings)


def _audit(sub: Subparsers) -> None:
    p = sub.add_parser("audit", help="the hash-chained audit log: list, verify, export",
                       description="Every replay, import, policy catalog change, provisioning "
                       "run and token change is appended to a hash-chained log (kept in "
                       "ClickHouse table audit_log and in <data dir>/audit/audit.jsonl).")
    asub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = asub.add_parser("list", help="the records in seq order",
                        description="Every record: seq, time, actor, action, inputs, outputs.")
    a.add_argument("--format", choices=("table", "json"), default="table")
    a.set_defaults(func=audit_commands.audit_list)
    a = asub.add_parser("verify", help="check the chain; name the first broken link",
                        description="Check seq continuity, each record's hashes and its link "
                        "to the one before, in ClickHouse and in the journal, and that both "
                        "agree. Exit status 1 names the first broken seq.")
    a.add_argument("--format", choices=("table", "json"), default="table")
    a.set_defaults(func=audit_commands.audit_verify)
    a = asub.add_parser("export", help="the records as JSON lines (canonical, re-verifiable)",
                        description="Write every record as one canonical JSON line.")
    a.add_argument("--out", metavar="FILE", help="output file (default: standard output)")
    a.set_defaults(func=audit_commands.audit_export)


def _import(sub: Subparsers) -> None:
    p = sub.add_parser("import", help="turn a company's CSV/xlsx export into scan.v1 events "
                       "and process them",
                       description="Validate MAPPING.yaml (errors name its line), map each "
                       "row of FILE (CSV, or Excel .xlsx) to scan.v1 events (deterministic ids: "
                       "importing the same file again changes no figure), write rows that "
                       "cannot be mapped to a reject file with the reason, then run the events "
                       "through the real pipeline as `process` does. See examples/olist/.")
    p.add_argument("file", metavar="FILE", help="the export: .csv or .xlsx")
    p.add_argument("--mapping", required=True, metavar="MAPPING.yaml",
                   help="the declarative column mapping")
    p.add_argument("--rejects", metavar="FILE.csv", help="where rejected rows go (default "
                   "<data dir>/imports/<source>-<file hash>.rejects.csv)")
    p.add_argument("--check", action="store_true",
                   help="validate and map only: write events and rejects, process nothing")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="format of the summary")
    p.set_defaults(func=import_command.import_file)


COMMANDS = (_demo, _serve, _generate, _process, _kpi, _replay, _restatements, _conflicts,
            _dead_letters, _policies, _bench, _settings, _audit, _import, _provision, _alerts,
            access_commands.tokens_parser, access_commands.access_parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="courierwatch",
        description="Express-delivery service monitoring for postal regulators (邮政管理局): "
        "scan events -> KPIs against the targets of the municipal and regional plans.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser
