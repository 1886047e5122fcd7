"""What a new user ran into with `bot`: a vendor added twice, `--vendor` by name or short id, an order that
does not exist, `--version`, a setting out of its range, every option's help and default, and the logs
(HTTP calls only at DEBUG, `--log-format json`). In process on a fresh SQLite file (``in_tmp``), except the
log lines, which need the real command's stderr."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path

import pytest

from bot import cli
from bot.cli import CHATTY_LOGGERS, JsonLogFormatter, build_parser, main
from bot.domain.errors import InvalidSetting
from bot.domain.vendor import apply_setting
from bot.rendering import explain
from tests.cli_support import run_bot
from tests.conftest import NOW
from tests.integration.test_cli import check_one_line_failure, in_tmp, postgres_database, run_main
from tests.unit.test_settings_and_rules import make_vendor

# The CLI tests' fixtures (a fresh SQLite file; a fresh Postgres database): exported so that pytest and ruff
# both see them used.
__all__ = ["in_tmp", "postgres_database"]

ADMIN = "+33612345678"
OTHER_ADMIN = "+33611111111"
CUSTOMER = "+33699887766"


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run_main(capsys, *argv)
    assert code == 0, (argv, err)
    return out


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run_main(capsys, *argv)
    check_one_line_failure(code, err)
    assert code == 1, (argv, err)
    assert out == ""
    return err


def add(capsys: pytest.CaptureFixture[str], name: str, admin: str) -> None:
    assert f"vendor {name!r} added" in ok(capsys, "vendor", "add", "--name", name, "--admin", admin)


def short_ids(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The second column of `bot vendor list`, checked against the ids of `bot vendor list --json`."""
    shown = [line.split()[1] for line in ok(capsys, "vendor", "list").splitlines()]
    ids = [uuid.UUID(v["id"]).hex[:8] for v in json.loads(ok(capsys, "vendor", "list", "--json"))]
    assert shown == ids
    return shown


# 1. One admin phone, one vendor; --vendor takes a name or a short id.


