"""Issue 24, item 3: the personal-data screen's measured false and true positive rates.

The corpora are tests/pii_corpus.py's (published id formats; personal data written the ways
people write it), each case through the real decode step. Both rates are printed (run with
`-s`, or `python -m tests.pii_corpus`) and written in docs/reliability.md.
"""

from __future__ import annotations

import pytest

from courierwatch.contract import ids_have_personal_data, text_has_personal_data
from tests.pii_corpus import false_positives, true_positives


def test_no_honest_id_of_100k_is_refused_as_personal_data() -> None:
    n, kinds, refused = false_positives(100_000)
    print(f"\nfalse positives: {len(refused)} of {n:,} honest ids; per kind {dict(kinds)}")
    assert n >= 100_000 and len(kinds) >= 14 and min(kinds.values()) > 7_000
    assert refused == []


def test_every_planted_phone_id_card_and_email_is_caught() -> None:
    cases, caught, missed = true_positives(200)
    total, hit = sum(cases.values()), sum(caught.values())
    print(f"\ntrue positives: {hit:,} of {total:,} planted values ({100 * hit / total:.2f} %)")
    assert total > 5_000 and {k.split("/")[0] for k in cases} == {"phone", "id_card", "email"}
    assert missed == []


@pytest.mark.parametrize(("text", "flagged"), [
    ("ev-13-000020600", False),       # the source-shard-sequence id
    ("ev.13.000020600", False), ("ev_13_000020600", False), ("13:000020600", False),
    ("ev-12-000020600", False),
    ("138-1234-5678", True), ("ev-138.1234.5678", True), ("x_138_1234_5678", True),
    ("ev-13812345678", True), ("13812345678", True),
    ("110101-19900307-123X", True), ("110101199003071237", True),
    ("SF13812345678", False),         # glued to a letter: a waybill
    ("01a24bcd-34fa-7bb8-b8c4-14058670245d", False),  # UUID hex, glued to a letter after
    ("1381-2345-678", False),         # not where a written phone puts its separators
])
def test_id_digit_groups_are_joined_only_where_a_written_number_puts_separators(
        text: str, flagged: bool) -> None:
    assert ids_have_personal_data(text) is flagged


def test_free_text_still_joins_groups_and_drops_a_country_code() -> None:
    for text in ("(+86) 138 1234 5678", "86 138 1234 5678", "1381-2345-678",
                 "电话：１３８ １２３４ ５６７８"):
        assert text_has_personal_data(text), text
