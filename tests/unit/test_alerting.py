"""The pure alert evaluator (courierwatch.alerting), driven by synthetic bucket counts.

The clock is the evaluator's own: `advance(t)` evaluates event time up to t, so no test
sleeps. Expected figures are computed here from the counts the test made up.
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from courierwatch.alert_model import (
    ALERT_COUNTS,
    FIRING,
    PAGE,
    RESOLVED,
    WARNING,
    Alert,
    fingerprint,
    joined_model,
)
from courierwatch.alerting import AlertRules, Evaluator, wilson_lower
from courierwatch.catalog import Catalog, load_catalog

CATALOG = load_catalog()
BUCKET_MS = 300_000
HOUR_MS = 3_600_000
T0 = 1_793_548_800_000  # 2026-11-02T00:00+08:00
TAIZHOU, WUHAN = "331000", "420100"

# Per-parcel rates of a healthy network (those of load_tests/lifecycle.py).
HEALTHY = {"exc_delay": 3e-3, "exc_damage": 2e-5, "exc_loss": 1e-5, "not_standard": 0.04,
           "not_e_waybill": 0.01, "not_recycled_bag": 0.15, "not_real_name": 0.005,
           "not_inspected": 0.01, "not_xray": 0.03}


def bucket(rng: random.Random, accepted: int, **rates: float) -> dict[str, int]:
    """One 5-minute bucket: `accepted` parcels (as many deliveries), misses drawn per rate."""
    r = HEALTHY | rates

    def draw(n: int, p: float) -> int:
        return sum(rng.random() < p for _ in range(n))

    ecommerce = draw(accepted, 0.7)
    c = {k: draw(accepted, p) for k, p in r.items()}
    c |= {"accepted": accepted, "accepted_ecommerce": ecommerce, "delivered": accepted,
          "delivered_locker": draw(accepted, r.get("locker", 0.15)),
          "ecommerce_secondary": draw(ecommerce, 0.10)}
    return {k: v for k, v in c.items() if k in ALERT_COUNTS}


def feed(ev: Evaluator, city: str, company: str, hours: float, per_bucket: int,
         rng: random.Random, start_ms: int = T0, step: bool = True,
         rates_at: object = None) -> list[Alert]:
    """Feed `hours` of buckets; with `step`, advance after each (live), else once (backfill)."""
    changes: list[Alert] = []
    for i in range(int(hours * 12)):
        b = start_ms + i * BUCKET_MS
        rates = rates_at(b) if callable(rates_at) else {}
        ev.add(city, company, b, bucket(rng, per_bucket, **rates))
        if step:
            changes += ev.advance(b + BUCKET_MS)
    if not step:
        changes += ev.advance(start_ms + int(hours * 12) * BUCKET_MS)
    return changes


def incident(start_h: float, hours: float, **rates: float) -> object:
    lo, hi = T0 + int(start_h * HOUR_MS), T0 + int((start_h + hours) * HOUR_MS)
    return lambda b: rates if lo <= b < hi else {}


def transitions(changes: list[Alert]) -> list[tuple[str, str, str, str]]:
    """(state, city, company, policy) of each new or resolved alert, in order."""
    return [(a.state, a.city, a.company, a.policy_id) for a in changes
            if a.state == RESOLVED or a.started_at_ms == a.evaluated_at_ms]


def test_eight_hour_delay_incident_fires_once_with_its_figures_and_resolves() -> None:
    """5 % of ZTO's Taizhou parcels delayed for 8 h of a healthy day: exactly one alert, on
    the YRD plan's delay target (seed 003 专栏: <= 2 per 1000), paging, firing during the
    incident with the long window's figures, resolved after recovery."""
    rng = random.Random(1)
    ev = Evaluator(CATALOG)
    changes = feed(ev, TAIZHOU, "ZTO", 24, 60, rng,
                   rates_at=incident(8, 8, exc_delay=0.05))
    assert transitions(changes) == [(FIRING, TAIZHOU, "ZTO", "yrd-2020-delay-rate"),
                                    (RESOLVED, TAIZHOU, "ZTO", "yrd-2020-delay-rate")]
    first = next(a for a in changes if a.state == FIRING)
    assert T0 + 8 * HOUR_MS < first.started_at_ms <= T0 + 9 * HOUR_MS
    assert first.severity == PAGE and first.kpi == "delay_rate" and first.threshold == 2
    assert first.city_zh == "台州" and first.comparator == "<="
    assert "延误率" in first.quote and first.source.startswith("003_")
    resolved = changes[-1]
    assert T0 + 16 * HOUR_MS < resolved.resolved_at_ms <= T0 + 18 * HOUR_MS
    assert resolved.fingerprint == first.fingerprint == fingerprint(
        TAIZHOU, "ZTO", "delay_rate", "yrd-2020-delay-rate")


