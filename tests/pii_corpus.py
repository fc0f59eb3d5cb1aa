"""The personal-data screen's measured error rates (issue 24, item 3).

Two corpora, built here from published formats and not from the screen's own rules:

- honest ids (must pass): UUIDs (v4, v7, with and without hyphens, either case), ULIDs,
  the major brands' waybill numbers (SF, ZTO, YTO, STO, Yunda, JD, EMS in its S10 and
  numeric forms), plain 12-15 digit numeric waybills, `source-shard-sequence` ids with
  `-`, `.`, `_` or `:` between the parts (`ev-13-000020600`), site and complaint ids;
- planted personal data (must be caught): mainland mobile numbers and resident ID-card
  numbers (valid dates, ISO 7064 check digit, X or x), e-mail addresses, written the ways
  people write them: spaces, hyphens, dots, brackets, +86 / 0086 / 86, fullwidth digits
  and ideographic spaces, inside Chinese text; in a free-text field and, where the
  characters allow it, as an id.

Each case goes through the real decode step (`decode_events`, an event per id or per
planted value) and the verdict is whether the event is accepted or refused as `pii`.
`python -m tests.pii_corpus [n_ids]` prints both rates; tests/unit/test_pii_screen_rates.py
asserts them.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from courierwatch.contract import decode_events

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
BASE_EVENT: dict[str, Any] = {
    "schema": "scan.v1", "event_id": "e-base", "parcel_id": "YT7501234567890",
    "company": "YTO", "type": "ARRIVED", "ts": "2026-11-22T06:20:00+08:00",
    "city": "420100", "site_id": "HB-WH-HUB-01"}
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MOBILE_PREFIXES = tuple(f"1{n}" for n in (
    30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 45, 47, 50, 51, 52, 53, 55, 56, 57, 58, 59, 62,
    65, 66, 67, 70, 71, 72, 73, 75, 76, 77, 78, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90,
    91, 92, 93, 95, 96, 97, 98, 99))
AREA_CODES = ("110101", "110105", "310104", "320102", "330106", "420106", "440305", "510107",
              "610113", "371502", "130102", "500103")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


# --- honest ids -------------------------------------------------------------------------

def _uuid4(rng: random.Random) -> str:
    u = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return rng.choice([u, u.upper(), u.replace("-", "")])


def _uuid7(rng: random.Random) -> str:
    ms = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000) + rng.randrange(10**10)
    value = (ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62) | \
        rng.getrandbits(62)
    return str(uuid.UUID(int=value))


def _ulid(rng: random.Random) -> str:
    ms = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000) + rng.randrange(10**10)
    head = "".join(CROCKFORD[(ms >> (5 * i)) & 31] for i in reversed(range(10)))
    return head + "".join(rng.choice(CROCKFORD) for _ in range(16))


def _sf(rng: random.Random) -> str:  # SF + 12 or 13 digits; older numeric 12-digit bills
    return rng.choice([f"SF{rng.randrange(1, 10)}{_digits(rng, rng.choice([11, 12]))}",
                       f"{rng.randrange(1, 10)}{_digits(rng, 11)}"])


def _zto(rng: random.Random) -> str:  # 12-15 digits, mostly starting 7 or 5
    return f"{rng.choice('75')}{_digits(rng, rng.choice([11, 12, 13, 14]))}"


def _yto(rng: random.Random) -> str:  # YT + 13 or 16 digits
    return f"YT{_digits(rng, rng.choice([13, 16]))}"


def _sto(rng: random.Random) -> str:  # 12-15 digits: 77..., 268..., 368..., 4...
    head = rng.choice(["77", "268", "368", "468", "568", "668", "4", "88"])
    return head + _digits(rng, rng.choice([12, 13, 14, 15]) - len(head))


def _yunda(rng: random.Random) -> str:  # 13 digits starting 1, 3, 4 or 5; some 15
    return f"{rng.choice('1345')}{_digits(rng, rng.choice([12, 14]))}"


def _jd(rng: random.Random) -> str:  # JD + 13 digits, JDV/JDX/JDAZ + 12 digits
    return rng.choice([f"JD{_digits(rng, 13)}", f"JDV{_digits(rng, 12)}",
                       f"JDX{_digits(rng, 12)}", f"JDAZ{_digits(rng, 11)}"])


def _ems(rng: random.Random) -> str:  # S10 (EA123456789CN) or 13 digits starting 1 or 9
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return rng.choice([f"{rng.choice('ELCRV')}{rng.choice(letters)}{_digits(rng, 9)}CN",
                       f"{rng.choice('19')}{_digits(rng, 12)}"])


def _numeric_waybill(rng: random.Random) -> str:  # 12-15 digits, any brand
    return f"{rng.randrange(1, 10)}{_digits(rng, rng.randrange(11, 15))}"


def _source_shard_sequence(rng: random.Random) -> str:
    """`ev-13-000020600`: a source, a shard (0-99, padded or not), a zero-padded sequence
    whose value fits its width with room to spare (a counter, not a random number)."""
    sep = rng.choice("-._:")
    source = rng.choice(["ev", "e", "scan", "evt", "sf", "zto", "yto", "pda", "gw",
                         str(rng.randrange(1, 100))])
    shard = rng.choice([str(rng.randrange(100)), f"{rng.randrange(100):02d}",
                        f"{rng.randrange(1000):03d}"])
    width = rng.choice([6, 8, 9, 10, 11, 12])
    seq = f"{rng.randrange(10 ** min(width - 1, 10)):0{width}d}"
    return sep.join([source, shard, seq])


def _site(rng: random.Random) -> str:
    prov = rng.choice(["JS", "ZJ", "GD", "HB", "SD", "BJ", "SH", "SC"])
    return f"{prov}-{rng.choice(['CZ', 'WH', 'SZ', 'HZ'])}-{_digits(rng, 2)}-{_digits(rng, 4)}"


def _complaint(rng: random.Random) -> str:
    day = date(2026, 1, 1) + timedelta(days=rng.randrange(330))
    return rng.choice([f"C{day:%Y%m%d}{_digits(rng, 6)}", f"12305-{day:%Y%m%d}-{_digits(rng, 6)}",
                       f"TS{day:%y%m%d}{_digits(rng, 5)}"])


HONEST: dict[str, Callable[[random.Random], str]] = {
    "uuid4": _uuid4, "uuid7": _uuid7, "ulid": _ulid, "sf": _sf, "zto": _zto, "yto": _yto,
    "sto": _sto, "yunda": _yunda, "jd": _jd, "ems": _ems, "numeric_12_15": _numeric_waybill,
    "source_shard_sequence": _source_shard_sequence, "site": _site, "complaint": _complaint,
}


def honest_ids(n: int, seed: int = 24) -> Iterator[tuple[str, str]]:
    """`n` (kind, id) pairs, the kinds in turn."""
    rng = random.Random(seed)
    kinds = list(HONEST.items())
    for i in range(n):
        kind, make = kinds[i % len(kinds)]
        yield kind, make(rng)


# --- planted personal data --------------------------------------------------------------

def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) - 0x30 + 0xFF10) if c.isdigit() else c for c in s)


def _phone(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + _digits(rng, 8)


def id_card(rng: random.Random) -> str:
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 66))
    body = f"{rng.choice(AREA_CODES)}{born:%Y%m%d}{_digits(rng, 3)}"
    total = sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def _phone_forms(p: str) -> dict[str, str]:
    a, b, c = p[:3], p[3:7], p[7:]
    return {"plain": p, "spaced": f"{a} {b} {c}", "hyphens": f"{a}-{b}-{c}",
            "dots": f"{a}.{b}.{c}", "plus86": f"+86 {p}", "plus86_hyphens": f"+86-{a}-{b}-{c}",
            "bracket86": f"(+86) {a} {b} {c}", "0086": f"0086 {p}", "86": f"86 {a} {b} {c}",
            "fullwidth": _fullwidth(p), "fullwidth_spaced": _fullwidth(f"{a}\u3000{b}\u3000{c}"),
            "chinese": f"收件人电话{p}请联系", "colon": f"手机:{a} {b} {c}",
            "four_four_three": f"{p[:4]} {p[4:8]} {p[8:]}"}


def _id_forms(n: str) -> dict[str, str]:
    return {"plain": n, "lower_x": n.lower(), "spaced": f"{n[:6]} {n[6:14]} {n[14:]}",
            "hyphens": f"{n[:6]}-{n[6:14]}-{n[14:]}", "fullwidth": _fullwidth(n),
            "chinese": f"身份证号{n}"}


def _email_forms(rng: random.Random) -> dict[str, str]:
    user = rng.choice(["zhang.san", "lisi", "wang_wu", "zhao-liu", "qian7", "sun.qi.88"])
    domain = rng.choice(["example.com", "qq.com", "163.com", "mail.example.com.cn",
                         "sina.com.cn", "126.com"])
    return {"plain": f"{user}@{domain}", "upper": f"{user.upper()}@{domain.upper()}",
            "numeric_qq": f"{_digits(rng, 9)}@qq.com", "tagged": f"{user}+shop@{domain}",
            "spaced_at": f"{user} @ {domain}", "fullwidth": f"{user}＠{domain}",
            "in_text": f"请发邮件至{user}@{domain}谢谢"}


ID_SAFE = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._:-")


def planted(n_each: int, seed: int = 86) -> Iterator[tuple[str, str, str]]:
    """(kind, field, value): each form of each planted value, in a free-text field
    (`remark`) and, when its characters are id characters, as the parcel id."""
    rng = random.Random(seed)
    for _ in range(n_each):
        forms = ([(f"phone/{k}", v) for k, v in _phone_forms(_phone(rng)).items()]
                 + [(f"id_card/{k}", v) for k, v in _id_forms(id_card(rng)).items()]
                 + [(f"email/{k}", v) for k, v in _email_forms(rng).items()])
        for kind, value in forms:
            yield kind, "remark", value
            if set(value) <= ID_SAFE and len(value) <= 64:
                yield kind, "parcel_id", value


# --- measuring ----------------------------------------------------------------------------

def _event(i: int, **fields: str) -> dict[str, Any]:
    return BASE_EVENT | {"event_id": f"e-{i}"} | fields


def false_positives(n_ids: int) -> tuple[int, Counter[str], list[str]]:
    """Decode an event per honest id (as its parcel id, the id text also as event id when
    it fits, in messages of 500 lines); return (ids, ids per kind, the ids refused)."""
    refused: list[str] = []
    kinds: Counter[str] = Counter()
    batch: list[tuple[str, bytes]] = []

    def flush() -> None:
        events, _, _, rejections = decode_events(b"\n".join(b for _, b in batch), NOW)
        refused.extend(f"{batch[r.index][0]} ({r.reason})" for r in rejections)
        assert len(events) + len(rejections) == len(batch)
        batch.clear()

    for i, (kind, value) in enumerate(honest_ids(n_ids)):
        kinds[kind] += 1
        batch.append((value, orjson.dumps(_event(i, parcel_id=value, site_id=value))))
        if len(batch) == 500:
            flush()
    if batch:
        flush()
    return n_ids, kinds, refused


def true_positives(n_each: int) -> tuple[Counter[str], Counter[str], list[str]]:
    """Decode an event per planted value (one per message, as a producer would send it);
    return (cases per kind, cases caught as pii per kind, the values missed)."""
    cases: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    missed: list[str] = []
    for i, (kind, field, value) in enumerate(planted(n_each)):
        cases[kind] += 1
        _, _, _, rejections = decode_events(orjson.dumps(_event(i, **{field: value})), NOW)
        if [r.reason for r in rejections] == ["pii"]:
            caught[kind] += 1
        else:
            missed.append(f"{kind} in {field}: {value!r}")
    return cases, caught, missed


def report(n_ids: int = 100_000, n_each: int = 300) -> str:
    n, kinds, refused = false_positives(n_ids)
    cases, caught, missed = true_positives(n_each)
    total, hit = sum(cases.values()), sum(caught.values())
    lines = [f"false positives: {len(refused)} of {n:,} honest ids "
             f"({100 * len(refused) / n:.4f} %)",
             "  ids per kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())),
             *[f"  refused: {r}" for r in refused[:20]],
             f"true positives: {hit:,} of {total:,} planted values ({100 * hit / total:.2f} %)",
             "  per kind: " + ", ".join(f"{k} {caught[k]}/{v}" for k, v in sorted(cases.items())),
             *[f"  missed: {m}" for m in missed[:20]]]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