def test_adding_the_same_vendor_twice_is_refused_naming_the_phone_and_the_vendor_that_has_it(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(capsys, "Boulangerie", ADMIN)
    err = refused(capsys, "vendor", "add", "--name", "Boulangerie", "--admin", ADMIN)
    assert ADMIN in err and '"Boulangerie"' in err and "already an admin" in err
    assert len(ok(capsys, "vendor", "list").splitlines()) == 1
    assert "Boulangerie" in ok(capsys, "vendor", "show", "--vendor", "Boulangerie")


def test_an_admin_phone_of_another_vendor_is_refused_however_it_is_written(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(capsys, "Boulangerie", ADMIN)
    err = refused(
        capsys, "vendor", "add", "--name", "Traiteur", "--admin", OTHER_ADMIN, "--admin", "0033 6 12 34 56 78"
    )
    assert ADMIN in err and "Boulangerie" in err
    assert [line.split()[0] for line in ok(capsys, "vendor", "list").splitlines()] == ["Boulangerie"]
    add(capsys, "Traiteur", OTHER_ADMIN)


def test_vendor_name_selects_that_vendor_whatever_its_case(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(capsys, "Boulangerie", ADMIN)
    add(capsys, "Traiteur", OTHER_ADMIN)
    err = refused(capsys, "order", "list")
    assert "several vendors" in err and "Boulangerie" in err and "Traiteur" in err
    ok(capsys, "order", "create", "--vendor", "traiteur", "--customer", CUSTOMER, "--price", "90")
    shown = json.loads(ok(capsys, "vendor", "show", "--vendor", "Traiteur", "--json"))
    assert (shown["settings"]["name"], shown["admins"]) == ("Traiteur", [OTHER_ADMIN])
    assert "#1" in ok(capsys, "order", "list", "--vendor", "Traiteur")
    assert ok(capsys, "order", "list", "--vendor", "Boulangerie").strip() == "no order"


def test_vendor_short_id_from_vendor_list_tells_two_vendors_of_the_same_name_apart(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(capsys, "Boulangerie", ADMIN)
    add(capsys, "Boulangerie", OTHER_ADMIN)
    first, second = short_ids(capsys)
    err = refused(capsys, "vendor", "show", "--vendor", "Boulangerie")
    assert first in err and second in err
    ok(capsys, "order", "create", "--vendor", second, "--customer", CUSTOMER, "--price", "90")
    assert "#1" in ok(capsys, "order", "list", "--vendor", second)
    assert ok(capsys, "order", "list", "--vendor", first.upper()).strip() == "no order"
    shown = json.loads(ok(capsys, "vendor", "show", "--vendor", first, "--json"))
    assert shown["admins"] == [ADMIN]
    assert "deposit_percent = 40%" in ok(capsys, "vendor", "set", "--vendor", second, "deposit_percent=40")
    err = refused(capsys, "vendor", "show", "--vendor", first[:6])
    assert first[:6] in err, "fewer than 8 characters is not a short id"


@pytest.mark.postgres
def test_the_admin_phone_rule_and_short_ids_work_on_postgres(tmp_path: Path, postgres_database: str) -> None:
    def bot(*argv: str) -> tuple[int, str, str]:
        done = run_bot(tmp_path, *argv, DATABASE_URL=postgres_database)
        return done.returncode, done.stdout, done.stderr

    assert bot("migrate")[0] == 0
    for admin in (ADMIN, OTHER_ADMIN):
        code, _, err = bot("vendor", "add", "--name", "Boulangerie", "--admin", admin)
        assert code == 0, err
    code, _, err = bot("vendor", "add", "--name", "Traiteur", "--admin", ADMIN)
    check_one_line_failure(code, err)
    assert ADMIN in err and "Boulangerie" in err
    first, second = [line.split()[1] for line in bot("vendor", "list")[1].splitlines()]
    for short, admin in ((first, ADMIN), (second, OTHER_ADMIN)):
        code, out, err = bot("vendor", "show", "--vendor", short, "--json")
        assert code == 0, err
        assert json.loads(out)["admins"] == [admin]


# 2. An order that does not exist.


@pytest.mark.parametrize(
    "extra", [[], ["--amount", "5"], ["--resolve", "made"]], ids=["all", "part", "resolve"]
)
def test_refund_of_an_order_that_does_not_exist_says_there_is_no_such_order(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    add(capsys, "Boulangerie", ADMIN)
    err = refused(capsys, "refund", "99", *extra)
    assert err.strip() == "bot: There is no order #99."


# 3. --version.


def test_version_prints_the_version_of_the_installed_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    captured = capsys.readouterr()
    assert captured.out == f"bot {metadata.version('whatsapp-payment-bot')}\n"
    assert captured.err == ""


def test_version_is_unknown_when_the_distribution_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(cli.metadata, "version", missing)
    assert cli.package_version() == "unknown"


# 4. A setting out of its range says the range.


def test_deposit_percent_150_is_refused_naming_the_range_it_must_be_in(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(capsys, "Boulangerie", ADMIN)
    err = refused(capsys, "vendor", "set", "deposit_percent=150")
    assert (
        err.strip()
        == 'bot: "150" is not a valid value for deposit_percent; use a number above 0 and up to 100.'
    )
    assert "deposit_percent: 30%" in ok(capsys, "vendor", "show").splitlines(), "unchanged"


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("hold_minutes=0", "from 1 to 10080"),
        ("reminder_repeat_count=31", "from 0 to 30"),
        ("deposit_mode=half", "one of none, full, fixed, percent"),
        ("confirmation_rule=later", "one of immediate, paid_only"),
        ("provider=paypal", "one of stripe, icount, sandbox"),
        ("invoice_doctype=bill", "one of invrec, receipt"),
        ("reminders=maybe", "one of on, off"),
    ],
)
def test_a_setting_with_a_range_or_a_closed_set_says_what_it_expects(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], pair: str, expected: str
) -> None:
    add(capsys, "Boulangerie", ADMIN)
    assert expected in refused(capsys, "vendor", "set", pair)


def test_the_range_travels_as_values_and_each_language_words_it() -> None:
    with pytest.raises(InvalidSetting) as raised:
        apply_setting(make_vendor(), "deposit_percent", "150")
    assert raised.value.params == {
        "key": "deposit_percent",
        "value": "150",
        "low": 0,
        "high": 100,
        "low_open": True,
    }
    assert "supérieur à 0 et jusqu'à 100" in explain(raised.value, "fr")
    assert "0" in explain(raised.value, "he") and "100" in explain(raised.value, "he")
    with pytest.raises(InvalidSetting) as raised:
        apply_setting(make_vendor(), "hold_minutes", "20000")
    assert (raised.value.params["low"], raised.value.params["high"]) == (1, 10080)
    assert "de 1 à 10080" in explain(raised.value, "fr")


# 5. Every option has a help text, and its default shows.


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def _parser_at(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = build_parser()
    for name in path:
        [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = commands.choices[name]
    return parser


PARSERS = list(_parsers(build_parser()))


@pytest.mark.parametrize("path", PARSERS, ids=lambda path: " ".join(("bot", *path)))
def test_every_option_of_every_command_has_a_help_text_and_shows_its_default(path: tuple[str, ...]) -> None:
    parser = _parser_at(path)
    assert parser.description, "its --help says what the command does"
    shown = " ".join(parser.format_help().split())
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, (path, action.dest)
        default = action.default
        if default not in (None, False, "", argparse.SUPPRESS):
            assert f"(default: {default})" in shown, (path, action.dest)


def test_serve_help_describes_host_and_port_with_their_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "run webhooks, scheduler and outbox sender" in shown
    assert "the address to listen on (default: HOST, else 127.0.0.1)" in shown
    assert "(default: PORT, else 8080)" in shown


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_a_port_out_of_range_is_a_bad_argument(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], port: str
) -> None:
    code, _, err = run_main(capsys, "serve", "--port", port)
    assert code == 2
    check_one_line_failure(code, err)


# 6. HTTP calls are logged only at DEBUG.


@pytest.fixture
def logger_levels() -> Iterator[None]:
    """``main`` sets library loggers' levels; put them back for the tests that follow."""
    names = (*CHATTY_LOGGERS, "alembic")
    saved = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def test_httpx_and_httpcore_are_quiet_below_warning_unless_log_level_is_debug(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, logger_levels: None
) -> None:
    ok(capsys, "vendor", "list")
    assert [logging.getLogger(name).getEffectiveLevel() for name in CHATTY_LOGGERS] == [logging.WARNING] * 2
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    monkeypatch.setenv("LOG_LEVEL", "debug")
    ok(capsys, "vendor", "list")
    assert [logging.getLogger(name).level for name in CHATTY_LOGGERS] == [logging.NOTSET] * 2


def test_an_unknown_log_level_or_log_format_stops_the_command_in_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    code, _, err = run_main(capsys, "vendor", "list")
    assert code == 2 and "LOG_LEVEL" in err
    check_one_line_failure(code, err)
    monkeypatch.delenv("LOG_LEVEL")
    monkeypatch.setenv("LOG_FORMAT", "xml")
    code, _, err = run_main(capsys, "vendor", "list")
    assert code == 2 and "LOG_FORMAT" in err
    check_one_line_failure(code, err)
    code, _, err = run_main(capsys, "--log-format", "xml", "vendor", "list")
    assert code == 2
    check_one_line_failure(code, err)


# 7. --log-format json.


def datetime_is_utc(text: str) -> bool:
    return datetime.fromisoformat(text).utcoffset() == timedelta(0)


def json_lines(stderr: str) -> list[dict[str, str]]:
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert lines, "something was logged"
    return lines


def test_log_format_json_writes_every_log_line_as_one_json_object(tmp_path: Path) -> None:
    result = run_bot(tmp_path, "--log-format", "json", "vendor", "list", LOG_LEVEL="DEBUG")
    assert result.returncode == 0, result.stderr
    lines = json_lines(result.stderr)
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
        assert datetime_is_utc(line["time"]), line
    assert {"level": "DEBUG", "logger": "asyncio"}.items() <= lines[0].items()
    assert result.stdout.startswith("no vendor yet")


def test_log_format_comes_from_the_setting_and_the_option_overrides_it(tmp_path: Path) -> None:
    from_setting = run_bot(tmp_path, "vendor", "list", LOG_LEVEL="DEBUG", LOG_FORMAT="JSON")
    assert from_setting.returncode == 0, from_setting.stderr
    json_lines(from_setting.stderr)
    overridden = run_bot(
        tmp_path, "--log-format", "text", "vendor", "list", LOG_LEVEL="DEBUG", LOG_FORMAT="json"
    )
    assert overridden.returncode == 0, overridden.stderr
    first = overridden.stderr.splitlines()[0]
    assert not first.startswith("{") and " DEBUG asyncio: " in first


def test_a_json_log_line_has_the_time_in_utc_and_the_exception_when_there_is_one() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "bot.test", logging.ERROR, __file__, 1, "failed %s", ("once",), sys.exc_info()
        )
    record.created = NOW.timestamp() + 0.25
    line = json.loads(JsonLogFormatter().format(record))
    assert line["time"] == "2026-11-21T09:30:00.250+00:00"
    assert (line["level"], line["logger"], line["message"]) == ("ERROR", "bot.test", "failed once")
    assert line["exc_info"].startswith("Traceback") and "ValueError: boom" in line["exc_info"]
    plain = logging.LogRecord("bot.test", logging.INFO, __file__, 1, "fine", None, None)
    assert "exc_info" not in json.loads(JsonLogFormatter().format(plain))


def test_links_made_by_a_command_point_to_the_port_bot_serve_uses(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORT", "9123")
    assert run_main(capsys, "vendor", "add", "--name", "A", "--admin", "+33612345678")[0] == 0
    assert (
        run_main(capsys, "order", "create", "--customer", "+33699887766", "--price", "150", "--accept")[0]
        == 0
    )
    code, out, err = run_main(capsys, "pay", "1", "--full")
    assert code == 0, err
    assert "http://127.0.0.1:9123/sandbox/checkout/" in out, "the same PORT that bot serve listens on"