def test_alert_value_is_the_long_window_figure() -> None:
    """The firing alert's value and sample are delays per 1000 and acceptances over the
    rule's long window, as computed here from the fed buckets."""
    rng = random.Random(2)
    ev = Evaluator(CATALOG)
    fed: dict[int, dict[str, int]] = {}
    for i in range(12 * 12):
        b = T0 + i * BUCKET_MS
        fed[b] = bucket(rng, 60, exc_delay=0.05 if i >= 48 else HEALTHY["exc_delay"])
        ev.add(TAIZHOU, "ZTO", b, fed[b])
        new = [a for a in ev.advance(b + BUCKET_MS) if a.started_at_ms == a.evaluated_at_ms]
        if new:
            a = new[0]
            break
    else:
        pytest.fail("no alert")
    lo = a.evaluated_at_ms - a.long_window_s * 1000
    inside = [c for t, c in fed.items() if lo <= t < a.evaluated_at_ms]
    delays, accepted = sum(c["exc_delay"] for c in inside), sum(c["accepted"] for c in inside)
    assert a.sample == accepted and a.misses == delays
    assert a.value == pytest.approx(delays / accepted * 1000)


@pytest.mark.parametrize(("city", "per_bucket", "rates", "why"), [
    pytest.param(TAIZHOU, 60, {}, "healthy rates of the generator", id="healthy-large"),
    pytest.param(TAIZHOU, 3, {}, "40 parcels an hour: one delay is 25 per 1000", id="small"),
    pytest.param(WUHAN, 200, {"not_xray": 0.04}, "x-ray 96 % vs 100 %: a chronic shortfall,"
                 " in the figures, not an incident", id="chronic-xray"),
    pytest.param(TAIZHOU, 60, {"locker": 0.13}, "locker share 13 % vs >= 12 %",
                 id="locker-near-floor"),
])
def test_healthy_noise_raises_nothing(city: str, per_bucket: int, rates: dict[str, float],
                                      why: str) -> None:
    """Three days of noisy healthy traffic raise no alert (the issue: not woken by noise)."""
    ev = Evaluator(CATALOG)
    changes = feed(ev, city, "YTO", 72, per_bucket, random.Random(3),
                   rates_at=lambda b: rates)
    assert changes == [], why


def test_a_single_delay_in_a_tiny_cell_is_not_a_breach() -> None:
    """40 parcels in an hour with one delay (25 per 1000, 12x the target) raises nothing:
    below the minimum sample and the minimum misses."""
    ev = Evaluator(CATALOG)
    for i in range(12):
        ev.add(TAIZHOU, "JD", T0 + i * BUCKET_MS,
               {"accepted": 4 if i % 3 else 3, "exc_delay": 1 if i == 5 else 0})
    assert ev.advance(T0 + HOUR_MS) == []


@pytest.mark.parametrize(("rates", "policy"), [
    pytest.param({"not_xray": 0.3}, "wuhan-2025-xray", id="zero-budget-floor"),
    pytest.param({"locker": 0.0}, "yrd-2020-locker-share", id="large-budget-floor"),
])
def test_floor_targets_alert_on_a_real_shortfall(rates: dict[str, float], policy: str) -> None:
    """A 100 % target (budget read as 1 %) and a floor with a budget of 88 % (capped level)
    both alert when the share collapses for hours."""
    city = WUHAN if policy.startswith("wuhan") else TAIZHOU
    ev = Evaluator(CATALOG)
    changes = feed(ev, city, "STO", 6, 60, random.Random(4), rates_at=lambda b: rates)
    assert policy in {p for _, _, _, p in transitions(changes)}


