"""A dead letter's displayed detail keeps times and codes readable and hides personal data
(issue 23, item 8). Seen failing before: 'ts ####-##-##T07:32:##' for a future time."""

from __future__ import annotations

from courierwatch.redact import mask_text


def test_times_and_city_codes_stay_readable() -> None:
    detail = "ts 2027-01-01T07:32:00+08:00 is 2 days ahead of the clock; city 331000"
    assert mask_text(detail) == detail
    assert mask_text("at 2026-11-02 10:00:05.123Z") == "at 2026-11-02 10:00:05.123Z"


def test_personal_data_beside_a_time_is_still_masked() -> None:
    out = mask_text("2026-11-02T08:00:00 phone 13812345678, id 330102199001011234")
    assert out == "2026-11-02T08:00:00 phone ###########, id ##################"
    assert mask_text("138-1234-5678") == "###-####-####"
    assert "20261102123" not in mask_text("20261102123")  # no dashes: a digit run
