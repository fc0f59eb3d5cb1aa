"""Alert evaluation over per-cell counts by event time: multi-window burn rates. Pure.

A cell is city x company; its counts arrive per 5-minute bucket of event time (CST-aligned).
`Evaluator.advance(until_ms)` evaluates every bucket end up to `until_ms` in order, so the
alerts depend only on the counts and the evaluation instants, never on the wall clock:
a backfill, a replay and live traffic over the same events raise the same alerts.

Per target (docs/alerting.md has the reasoning):
- the *miss share* is the share of the denominator's events that go against the target
  (delays among acceptances for `delay_rate <= 2 per 1000`; parcels without x-ray for
  `xray_rate >= 100 %`), and the *budget* the miss share the target allows: the threshold
  of a ceiling (2 per 1000 = 0.002), one minus the threshold of a floor (95 % -> 0.05);
  a zero budget (100 % targets) is read as `zero_budget_tolerance`;
- a rule (long window, short window, factor) breaches when, over the long window, the
  sample reaches `min_sample`, at least `min_misses` events missed, and the one-sided
  Wilson lower bound of the miss share exceeds factor x budget; and over the short window
  the miss share itself exceeds it (the breach is still going on). factor x budget is
  capped half-way between the budget and 100 % (so a floor like locker share >= 12 % can
  alert at all);
- an alert fires when any rule breaches and resolves once, for `clear_for_s` on end, no
  rule breached and the miss share over `resolve_window_s` was at most the smallest
  factor x budget (hysteresis: firing needs evidence, resolving a clear figure); after a
  resolution the windows of that alert start at the resolution, so a new alert needs
  fresh evidence (the minimum sample and the bound over data seen since), not the tail
  of the incident that was just resolved;
- binding targets page, aspirational ones (力争, 基本) warn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from courierwatch.alert_model import (
    ALERT_COUNTS,
    ALERT_KPIS,
    COUNT_INDEX,
    FIRING,
    PAGE,
    RESOLVED,
    WARNING,
    Alert,
    fingerprint,
)
from courierwatch.catalog import Catalog, PolicyTarget
from courierwatch.cities import CITIES
from courierwatch.judgement import DEFAULT_MIN_SAMPLE
from courierwatch.kpi import KPI_BY_NAME
from courierwatch.periods import CST

Cell = tuple[str, str]  # city, company
Counts = tuple[int, ...]  # in ALERT_COUNTS order


@dataclass(frozen=True, slots=True)
class BurnRule:
    """Breach when the long window burns at `factor` x budget and the short one still does."""

    name: str
    long_s: int
    short_s: int
    factor: float


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Every alerting default, in one place (overridden from runtime.settings).

    The windows and factors are the SRE workbook's (ch. 5, "multiwindow, multi-burn-rate
    alerts": 1 h / 5 min at 14.4x, 6 h / 30 min at 6x).
    """

    bucket_s: int = 300
    rules: tuple[BurnRule, ...] = (BurnRule("fast", 3600, 300, 14.4),
                                   BurnRule("slow", 21600, 1800, 6.0))
    min_sample: int = DEFAULT_MIN_SAMPLE  # the figures' rule (COURIERWATCH_MIN_SAMPLE), over
    #                                       the long window's denominator
    min_misses: int = 5             # missing events in the long window
    confidence_z: float = 2.326     # one-sided 99 % Wilson bound on the long window
    zero_budget_tolerance: float = 0.03  # the budget read into a 100 % (or 0) target
    resolve_window_s: int = 3600
    clear_for_s: int = 1800
    settle_s: int = 600             # a bucket is evaluated once the watermark is this past it

    @property
    def history_s(self) -> int:
        return max(max(r.long_s for r in self.rules), self.resolve_window_s)


def budget(target: PolicyTarget, tolerance: float) -> float:
    """The miss share the target allows, as a fraction (see the module docstring)."""
    scale = KPI_BY_NAME[target.metric].scale
    if target.comparator in ("<=", "<"):
        b = target.threshold / scale
    else:
        b = 1.0 - target.threshold / scale
    return b if b > 0 else tolerance


