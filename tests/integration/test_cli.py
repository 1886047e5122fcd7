from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from tests.cli_support import SETTINGS_PREFIXES, run_bot
from tests.conftest import create_postgres_database, drop_postgres_database


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    import asyncio

    url = asyncio.run(create_postgres_database("bot_cli"))
    yield url
    asyncio.run(drop_postgres_database(url))


def check_one_line_failure(result_code: int, stderr: str) -> None:
    assert result_code != 0
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


def create_and_show(cwd: Path, **settings: str) -> dict[str, object]:
    added = run_bot(cwd, "vendor", "add", "--name", "Boulangerie", "--admin", "+33612345678", **settings)
    assert added.returncode == 0, added.stderr
    created = run_bot(
        cwd, "order", "create", "--customer", "+33 6 99 88 77 66", "--price", "150", "--label", "Gâteau",
        "--accept", **settings,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "#1" in created.stdout
    shown = run_bot(cwd, "order", "show", "1", "--json", **settings)
    assert shown.returncode == 0, shown.stderr
    data: dict[str, object] = json.loads(shown.stdout)
    return data


def check_order_json(data: dict[str, object]) -> None:
    assert data["number"] == 1
    assert data["status"] == "accepted"
    assert data["price"] == "150.00"
    assert data["paid"] == "0.00"
    assert data["balance"] == "150.00"
    assert data["currency"] == "EUR"
    assert data["payment_type"] is None
    assert data["transactions"] == []
    assert data["customer"] == {"phone": "+33699887766", "name": None, "locale": None, "opted_out": False}


def test_vendor_add_order_create_and_show_work_on_sqlite(tmp_path: Path) -> None:
    check_order_json(create_and_show(tmp_path))
    assert (tmp_path / "bot.db").exists()


@pytest.mark.postgres
def test_vendor_add_order_create_and_show_work_on_postgres(tmp_path: Path, postgres_database: str) -> None:
    refused = run_bot(tmp_path, "vendor", "list", DATABASE_URL=postgres_database)
    check_one_line_failure(refused.returncode, refused.stderr)
    assert "bot migrate" in refused.stderr
    migrated = run_bot(tmp_path, "migrate", DATABASE_URL=postgres_database)
    assert migrated.returncode == 0, migrated.stderr
    again = run_bot(tmp_path, "migrate", DATABASE_URL=postgres_database)
    assert "already up to date" in again.stdout
    check_order_json(create_and_show(tmp_path, DATABASE_URL=postgres_database))


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Runs ``main`` in-process on a fresh SQLite file with no stray settings."""
    import os

    for name in list(os.environ):
        if name.startswith(SETTINGS_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["order", "create", "--customer", "+33612345678"],
        ["order", "show", "x"],
        ["order", "show", "0"],
        ["vendor", "set", "novalue"],
        ["vendor", "add", "--name", "X"],
        ["serve", "--port", "eighty"],
        ["order", "list", "--status", "lost"],
    ],
)
def test_bad_arguments_give_one_line_and_exit_2(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _, err = run_main(capsys, *argv)
    assert code == 2
    check_one_line_failure(code, err)


def test_refused_operations_give_one_line_and_exit_1(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(capsys, "order", "list")
    check_one_line_failure(code, err)
    assert "no vendor" in err.lower()
    assert run_main(capsys, "vendor", "add", "--name", "A", "--admin", "+33612345678")[0] == 0
    failures = [
        ["vendor", "add", "--name", "B", "--admin", "0612345678"],
        ["vendor", "add", "--name", "B", "--admin", "+33612345678", "--currency", "XYZ"],
        ["vendor", "add", "--name", "B", "--admin", "+33612345678", "--timezone", "Nowhere/City"],
        ["order", "create", "--customer", "+33699887766", "--price", "1.500"],
        ["order", "create", "--customer", "+33699887766", "--price", "-3"],
        ["order", "create", "--customer", "06 99", "--price", "10"],
        ["order", "show", "5"],
        ["order", "accept", "5"],
        ["vendor", "set", "deposit_percent=150"],
        ["vendor", "set", "colour=blue"],
        ["vendor", "set", "stripe_api_key=sk_test_x"],
        ["vendor", "show", "--vendor", "Nobody"],
    ]
    for argv in failures:
        code, _, err = run_main(capsys, *argv)
        check_one_line_failure(code, err)
        assert code == 1, (argv, err)
    assert "sk_test_x" not in err


def test_settings_and_orders_change_through_the_cli(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(capsys, "vendor", "add", "--name", "A", "--admin", "+33612345678")[0] == 0
    code, out, _ = run_main(capsys, "vendor", "set", "deposit_percent=50", "template.payment_request=pay_v2")
    assert code == 0
    assert "deposit_percent = 50%" in out and "template.payment_request = pay_v2" in out
    code, out, _ = run_main(capsys, "vendor", "show", "--json")
    shown = json.loads(out)
    assert shown["settings"]["deposit_percent"] == "50%"
    assert shown["admins"] == ["+33612345678"]
    assert run_main(capsys, "order", "create", "--customer", "+33699887766", "--price", "45,50 €")[0] == 0
    code, out, _ = run_main(capsys, "order", "list", "--json")
    assert json.loads(out)[0]["status"] == "pending"
    assert run_main(capsys, "order", "accept", "#1")[0] == 0
    code, out, _ = run_main(capsys, "order", "show", "#1")
    assert "accepted" in out and "45.50 EUR" in out


def test_a_secret_is_stored_once_secret_key_is_set(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_main(capsys, "vendor", "add", "--name", "A", "--admin", "+33612345678")[0] == 0
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    code, out, err = run_main(capsys, "vendor", "set", "stripe_api_key=sk_test_x")
    assert code == 0, err
    assert "sk_test_x" not in out
    assert b"sk_test_x" not in (in_tmp / "bot.db").read_bytes()


def test_a_bad_setting_in_the_environment_stops_the_command_in_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYMENT_PROVIDER", "stripe")
    code, _, err = run_main(capsys, "vendor", "list")
    assert code == 2
    check_one_line_failure(code, err)
    assert "STRIPE_API_KEY" in err


def test_an_unreachable_database_is_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres:hunter2@127.0.0.1:1/nowhere")
    code, _, err = run_main(capsys, "vendor", "list")
    check_one_line_failure(code, err)
    assert "database" in err
    assert "hunter2" not in err


def test_pay_requests_a_deposit_prints_the_link_and_records_cash(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(capsys, "vendor", "add", "--name", "A", "--admin", "+33612345678")[0] == 0
    assert (
        run_main(capsys, "order", "create", "--customer", "+33699887766", "--price", "150", "--accept")[0]
        == 0
    )
    code, out, err = run_main(capsys, "pay", "1", "--deposit", "30%")
    assert code == 0, err
    assert "45.00 EUR" in out and "/sandbox/checkout/sbx_" in out
    code, _, err = run_main(capsys, "pay", "1", "--full")
    check_one_line_failure(code, err)
    assert "already requested" in err
    code, out, err = run_main(capsys, "pay", "#1", "--cash", "105")
    assert code == 0, err
    assert "order accepted, paid 105.00 EUR, balance 45.00 EUR" in out
    code, _, err = run_main(capsys, "pay", "1", "--cash", "46")  # more than the 45.00 EUR left
    check_one_line_failure(code, err)
    code, out, _ = run_main(capsys, "order", "show", "1", "--json")
    shown = json.loads(out)
    assert shown["status"] == "accepted" and shown["balance"] == "45.00"
    deposit, cash = shown["transactions"]
    assert deposit["type"] == "acompte" and deposit["status"] == "pending"
    assert deposit["link"]["url"].startswith("http://127.0.0.1:8080/sandbox/checkout/")
    assert cash["payment_method"] == "cash_register" and cash["status"] == "paid" and cash["link"] is None
    code, out, err = run_main(capsys, "refund", "1")
    assert code == 0, err
    assert "105.00 EUR refunded" in out
    code, out, _ = run_main(capsys, "order", "show", "1", "--json")
    assert json.loads(out)["balance"] == "150.00"


@pytest.mark.parametrize(
    "argv",
    [["pay", "1"], ["pay", "1", "--full", "--balance"], ["pay", "x", "--full"], ["pay", "1", "--deposit"]],
)
def test_pay_with_bad_arguments_exits_2_in_one_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, _, err = run_main(capsys, *argv)
    assert code == 2
    check_one_line_failure(code, err)