def test_no_flapping_while_the_incident_hovers_at_the_level() -> None:
    """A miss share alternating hour by hour between 4x and 20x the budget gives one alert
    episode, not one per hour (hysteresis)."""
    ev = Evaluator(CATALOG)
    changes = feed(ev, TAIZHOU, "ZTO", 12, 80, random.Random(5), rates_at=lambda b: {
        "exc_delay": 0.04 if (b - T0) // HOUR_MS % 2 else 0.008})
    assert [s for s, *_ in transitions(changes)] == [FIRING]


def test_backfill_and_live_evaluation_agree() -> None:
    """The same buckets evaluated bucket by bucket (live) and all at once (a backfill or a
    replay) give the same transitions with the same times and figures."""
    rates = incident(3, 6, exc_delay=0.06)
    live = feed(Evaluator(CATALOG), TAIZHOU, "ZTO", 16, 50, random.Random(6), rates_at=rates)
    back = feed(Evaluator(CATALOG), TAIZHOU, "ZTO", 16, 50, random.Random(6), rates_at=rates,
                step=False)
    assert live and live == back


def test_restore_continues_an_open_alert_instead_of_raising_a_second() -> None:
    """After a restart the evaluator resumes the firing alert from history: the same
    episode resolves, no second one fires."""
    rng = random.Random(7)
    ev = Evaluator(CATALOG)
    rates = incident(0, 4, exc_delay=0.06)
    first = feed(ev, TAIZHOU, "ZTO", 4, 60, rng, rates_at=rates)
    again = Evaluator(CATALOG, evaluated_until_ms=ev.evaluated_until_ms)
    again.restore(ev.open_alerts)
    for b, c in ev._buckets[(TAIZHOU, "ZTO")].items():
        again.add(TAIZHOU, "ZTO", b, dict(zip(ALERT_COUNTS, c, strict=True)))
    rest = feed(again, TAIZHOU, "ZTO", 6, 60, rng, start_ms=T0 + 4 * HOUR_MS)
    assert [s for s, *_ in transitions(first + rest)] == [FIRING, RESOLVED]


def test_aspirational_targets_warn_binding_targets_page() -> None:
    """An incident on an aspirational target (力争/基本) raises a warning, the same incident
    on the binding version of that target a page."""
    strict = CATALOG.by_id("yrd-2020-delay-rate")
    for strength, expected in (("binding", PAGE), ("aspirational", WARNING)):
        catalog = Catalog(tuple(replace(t, strength=strength) if t.id == strict.id else t
                                for t in CATALOG.targets))
        changes = feed(Evaluator(catalog), TAIZHOU, "ZTO", 4, 60, random.Random(8),
                       rates_at=lambda b: {"exc_delay": 0.06})
        assert {(a.policy_id, a.severity, a.strength) for a in changes} == {
            (strict.id, expected, strength)}


def test_company_scoped_targets_skip_other_companies() -> None:
    """A target scoped to some companies (主要品牌) alerts on their cells only."""
    strict = CATALOG.by_id("yrd-2020-delay-rate")
    catalog = Catalog(tuple(replace(t, companies=("SF",)) if t.id == strict.id else t
                            for t in CATALOG.targets))
    rates = {"exc_delay": 0.06}
    for company, alerts in (("SF", 1), ("ZTO", 0)):
        changes = feed(Evaluator(catalog), TAIZHOU, company, 4, 60, random.Random(9),
                       rates_at=lambda b: rates)
        assert len({a.fingerprint for a in changes}) == alerts


@pytest.mark.parametrize(("misses", "n", "lo", "hi"), [
    pytest.param(0, 100, 0.0, 1e-12, id="none"),
    pytest.param(50, 100, 0.38, 0.39, id="half"),
    pytest.param(5, 100, 0.018, 0.022, id="five-percent"),
])
def test_wilson_lower_bound(misses: int, n: int, lo: float, hi: float) -> None:
    """The one-sided 99 % Wilson lower bound (z = 2.326) against values computed by hand."""
    assert lo <= wilson_lower(misses, n, AlertRules().confidence_z) <= hi


def test_fingerprints_are_stable_and_distinct() -> None:
    """Same labels, same fingerprint, a value fixed across releases (receivers deduplicate on
    it); any label changed, another one. The literal: `sha256sum` (coreutils) of the labels
    `alertname=CourierwatchTargetBreach`, `city=331000`, `company=ZTO`, `kpi=delay_rate`,
    `policy_id=yrd-2020-delay-rate` joined by NUL bytes, first 16 hex digits."""
    base = fingerprint(TAIZHOU, "ZTO", "delay_rate", "yrd-2020-delay-rate")
    assert base == fingerprint(TAIZHOU, "ZTO", "delay_rate", "yrd-2020-delay-rate")
    assert base == "39c43473a281bf23"
    others = {fingerprint(WUHAN, "ZTO", "delay_rate", "yrd-2020-delay-rate"),
              fingerprint(TAIZHOU, "YTO", "delay_rate", "yrd-2020-delay-rate"),
              fingerprint(TAIZHOU, "ZTO", "loss_rate", "yrd-2020-delay-rate"),
              fingerprint(TAIZHOU, "ZTO", "delay_rate", "x")}
    assert base not in others and len(others) == 4


def test_the_alert_count_bits_keep_their_released_order() -> None:
    """Bit i of `alert_cells.flags` is ALERT_COUNTS[i], and every database migrated since
    0011 stores those bits: the counts derived from the KPI table must keep this order, a
    new count coming only after them."""
    released = ("accepted", "accepted_ecommerce", "delivered", "delivered_locker",
                "exc_delay", "exc_damage", "exc_loss", "complaint_filed", "complaint_accepted",
                "complaint_resolved", "complaint_valid", "complaint_satisfied",
                "company_complaint_resolved", "company_complaint_satisfied", "not_standard",
                "not_e_waybill", "ecommerce_secondary", "not_recycled_bag", "not_real_name",
                "not_inspected", "not_xray")
    assert ALERT_COUNTS[:len(released)] == released


def test_on_time_class_alert_names_the_acceptances_its_late_parcels_belong_to() -> None:
    """The join model: 30 % of Taizhou ZTO's 48 h-class deliveries late (10x the 3 %
    tolerance) raise the binding Taizhou target's page and the YRD plan's warning, each
    saying its late parcels were accepted before the window's end minus 48 h; the 12 h
    class of the same cell, on time, raises nothing."""
    model = joined_model({"yrd_key_12h": 12, "national_key_48h": 48})
    ev = Evaluator(CATALOG, model=model)
    rng = random.Random(10)
    changes: list[Alert] = []
    for i in range(48 * 12):  # a day healthy, then late deliveries
        b = T0 + i * BUCKET_MS
        n48, n12 = 10, 10
        late = sum(rng.random() < (0.3 if i >= 24 * 12 else 0.005) for _ in range(n48))
        ev.add(TAIZHOU, "ZTO", b, {"joined.national_key_48h": n48,
                                   "on_time.national_key_48h": n48 - late,
                                   "joined.yrd_key_12h": n12, "on_time.yrd_key_12h": n12})
        changes += ev.advance(b + BUCKET_MS)
    new = [a for a in changes if a.started_at_ms == a.evaluated_at_ms]
    assert {(a.kpi, a.policy_id, a.severity) for a in new} == {
        ("on_time_rate.national_key_48h", "taizhou-2022-national-key-48h", PAGE),
        ("on_time_rate.national_key_48h", "yrd-2020-national-key-48h", WARNING)}
    for a in new:
        assert T0 + 24 * HOUR_MS < a.started_at_ms <= T0 + 26 * HOUR_MS
        assert a.acceptance_before_ms == a.window_end_ms - 48 * HOUR_MS
        assert a.value < a.threshold and a.rule == "exact"