def alert_level(target: PolicyTarget, factor: float, tolerance: float) -> float:
    """factor x budget, capped half-way between the budget and 100 %."""
    b = budget(target, tolerance)
    return min(factor * b, (1.0 + b) / 2)


def wilson_lower(misses: int, n: int, z: float) -> float:
    """One-sided Wilson score lower bound of a proportion (0 when n is 0)."""
    if n <= 0:
        return 0.0
    p = misses / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, (centre - margin) / (1 + z2 / n))


def kpi_value(target: PolicyTarget, c: Counts) -> float | None:
    num, den = ALERT_KPIS[target.metric].num_den(c)
    return KPI_BY_NAME[target.metric].value(num, den)


def severity(target: PolicyTarget) -> str:
    """Aspirational targets (力争, 基本) warn; binding ones page."""
    return WARNING if target.aspirational else PAGE


@dataclass(frozen=True, slots=True)
class _Plan:
    """A target compiled for the inner loop: where its misses are, and its levels."""

    den: int
    count: int
    miss_is_count: bool    # the stored count is the misses (else: den - count)
    levels: tuple[float, ...]  # alert level per rule
    resolve_level: float

    def misses(self, c: Sequence[int]) -> tuple[int, int]:
        den = c[self.den]
        return (c[self.count] if self.miss_is_count else den - c[self.count]), den


def compile_target(target: PolicyTarget, rules: AlertRules) -> _Plan:
    how = ALERT_KPIS[target.metric]
    ceiling = target.comparator in ("<=", "<")
    levels = tuple(alert_level(target, r.factor, rules.zero_budget_tolerance)
                   for r in rules.rules)
    return _Plan(COUNT_INDEX[how.denominator], COUNT_INDEX[how.count],
                 ceiling != how.complement, levels, min(levels))


@dataclass
class _Episode:
    alert: Alert
    clear_since_ms: int | None = None


