"""The settings table: one source for parsing, the worker's environment, masking and README."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from runtime.settings import (
    SETTINGS,
    Settings,
    SettingsError,
    load_settings,
    markdown_table,
    settings_env,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_is_generated_from_the_table() -> None:
    """The README's settings table is exactly `markdown_table()`: a new or changed setting
    without a regenerated README fails here (regenerate: python -m runtime.settings)."""
    text = README.read_text("utf-8")
    start = text.index("<!-- settings-table")
    body = text[text.index("\n", start) + 1:text.index("<!-- end settings-table -->")]
    assert body == markdown_table()
    assert body.count("\n| `COURIERWATCH_") == len(SETTINGS)


def test_every_field_has_one_variable() -> None:
    """Each Settings field is named by exactly one row, with a COURIERWATCH_ variable."""
    assert sorted(f.name for f in fields(Settings)) == sorted(s.field for s in SETTINGS)
    envs = [s.env for s in SETTINGS]
    assert len(set(envs)) == len(envs) and all(e.startswith("COURIERWATCH_") for e in envs)


def test_child_environment_rebuilds_the_same_settings(tmp_path: Path) -> None:
    """settings_env(s) read back by load_settings gives s again, for non-default values."""
    s = load_settings({"COURIERWATCH_DATA_DIR": str(tmp_path), "COURIERWATCH_PARTITIONS": "7",
                       "COURIERWATCH_MIN_SAMPLE": "120", "COURIERWATCH_RESET_DATABASE": "yes",
                       "COURIERWATCH_MAX_FUTURE_S": "60.5"})
    assert (s.partitions, s.min_sample, s.reset_database, s.max_future_s) == (7, 120, True, 60.5)
    assert load_settings(settings_env(s)) == s
    assert s.clickhouse == f"chdb://{tmp_path / 'clickhouse'}"
    assert s.limits.max_future_s == 60.5


@pytest.mark.parametrize(("env", "value", "says"), [
    pytest.param("COURIERWATCH_PARTITIONS", "four", "not an integer", id="int-word"),
    pytest.param("COURIERWATCH_PARTITIONS", "0", "must be >= 1", id="int-low"),
    pytest.param("COURIERWATCH_BATCH_WITHIN_S", "0.5s", "not a number", id="float-unit"),
    pytest.param("COURIERWATCH_DLQ_MAX_SHARE", "1.5", "between 0 and 1", id="share-high"),
    pytest.param("COURIERWATCH_RESET_DATABASE", "maybe", "not a boolean", id="bool"),
])
def test_bad_value_is_one_line_naming_the_variable(env: str, value: str, says: str) -> None:
    """A value that cannot be used raises SettingsError: one line, the variable, the value
    as given, and what is wrong with it (no traceback of int() or float())."""
    with pytest.raises(SettingsError) as err:
        load_settings({env: value})
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{env}={value!r}") and says in msg


def test_passwords_are_masked_when_printed_and_in_errors() -> None:
    """A ClickHouse DSN's password never appears in `masked()` nor in a settings error."""
    dsn = "http://ops:s3cr3t-pw@ch.example:8123"
    s = load_settings({"COURIERWATCH_CLICKHOUSE": dsn, "COURIERWATCH_KAFKA": "k1:9092"})
    shown = s.masked()
    assert shown["COURIERWATCH_CLICKHOUSE"] == "http://ops:***@ch.example:8123"
    assert "s3cr3t" not in repr(shown)
    with pytest.raises(SettingsError) as err:
        load_settings({"COURIERWATCH_CLICKHOUSE": dsn, "COURIERWATCH_PARTITIONS": "x"})
    assert "s3cr3t" not in str(err.value)



def test_command_line_bad_setting_is_one_line_and_exit_2(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`courierwatch kpi` with a non-numeric setting exits 2 with one line naming the
    variable (before: a ValueError traceback)."""
    from cli.main import main

    monkeypatch.setattr("signal.signal", lambda *a: None)  # keep pytest's own handlers
    monkeypatch.setenv("COURIERWATCH_MIN_SAMPLE", "fifty")
    assert main(["kpi"]) == 2
    err = capsys.readouterr().err
    assert err == "courierwatch: COURIERWATCH_MIN_SAMPLE='fifty': not an integer\n"


def test_settings_command_masks_the_password(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`courierwatch settings --format json` prints every variable, the DSN masked."""
    import orjson

    from cli.main import main

    monkeypatch.setattr("signal.signal", lambda *a: None)
    monkeypatch.setenv("COURIERWATCH_CLICKHOUSE", "https://ops:hunter2@ch.example:8443")
    assert main(["settings", "--format", "json"]) == 0
    shown = orjson.loads(capsys.readouterr().out)
    assert set(shown) == {s.env for s in SETTINGS}
    assert shown["COURIERWATCH_CLICKHOUSE"] == "https://ops:***@ch.example:8443"
