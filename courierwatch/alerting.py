"""Alert evaluation over per-cell counts by event time. Pure.

A cell is city x company; its counts arrive per bucket of event time (5 minutes for the
event counts, an hour for the on-time join; `courierwatch.alert_model.CountModel`).
`Evaluator.advance(until_ms)` evaluates every bucket end up to `until_ms` in order, so the
alerts depend only on the counts and the evaluation instants, never on the wall clock:
a backfill, a replay and live traffic over the same events raise the same alerts.

Per target (docs/alerting.md has the reasoning and the measured detection table):
- the *miss share* is the share of the denominator's events that go against the target,
  and the *budget* the miss share the target allows (ceiling: its threshold; floor: one
  minus it; a 100 % target: `zero_budget_tolerance`);
- **exact test** (small cells): over trailing windows of 1 to 6 h, the misses are tested
  one-sided against the null share (binomial tail; Poisson when delays outnumber the
  window's acceptances) at `exact_alpha`; the null share is the budget, or the cell's own
  normal when that is higher (an upper bound of its miss share over the 24 h before the
  6 h windows: a chronic shortfall is in the daily figures, an incident is a departure
  from both the target and the cell's normal); misses scanned hours after their
  acceptance (delays) are also set against the acceptances they belong to;
- **burn rates** (large cells): a rule (long, short, factor) breaches when the long
  window holds `min_sample`, `min_misses` and a Wilson lower bound above factor x budget
  (capped half-way to 100 %) and the short window's share is above that too;
- an alert fires when either breaches and resolves once the recent miss share (the
  first of 30 min, 1 h, 6 h holding `resolve_min_sample`) is at most the null share,
  held for `clear_for_s`; after a resolution the windows of that alert start at the
  resolution, so a new alert needs fresh evidence, not the tail just resolved;
- binding targets page, aspirational ones (力争, 基本) warn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from courierwatch.alert_model import (
    EVENT_MODEL,
    FIRING,
    PAGE,
    RESOLVED,
    WARNING,
    Alert,
    CountModel,
    fingerprint,
)
from courierwatch.alert_stats import binomial_sf, poisson_sf, wilson_lower
from courierwatch.catalog import Catalog, PolicyTarget
from courierwatch.cities import CITIES
from courierwatch.judgement import DEFAULT_MIN_SAMPLE
from courierwatch.kpi import KPI_BY_NAME
from courierwatch.periods import CST

__all__ = ["AlertRules", "BurnRule", "Evaluator", "alert_level", "budget", "severity",
           "wilson_lower"]

Cell = tuple[str, str]  # city, company
Counts = tuple[int, ...]  # in the model's count order
HOUR_MS = 3_600_000


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

    The burn windows and factors are the SRE workbook's (ch. 5, "multiwindow, multi-burn-
    rate alerts": 1 h / 5 min at 14.4x, 6 h / 30 min at 6x). The exact test's level:
    1e-5 per test; with 6 windows every 5 minutes that is at most 1,728 tests a cell-day,
    strongly correlated; measured on healthy traffic (load_tests/detection.py) it gives
    far below one false alarm per 1,000 cell-days (docs/alerting.md).
    """

    bucket_s: int = 300
    rules: tuple[BurnRule, ...] = (BurnRule("fast", 3600, 300, 14.4),
                                   BurnRule("slow", 21600, 1800, 6.0))
    min_sample: int = DEFAULT_MIN_SAMPLE  # the figures' rule (COURIERWATCH_MIN_SAMPLE), over
    #                                       the tested window's denominator
    min_misses: int = 5             # burn rules: missing events in the long window
    confidence_z: float = 2.326     # burn rules: one-sided 99 % Wilson bound
    zero_budget_tolerance: float = 0.03  # the budget read into a 100 % (or 0) target
    exact_windows_s: tuple[int, ...] = (3600, 7200, 10800, 14400, 18000, 21600)
    exact_alpha: float = 1e-5       # one-sided, per test (window x evaluation)
    exact_min_misses: int = 3
    baseline_s: int = 86_400        # the cell's normal: the day before the longest window
    baseline_z: float = 1.645       # raised by this many standard deviations
    baseline_prior_misses: float = 5.0  # and shrunk toward the budget by these pseudo-misses
    resolve_windows_s: tuple[int, ...] = (1800, 3600, 7200, 21600)
    resolve_min_sample: int = DEFAULT_MIN_SAMPLE
    clear_for_s: int = 600
    settle_s: int = 600             # a bucket is evaluated once the watermark is this past it

    @property
    def history_s(self) -> int:
        """How far back the evaluator keeps buckets (the longest window)."""
        return max(max(r.long_s for r in self.rules), max(self.exact_windows_s),
                   max(self.resolve_windows_s))

    @property
    def load_s(self) -> int:
        """How far back a (re)started evaluator loads counts: the windows and the baseline."""
        return self.history_s + self.baseline_s


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