@dataclass
class Evaluator:
    """Holds the recent buckets of every cell and the open alerts; see the module docstring.

    Feed buckets with `add` (a bucket may be replaced while it is not yet evaluated), then
    `advance(until_ms)`: it returns every new, updated and resolved alert, in order.
    """

    catalog: Catalog
    rules: AlertRules = field(default_factory=AlertRules)
    evaluated_until_ms: int = 0
    _buckets: dict[Cell, dict[int, Counts]] = field(default_factory=dict)
    _open: dict[tuple[Cell, str, str], _Episode] = field(default_factory=dict)
    _resolved: dict[tuple[Cell, str, str], int] = field(default_factory=dict)  # key -> when
    _targets: dict[tuple[str, date], list[PolicyTarget]] = field(default_factory=dict)
    _sums: dict[Cell, dict[int, list[int]]] = field(default_factory=dict)
    _sums_at: int = 0  # the evaluation time of `_sums`; 0: recompute them from the buckets
    _plans: dict[str, _Plan] = field(default_factory=dict)
    _pruned_at: int = 0

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Resume after a restart from the alert history: the alerts still firing, and the
        resolution times of those resolved lately (their fresh-evidence rule holds on)."""
        for a in alerts:
            key = ((a.city, a.company), a.kpi, a.policy_id)
            if a.resolved_at_ms is None:
                self._open[key] = _Episode(a)
            else:
                self._resolved[key] = max(a.resolved_at_ms, self._resolved.get(key, 0))

    @property
    def open_alerts(self) -> list[Alert]:
        return [e.alert for e in self._open.values()]

    def add(self, city: str, company: str, bucket_ms: int, counts: Mapping[str, int]) -> None:
        if bucket_ms < self._sums_at:  # inside windows already summed: sum afresh
            self._sums_at = 0
        self._buckets.setdefault((city, company), {})[bucket_ms] = tuple(
            int(counts.get(n, 0)) for n in ALERT_COUNTS)

    def advance(self, until_ms: int) -> list[Alert]:
        """Evaluate each bucket end t with evaluated_until < t <= until_ms, oldest first."""
        step = self.rules.bucket_s * 1000
        t = (self.evaluated_until_ms // step + 1) * step if self.evaluated_until_ms else 0
        if not t:
            first = min((min(b) for b in self._buckets.values() if b), default=None)
            if first is None:
                return []
            t = first + step
        changes: list[Alert] = []
        while t <= until_ms:
            changes += self._evaluate(t)
            self.evaluated_until_ms = t
            t += step
        self._prune(until_ms)
        return changes

    def _prune(self, now_ms: int) -> None:
        if now_ms - self._pruned_at < 3_600_000:  # at most once an hour of event time
            return
        self._pruned_at = now_ms
        oldest = now_ms - self.rules.history_s * 1000 - self.rules.bucket_s * 1000
        for cell in list(self._buckets):
            if next(iter(self._buckets[cell])) >= oldest:  # buckets come in time order
                continue
            kept = {b: c for b, c in self._buckets[cell].items() if b >= oldest}
            if kept:
                self._buckets[cell] = kept
            else:
                del self._buckets[cell]
                self._sums.pop(cell, None)

    @property
    def cells(self) -> list[Cell]:
        return sorted(self._buckets)

    def window(self, cell: Cell, t_ms: int, span_s: int) -> Counts:
        """Sums of the cell's counts over the buckets starting in [t - span, t)."""
        lo = t_ms - span_s * 1000
        sums = [0] * len(ALERT_COUNTS)
        for b, c in self._buckets.get(cell, {}).items():
            if lo <= b < t_ms:
                for i, v in enumerate(c):
                    sums[i] += v
        return tuple(sums)

    def _spans(self) -> set[int]:
        spans = {s for r in self.rules.rules for s in (r.long_s, r.short_s)}
        return spans | {self.rules.resolve_window_s, self.rules.history_s}

    def _roll_sums(self, t_ms: int) -> set[Cell]:
        """Window sums at t: from those at t - one bucket by adding the bucket that enters
        and subtracting those that leave (O(cells x windows) per step), or from scratch.
        Returns the cells whose sums changed (only they can change their judgement)."""
        step = self.rules.bucket_s * 1000
        spans = self._spans()
        incremental = self._sums_at and self._sums_at == t_ms - step
        changed: set[Cell] = set()
        for cell, buckets in self._buckets.items():
            sums = self._sums.get(cell)
            if not incremental or sums is None:
                self._sums[cell] = {s: list(self.window(cell, t_ms, s)) for s in spans}
                changed.add(cell)
                continue
            entering = buckets.get(t_ms - step)
            if entering is not None:
                changed.add(cell)
            for s, acc in sums.items():
                leaving = buckets.get(t_ms - step - s * 1000)
                if entering is not None:
                    for i, v in enumerate(entering):
                        acc[i] += v
                if leaving is not None:
                    changed.add(cell)
                    for i, v in enumerate(leaving):
                        acc[i] -= v
        self._sums_at = t_ms
        return changed

    def _applicable(self, city: str, on: date) -> list[PolicyTarget]:
        key = (city, on)
        if key not in self._targets:
            self._targets[key] = [t for kpi in ALERT_KPIS
                                  for t in self.catalog.for_cell(city, kpi, on)]
        return self._targets[key]

    def _evaluate(self, t_ms: int) -> list[Alert]:
        on = datetime.fromtimestamp((t_ms - 1) / 1000, UTC).astimezone(CST).date()
        changed = self._roll_sums(t_ms)
        zeros = {s: [0] * len(ALERT_COUNTS) for s in self._spans()}
        changes: list[Alert] = []
        cells = changed | {k[0] for k in self._open}  # an unchanged cell judges as before
        for cell in sorted(cells):
            targets = [t for t in self._applicable(cell[0], on) if t.covers_company(cell[1])]
            if not targets:
                continue
            windows = self._sums.get(cell, zeros)
            for target in targets:
                change = self._judge(cell, target, windows, t_ms)
                if change is not None:
                    changes.append(change)
        return changes

    def _plan(self, target: PolicyTarget) -> _Plan:
        plan = self._plans.get(target.id)
        if plan is None:
            plan = self._plans[target.id] = compile_target(target, self.rules)
        return plan

    def _breach(self, target: PolicyTarget, windows: Mapping[int, Sequence[int]]
                ) -> tuple[BurnRule, int, int, float | None] | None:
        """The first rule that breaches: (rule, misses, sample, short-window value)."""
        r = self.rules
        plan = self._plan(target)
        for rule, level in zip(r.rules, plan.levels, strict=True):
            misses, n = plan.misses(windows[rule.long_s])
            if n < r.min_sample or misses < r.min_misses or misses <= level * n:
                continue
            if wilson_lower(misses, n, r.confidence_z) <= level:
                continue
            s_miss, s_n = plan.misses(windows[rule.short_s])
            if s_n and s_miss / s_n > level:
                return rule, misses, n, kpi_value(target, tuple(windows[rule.short_s]))
        return None

    def _recovered(self, target: PolicyTarget, windows: Mapping[int, Sequence[int]]) -> bool:
        """The miss share is at most the lowest alert level over the resolve window, or,
        when that lacks the minimum sample (a quiet night), over the longest window; with
        neither reaching it, recovery is not shown and the alert stays open."""
        plan = self._plan(target)
        for span in (self.rules.resolve_window_s, self.rules.history_s):
            misses, n = plan.misses(windows[span])
            if n >= self.rules.min_sample:
                return misses <= plan.resolve_level * n
        return False

    def _judge(self, cell: Cell, target: PolicyTarget, windows: Mapping[int, Sequence[int]],
               t_ms: int) -> Alert | None:
        key = (cell, target.metric, target.id)
        episode = self._open.get(key)
        resolved_ms = self._resolved.get(key)
        if resolved_ms is not None:  # after a resolution only fresh evidence counts
            if t_ms - resolved_ms >= self.rules.history_s * 1000:
                del self._resolved[key]
            else:
                windows = {s: self.window(cell, t_ms, min(s, (t_ms - resolved_ms) // 1000))
                           for s in windows}
        breach = self._breach(target, windows)
        if breach is not None:
            rule, misses, n, short_value = breach
            value = kpi_value(target, tuple(windows[rule.long_s]))
            level = budget(target, self.rules.zero_budget_tolerance)
            fields_ = {"value": value if value is not None else 0.0, "rule": rule.name,
                       "long_window_s": rule.long_s, "short_window_s": rule.short_s,
                       "burn_factor": rule.factor, "burn_rate": round(misses / n / level, 3),
                       "short_value": short_value, "sample": n, "misses": misses,
                       "last_breach_ms": t_ms, "evaluated_at_ms": t_ms}
            if episode is None:
                alert = self._new_alert(cell, target, t_ms, fields_)
                self._open[key] = _Episode(alert)
                return alert
            episode.alert = replace(episode.alert, **fields_)  # type: ignore[arg-type]
            episode.clear_since_ms = None
            return episode.alert
        if episode is None:
            return None
        if not self._recovered(target, windows):
            episode.clear_since_ms = None
            return None
        if episode.clear_since_ms is None:
            episode.clear_since_ms = t_ms
        if t_ms - episode.clear_since_ms < self.rules.clear_for_s * 1000:
            return None
        del self._open[key]  # the figures stay those of the last breach
        self._resolved[key] = t_ms
        return replace(episode.alert, state=RESOLVED, resolved_at_ms=t_ms, evaluated_at_ms=t_ms)

    def _new_alert(self, cell: Cell, target: PolicyTarget, t_ms: int,
                   fields_: dict[str, object]) -> Alert:
        city = CITIES.get(cell[0])
        return Alert(
            fingerprint=fingerprint(cell[0], cell[1], target.metric, target.id),
            city=cell[0], city_zh=city.name_zh if city else "",
            city_en=city.name_en if city else "", company=cell[1], kpi=target.metric,
            unit=target.unit, threshold=target.threshold, comparator=target.comparator,
            policy_id=target.id, source=target.source, section=target.section,
            quote=target.quote, strength=target.strength,
            severity=severity(target), state=FIRING, started_at_ms=t_ms, resolved_at_ms=None,
            **fields_)  # type: ignore[arg-type]