def severity(target: PolicyTarget) -> str:
    """Aspirational targets (力争, 基本) warn; binding ones page."""
    return WARNING if target.aspirational else PAGE


def tail_p(misses: int, n: int, share: float) -> float:
    """One-sided p-value of `misses` among `n` when the miss share is `share`: binomial,
    or Poisson when the misses outnumber the sample (delay scans of earlier acceptances)."""
    return binomial_sf(misses, n, share) if misses <= n else poisson_sf(misses, n * share)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A KPI x target compiled for the inner loop: where its misses are, and its levels."""

    kpi: str
    den: int
    count: int
    miss_is_count: bool    # the stored count is the misses (else: den - count)
    budget: float
    levels: tuple[float, ...]  # alert level per burn rule

    def misses(self, c: Sequence[int]) -> tuple[int, int]:
        den = c[self.den]
        return (c[self.count] if self.miss_is_count else den - c[self.count]), den

    def value(self, target: PolicyTarget, c: Sequence[int]) -> float | None:
        misses, den = self.misses(c)
        num = misses if target.comparator in ("<=", "<") else den - misses
        return KPI_BY_NAME[target.metric].value(num, den)


@dataclass(frozen=True, slots=True)
class Breach:
    rule: str
    window_s: int
    short_s: int
    factor: float          # burn: the rule's factor; exact: the null share over the budget
    misses: int
    sample: int
    p_value: float | None


class _Diff(Sequence[int]):
    """Counts of one window: cumulative sums at its end minus those at its start, each
    count computed when read (a target reads two of them)."""

    __slots__ = ("_now", "_then")

    def __init__(self, now: Counts, then: Counts) -> None:
        self._now, self._then = now, then

    def __getitem__(self, i: int) -> int:  # type: ignore[override]
        return self._now[i] - self._then[i]

    def __len__(self) -> int:
        return len(self._now)


class _Windows(Mapping[int, Sequence[int]]):
    """A cell's window sums at t, each the difference of two cumulative sums, computed
    on first use (most targets of a healthy cell look at one or two windows)."""

    __slots__ = ("_cum", "_spans", "_t")

    def __init__(self, cum: Mapping[int, Counts], t_ms: int, spans: set[int]) -> None:
        self._cum, self._t, self._spans = cum, t_ms, spans

    def __getitem__(self, span: int) -> Sequence[int]:
        if span not in self._spans:
            raise KeyError(span)
        return _Diff(self._cum[self._t], self._cum[self._t - span * 1000])

    def between(self, lo_s: int, hi_s: int) -> Sequence[int] | None:
        """Counts of the buckets in [t - hi, t - lo) (None when not kept)."""
        now, then = self._cum.get(self._t - lo_s * 1000), self._cum.get(self._t - hi_s * 1000)
        return None if now is None or then is None else _Diff(now, then)

    def __contains__(self, span: object) -> bool:
        return span in self._spans

    def __iter__(self) -> Iterator[int]:
        return iter(self._spans)

    def __len__(self) -> int:
        return len(self._spans)


@dataclass
class _Episode:
    """A firing alert; it resolves at `resolve_share` (the null share when it fired: a
    baseline taken later would hold the incident itself)."""

    alert: Alert
    resolve_share: float
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
    model: CountModel = EVENT_MODEL
    _buckets: dict[Cell, dict[int, Counts]] = field(default_factory=dict)
    _hourly: dict[Cell, dict[int, list[int]]] = field(default_factory=dict)  # for baselines
    _open: dict[tuple[Cell, str, str], _Episode] = field(default_factory=dict)
    _resolved: dict[tuple[Cell, str, str], int] = field(default_factory=dict)  # key -> when
    _targets: dict[tuple[Cell, date], list[tuple[str, PolicyTarget]]] = field(
        default_factory=dict)
    _cum: dict[Cell, dict[int, Counts]] = field(default_factory=dict)  # t -> sums before t
    _sums_at: int = 0  # the evaluation time of `_cum`; 0: rebuild it from the buckets
    _plans: dict[tuple[str, str], _Plan] = field(default_factory=dict)
    _pruned_at: int = 0

    def restore(self, alerts: Iterable[Alert]) -> None:
        """Resume after a restart from the alert history: the alerts still firing, and the
        resolution times of those resolved lately (their fresh-evidence rule holds on)."""
        for a in alerts:
            if a.kpi not in self.model.kpis:
                continue
            key = ((a.city, a.company), a.kpi, a.policy_id)
            if a.resolved_at_ms is None:
                share = a.burn_factor if a.rule == "exact" else 1.0  # x budget
                self._open[key] = _Episode(a, -share)  # negative: a factor, see _recovered
            else:
                self._resolved[key] = max(a.resolved_at_ms, self._resolved.get(key, 0))

    @property
    def open_alerts(self) -> list[Alert]:
        return [e.alert for e in self._open.values()]

    def add(self, city: str, company: str, bucket_ms: int, counts: Mapping[str, int]) -> None:
        if bucket_ms < self._sums_at:  # inside windows already summed: sum afresh
            self._sums_at = 0
        self._buckets.setdefault((city, company), {})[bucket_ms] = tuple(
            int(counts.get(n, 0)) for n in self.model.counts)

    def advance(self, until_ms: int) -> list[Alert]:
        """Evaluate each bucket end t with evaluated_until < t <= until_ms, oldest first."""
        step = self.model.bucket_s * 1000
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
            self._prune(self.evaluated_until_ms)
        return changes

    def _prune(self, now_ms: int) -> None:
        """Once an hour of event time: buckets past the longest window are folded into
        hourly sums (the baseline's), hourly sums past the baseline dropped."""
        if now_ms - self._pruned_at < HOUR_MS:
            return
        self._pruned_at = now_ms
        step = self.model.bucket_s * 1000
        lag_s = max((h for _, h in self.model.miss_lag_s.values()), default=0)
        oldest = now_ms - (self.rules.history_s + lag_s) * 1000 - step
        oldest_hour = now_ms - self.rules.load_s * 1000 - 2 * HOUR_MS
        for cell in list(self._buckets):
            buckets = self._buckets[cell]
            old = [b for b in buckets if b < oldest]
            if old:
                hourly = self._hourly.setdefault(cell, {})
                for b in old:
                    acc = hourly.setdefault(b // HOUR_MS * HOUR_MS, [0] * len(self.model.counts))
                    for i, v in enumerate(buckets.pop(b)):
                        acc[i] += v
            if not buckets:
                del self._buckets[cell]
                self._cum.pop(cell, None)
        for cell in list(self._hourly):
            hourly = self._hourly[cell]
            for h in [h for h in hourly if h < oldest_hour]:
                del hourly[h]
            if not hourly:
                del self._hourly[cell]

    @property
    def cells(self) -> list[Cell]:
        return sorted(self._buckets)

    def window(self, cell: Cell, t_ms: int, span_s: int) -> Counts:
        """Sums of the cell's counts over the buckets starting in [t - span, t)."""
        lo = t_ms - span_s * 1000
        sums = [0] * len(self.model.counts)
        for b, c in self._buckets.get(cell, {}).items():
            if lo <= b < t_ms:
                for i, v in enumerate(c):
                    sums[i] += v
        return tuple(sums)

    def baseline(self, cell: Cell, t_ms: int) -> Counts:
        """The cell's counts over `baseline_s` before the longest window ending at t
        (hourly resolution for the part already folded into hourly sums)."""
        hi = t_ms - self.rules.history_s * 1000
        lo = hi - self.rules.baseline_s * 1000
        sums = [0] * len(self.model.counts)
        for source in (self._hourly.get(cell, {}), self._buckets.get(cell, {})):
            for b, c in source.items():
                if lo <= b < hi:
                    for i, v in enumerate(c):
                        sums[i] += v
        return tuple(sums)

    def _spans(self) -> set[int]:
        """Every window length in use: whole numbers of buckets only (rolling sums drop
        whole buckets; a rule or window that is not one is skipped by this model)."""
        r = self.rules
        spans = {s for rule in r.rules for s in (rule.long_s, rule.short_s)}
        spans |= set(r.exact_windows_s) | set(r.resolve_windows_s) | {r.history_s}
        return {s for s in spans if s % self.model.bucket_s == 0}

    def _roll_sums(self, t_ms: int) -> set[Cell]:
        """Cumulative sums at t (of every bucket starting before t) per cell: those at
        t - one bucket plus the bucket that enters, or rebuilt from the buckets. A window
        is then the difference of two cumulative sums (`_Windows`), computed only when a
        target asks for it: O(cells) per step, plus O(windows) per judged target.
        Returns the cells whose windows changed (only they can change their judgement)."""
        step = self.model.bucket_s * 1000
        longest = (max(self._spans()) + max((h for _, h in self.model.miss_lag_s.values()),
                                            default=0)) * 1000
        incremental = self._sums_at and self._sums_at == t_ms - step
        changed: set[Cell] = set()
        spans = self._spans()
        for cell, buckets in self._buckets.items():
            cum = self._cum.get(cell)
            if not incremental or cum is None or (t_ms - step) not in cum:
                self._cum[cell] = self._rebuild(buckets, t_ms, longest)
                changed.add(cell)
                continue
            entering = buckets.get(t_ms - step)
            before = cum[t_ms - step]
            if entering is None:
                cum[t_ms] = before
            else:
                cum[t_ms] = tuple(x + y for x, y in zip(before, entering, strict=True))
                changed.add(cell)
            cum.pop(t_ms - longest - step, None)
            if cell not in changed and any(t_ms - step - s * 1000 in buckets for s in spans):
                changed.add(cell)  # a bucket left a window
        for cell in [c for c in self._cum if c not in self._buckets]:
            del self._cum[cell]
        self._sums_at = t_ms
        return changed

    def _rebuild(self, buckets: Mapping[int, Counts], t_ms: int, longest_ms: int
                 ) -> dict[int, Counts]:
        step = self.model.bucket_s * 1000
        lo = t_ms - longest_ms
        acc = [0] * len(self.model.counts)
        for b, c in buckets.items():
            if b < lo:
                for i, v in enumerate(c):
                    acc[i] += v
        cum: dict[int, Counts] = {}
        x = lo
        while x <= t_ms:
            cum[x] = tuple(acc)
            entering = buckets.get(x)
            if entering is not None:
                for i, v in enumerate(entering):
                    acc[i] += v
            x += step
        return cum

    def _applicable(self, cell: Cell, on: date) -> list[tuple[str, PolicyTarget]]:
        """(KPI name, target) of every target judging `cell` on `on`, for this model."""
        key = (cell, on)
        if key not in self._targets:
            out = []
            for kpi in self.model.kpis:
                base, _, route_class = kpi.partition(".")
                out += [(kpi, t) for t in self.catalog.for_cell(cell[0], base, on,
                                                                route_class or None)
                        if t.covers_company(cell[1])]
            self._targets[key] = out
        return self._targets[key]

    def _evaluate(self, t_ms: int) -> list[Alert]:
        on = datetime.fromtimestamp((t_ms - 1) / 1000, UTC).astimezone(CST).date()
        changed = self._roll_sums(t_ms)
        spans = self._spans()
        zeros = {s: (0,) * len(self.model.counts) for s in spans}
        changes: list[Alert] = []
        cells = changed | {k[0] for k in self._open}  # an unchanged cell judges as before
        for cell in sorted(cells):
            targets = self._applicable(cell, on)
            cum = self._cum.get(cell)
            windows: Mapping[int, Sequence[int]] = (
                zeros if cum is None else _Windows(cum, t_ms, spans))
            for kpi, target in targets:
                change = self._judge(cell, kpi, target, windows, t_ms)
                if change is not None:
                    changes.append(change)
        return changes

    def _plan(self, kpi: str, target: PolicyTarget) -> _Plan:
        plan = self._plans.get((kpi, target.id))
        if plan is None:
            how = self.model.kpis[kpi]
            index = self.model.index
            ceiling = target.comparator in ("<=", "<")
            tol = self.rules.zero_budget_tolerance
            plan = self._plans[(kpi, target.id)] = _Plan(
                kpi, index[how.denominator], index[how.count], ceiling != how.complement,
                budget(target, tol),
                tuple(alert_level(target, r.factor, tol) for r in self.rules.rules))
        return plan

    def null_share(self, cell: Cell, plan: _Plan, t_ms: int) -> tuple[float, int]:
        """(the share the exact test tests against, the baseline's sample): the budget, or
        the cell's normal when that is higher. A window is tested only against a baseline
        at least as large as itself (`_breach`): on a cold start a chronic shortfall would
        look like an incident.

        The normal is (k + z sqrt(k) + m b) / (n + m): the baseline's misses k among n,
        raised by z standard deviations (a low draw of a chronic cell must not page) and
        shrunk toward the budget b by `baseline_prior_misses` m b pseudo-misses (a short
        baseline with one miss must not block detection for a day)."""
        misses, n = plan.misses(self.baseline(cell, t_ms))
        prior = self.rules.baseline_prior_misses
        normal = ((misses + self.rules.baseline_z * math.sqrt(misses) + prior)
                  / (n + prior / plan.budget))
        return max(plan.budget, min(normal, 1.0)), n

    def _breach(self, cell: Cell, plan: _Plan, windows: Mapping[int, Sequence[int]],
                t_ms: int) -> Breach | None:
        """The first rule that breaches: the burn rules, then the exact test."""
        r = self.rules
        if r.history_s in windows and plan.misses(windows[r.history_s])[0] < min(
                r.min_misses, r.exact_min_misses):
            return None  # every window is within the longest: too few misses in any
        for rule, level in zip(r.rules, plan.levels, strict=True):
            if rule.short_s not in windows or rule.long_s not in windows:
                continue  # not whole buckets of this model
            misses, n = plan.misses(windows[rule.long_s])
            if n < r.min_sample or misses < r.min_misses or misses <= level * n:
                continue
            if wilson_lower(misses, n, r.confidence_z) <= level:
                continue
            s_miss, s_n = plan.misses(windows[rule.short_s])
            if s_n and s_miss / s_n > level:
                return Breach(rule.name, rule.long_s, rule.short_s, rule.factor, misses, n,
                              None)
        null: tuple[float, int] | None = None
        lag = self.model.miss_lag_s.get(plan.kpi)
        for w in r.exact_windows_s:
            if w not in windows:
                continue
            misses, n = plan.misses(windows[w])
            if lag and isinstance(windows, _Windows):
                n_from = self._scanned_from(plan, windows, w, lag)
                if 2 * n < n_from:
                    continue  # acceptances dwindling (dusk, a file's end): scans of older
                    #           parcels dominate, the window says nothing about now
                n = max(n, n_from)
            if n < r.min_sample or misses < r.exact_min_misses or misses <= plan.budget * n:
                continue
            p = tail_p(misses, n, plan.budget)
            if p > r.exact_alpha:
                continue
            if null is None:  # only now: the baseline costs a pass over the cell's buckets
                null = self.null_share(cell, plan, t_ms)
            share, n_base = null
            if n_base < max(n, r.min_sample):
                continue
            if share > plan.budget:
                p = tail_p(misses, n, share)
                if p > r.exact_alpha:
                    continue
            return Breach("exact", w, 0, round(share / plan.budget, 3), misses, n, p)
        return None

    @staticmethod
    def _scanned_from(plan: _Plan, windows: _Windows, w: int, lag: tuple[int, int]) -> int:
        """The acceptances a window's later scans belong to: those of [t - w - longest
        lag, t - shortest lag), scaled to the window's length. At dusk, or when a file's
        acceptances end, the scans keep coming while acceptances dwindle: against the
        window's own acceptances they would read as a spike."""
        lo, hi = lag
        earlier = windows.between(lo, w + hi)
        if earlier is None:
            return 0
        return plan.misses(earlier)[1] * w // (w + hi - lo)

    def _recovered(self, episode: _Episode, plan: _Plan,
                   windows: Mapping[int, Sequence[int]]) -> int | None:
        """How long recovery must hold (s) when the recent miss share is at most the
        episode's resolve share, over the first resolve window holding
        `resolve_min_sample`; None when it is above it, or no window holds the sample (a
        quiet night: recovery is not shown by an absence of data). The hold grows with
        the window (a third of it): a small cell, judged over hours, must stay clean
        longer before a lull between its sparse misses reads as the end."""
        if episode.resolve_share < 0:  # restored: a factor of the budget
            episode.resolve_share = -episode.resolve_share * plan.budget
        for span in self.rules.resolve_windows_s:
            if span not in windows:
                continue
            misses, n = plan.misses(windows[span])
            if n >= self.rules.resolve_min_sample:
                if misses > episode.resolve_share * n:
                    return None
                return max(self.rules.clear_for_s, span // 3)
        return None

    def _judge(self, cell: Cell, kpi: str, target: PolicyTarget,
               windows: Mapping[int, Sequence[int]], t_ms: int) -> Alert | None:
        key = (cell, kpi, target.id)
        plan = self._plan(kpi, target)
        episode = self._open.get(key)
        if episode is not None:
            return self._judge_open(episode, key, plan, target, windows, t_ms)
        resolved_ms = self._resolved.get(key)
        if resolved_ms is not None:  # after a resolution only fresh evidence counts
            if t_ms - resolved_ms >= self.rules.history_s * 1000:
                del self._resolved[key]
            else:
                windows = {s: self.window(cell, t_ms, min(s, (t_ms - resolved_ms) // 1000))
                           for s in windows}
        breach = self._breach(cell, plan, windows, t_ms)
        if breach is None:
            return None
        alert = self._new_alert(cell, kpi, target, t_ms,
                                self._fields(plan, target, breach, windows, t_ms))
        share = (breach.factor * plan.budget if breach.rule == "exact"
                 else self.null_share(cell, plan, t_ms)[0])
        self._open[key] = _Episode(alert, share)
        return alert

    def _judge_open(self, episode: _Episode, key: tuple[Cell, str, str], plan: _Plan,
                    target: PolicyTarget, windows: Mapping[int, Sequence[int]],
                    t_ms: int) -> Alert | None:
        """A firing alert resolves on recent figures alone (the long windows still hold
        the incident for hours after it ended); otherwise a breach updates it."""
        cell = key[0]
        hold_s = self._recovered(episode, plan, windows)
        if hold_s is not None:
            if episode.clear_since_ms is None:
                episode.clear_since_ms = t_ms
            if t_ms - episode.clear_since_ms < hold_s * 1000:
                return None
            del self._open[key]  # the figures stay those of the last breach
            self._resolved[key] = t_ms
            return replace(episode.alert, state=RESOLVED, resolved_at_ms=t_ms,
                           evaluated_at_ms=t_ms)
        episode.clear_since_ms = None
        breach = self._breach(cell, plan, windows, t_ms)
        if breach is None:
            return None
        fields_ = self._fields(plan, target, breach, windows, t_ms)
        episode.alert = replace(episode.alert, **fields_)  # type: ignore[arg-type]
        return episode.alert

    def _fields(self, plan: _Plan, target: PolicyTarget, b: Breach,
                windows: Mapping[int, Sequence[int]], t_ms: int) -> dict[str, object]:
        value = plan.value(target, windows[b.window_s])
        short = plan.value(target, windows[b.short_s]) if b.short_s else None
        lag = self.model.acceptance_lag_s.get(plan.kpi)
        return {"value": value if value is not None else 0.0, "rule": b.rule,
                "long_window_s": b.window_s, "short_window_s": b.short_s,
                "burn_factor": b.factor,
                "burn_rate": round(b.misses / b.sample / plan.budget, 3),
                "short_value": short, "sample": b.sample, "misses": b.misses,
                "last_breach_ms": t_ms, "evaluated_at_ms": t_ms, "p_value": b.p_value,
                "window_start_ms": t_ms - b.window_s * 1000, "window_end_ms": t_ms,
                "acceptance_before_ms": None if lag is None else t_ms - lag * 1000}

    def _new_alert(self, cell: Cell, kpi: str, target: PolicyTarget, t_ms: int,
                   fields_: dict[str, object]) -> Alert:
        city = CITIES.get(cell[0])
        return Alert(
            fingerprint=fingerprint(cell[0], cell[1], kpi, target.id),
            city=cell[0], city_zh=city.name_zh if city else "",
            city_en=city.name_en if city else "", company=cell[1], kpi=kpi,
            unit=target.unit, threshold=target.threshold, comparator=target.comparator,
            policy_id=target.id, source=target.source, section=target.section,
            quote=target.quote, strength=target.strength,
            severity=severity(target), state=FIRING, started_at_ms=t_ms, resolved_at_ms=None,
            **fields_)  # type: ignore[arg-type]
