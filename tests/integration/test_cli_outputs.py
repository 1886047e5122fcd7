"""What every `bot` command prints: its --help, its text output and its --json, in process, on the
sandbox provider and a fresh SQLite file (``in_tmp``); and the one line a bad argument gets."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.cli import build_parser, main
from tests.integration.test_cli import check_one_line_failure, in_tmp, run_main

# `in_tmp` is the CLI tests' fixture (a fresh SQLite file, no stray settings): exported so that pytest and
# ruff both see it used.
__all__ = ["in_tmp"]

README = Path(__file__).resolve().parents[2] / "README.md"
CUSTOMER = "+33699887766"


def _children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of ``parser``, groups (``vendor``) as well as leaves (``vendor add``)."""
    paths = []
    for name, child in _children(parser).items():
        paths.append((*prefix, name))
        paths.extend(command_paths(child, (*prefix, name)))
    return paths


def leaf_parser(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = build_parser()
    for name in path:
        parser = _children(parser)[name]
    return parser


def readme_commands() -> set[tuple[str, ...]]:
    """The commands of the README's "Using it" block: the words after `bot` up to the first argument."""
    section = README.read_text(encoding="utf-8").split("## Using it", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = set()
    for line in block.splitlines():
        words = line.split()
        if not words or words[0] != "bot":
            continue
        path = []
        for word in words[1:]:
            if not re.fullmatch(r"[a-z]+", word):
                break
            path.append(word)
        commands.add(tuple(path))
    return commands


PATHS = command_paths(build_parser())


def ok(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run_main(capsys, *argv)
    assert code == 0, (argv, err)
    assert "Traceback" not in err
    assert err == "", (argv, err)
    return out


def ok_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    return json.loads(ok(capsys, *argv, "--json"))


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run_main(capsys, *argv)
    check_one_line_failure(code, err)
    assert err.startswith("bot: "), err
    assert out == ""
    return err


@pytest.fixture
def vendor(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A sandbox vendor on a fresh database."""
    out = ok(capsys, "vendor", "add", "--name", "Boulangerie", "--admin", "+33612345678")
    assert "vendor 'Boulangerie' added" in out
    return in_tmp


def create(capsys: pytest.CaptureFixture[str], price: str, *extra: str) -> str:
    return ok(capsys, "order", "create", "--customer", CUSTOMER, "--price", price, *extra)


def test_the_help_walk_finds_every_command_the_readme_lists_and_the_customer_commands() -> None:
    found = set(PATHS)
    listed = readme_commands()
    assert {("serve",), ("migrate",), ("vendor", "add"), ("order", "create"), ("pay",), ("refund",)} <= listed
    assert listed <= found, listed - found
    assert {("customer", "list"), ("customer", "show"), ("customer", "set"), ("reminders", "run")} <= found
    leaves = [path for path in found if not _children(leaf_parser(path))]
    unhandled = [p for p in leaves if p != ("serve",) and leaf_parser(p).get_default("handler") is None]
    assert unhandled == [], "every command but serve runs a handler"


@pytest.mark.parametrize("path", [(), *PATHS], ids=lambda path: " ".join(("bot", *path)))
def test_every_command_answers_help_with_its_usage_and_nothing_on_stderr(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], path: tuple[str, ...]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path, "--help"])
    captured = capsys.readouterr()
    assert exited.value.code == 0
    assert captured.err == ""
    assert captured.out.startswith("usage: " + " ".join(("bot", *path))), captured.out
    for child in _children(leaf_parser(path)):
        assert child in captured.out
    assert not (in_tmp / "bot.db").exists(), "--help touches no database"


def test_vendor_commands_print_their_text_output(vendor: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = ok(capsys, "vendor", "list")
    assert "Boulangerie" in listed and "EUR fr Europe/Paris" in listed and "+33612345678" in listed
    changed = ok(capsys, "vendor", "set", "deposit_percent=40", "reminder_schedule=1d,2d")
    assert changed.splitlines() == ["deposit_percent = 40%", "reminder_schedule = 1d,2d"]
    shown = ok(capsys, "vendor", "show").splitlines()
    assert "admins: +33612345678" in shown and "provider: sandbox" in shown
    assert "deposit_percent: 40%" in shown and "reminder_schedule: 1d,2d" in shown
    assert ok(capsys, "vendor", "check").strip() == "sandbox: connected"


def test_order_commands_print_their_text_output_and_order_list_does_not_crash(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert create(capsys, "80", "--label", "Tarte").strip() == "order #1 created, pending, 80.00 EUR"
    created = create(capsys, "150", "--label", "Gateau", "--accept")
    assert created.strip() == "order #2 created, accepted, 150.00 EUR", "no request by default"
    assert create(capsys, "12").strip() == "order #3 created, pending, 12.00 EUR"
    assert ok(capsys, "order", "accept", "1").strip() == "order #1 accepted"
    every = ok(capsys, "order", "list").splitlines()
    assert [line.split()[:3] for line in every] == [
        ["#3", "pending", "12.00"],
        ["#2", "accepted", "150.00"],
        ["#1", "accepted", "80.00"],
    ]
    assert every[1].endswith("Gateau")
    accepted = ok(capsys, "order", "list", "--status", "accepted")
    assert "#2" in accepted and "#1" in accepted and "#3" not in accepted
    assert ok(capsys, "order", "list", "--status", "cancelled").strip() == "no order"
    shown = ok(capsys, "order", "show", "2").splitlines()
    assert shown[0] == "order #2  accepted  Gateau"
    assert f"customer: {CUSTOMER}" in shown and "price: 150.00 EUR" in shown
    assert "paid: 0.00 EUR   balance: 150.00 EUR" in shown and "no payment requested yet" in shown


def test_pay_prints_each_kind_of_request_and_a_cash_payment(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(4):
        create(capsys, "150", "--accept")
    deposit = ok(capsys, "pay", "1", "--deposit", "30%")
    assert deposit.startswith(
        "Acompte - commande n° 1: 45.00 EUR requested, link http://127.0.0.1:8080/sandbox/checkout/"
    )
    assert "45.00 EUR requested" in ok(capsys, "pay", "2", "--deposit", "45")
    full = ok(capsys, "pay", "3", "--full")
    assert "150.00 EUR requested" in full and "/sandbox/checkout/" in full
    balance = ok(capsys, "pay", "1", "--balance")
    assert "105.00 EUR requested" in balance and "/sandbox/checkout/" in balance
    cash = ok(capsys, "pay", "4", "--cash", "20")
    assert cash.strip() == (
        "cash payment of 20.00 EUR recorded for #4: order accepted, paid 20.00 EUR, balance 130.00 EUR"
    )
    shown = ok(capsys, "order", "show", "1")
    assert re.search(
        r"acompte request \S+ \S+ UTC  45.00 EUR  pending  http://127.0.0.1:8080/sandbox/checkout/", shown
    )
    assert re.search(r"solde request \S+ \S+ UTC  105.00 EUR  pending", shown)
    paid = ok(capsys, "order", "show", "4")
    assert re.search(r"cash \d{4}-\d\d-\d\d \d\d:\d\d UTC  20.00 EUR  paid", paid), "named by method and date"


def test_refund_prints_partial_and_full_refunds_and_resolve_without_an_unknown_refund_is_one_line(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create(capsys, "150", "--accept")
    ok(capsys, "pay", "1", "--cash", "50")
    partial = ok(capsys, "refund", "1", "--amount", "20")
    assert partial.strip() == (
        "20.00 EUR refunded on #1: paid 50.00 EUR, refunded 20.00 EUR in all, net 30.00 EUR; order accepted"
    )
    whole = ok(capsys, "refund", "1")
    assert whole.strip() == (
        "30.00 EUR refunded on #1: paid 50.00 EUR, refunded 50.00 EUR in all, net 0.00 EUR; order accepted"
    )
    assert "paid: 0.00 EUR (after 50.00 EUR refunded)" in ok(capsys, "order", "show", "1")
    err = refused(capsys, "refund", "1", "--resolve", "made")
    assert "unknown outcome" in err and "#1" in err


def test_reminders_customers_and_migrate_print_their_text_output(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ok(capsys, "customer", "list").strip() == "no customer yet"
    create(capsys, "150", "--accept")
    ok(capsys, "pay", "1", "--deposit", "30%")
    assert ok(capsys, "reminders", "run").strip() == "0 reminders queued", "the first reminder is a day away"
    assert ok(capsys, "customer", "list").split() == [CUSTOMER, "-", "vendor's", "language"]
    assert ok(capsys, "customer", "show", CUSTOMER).split() == [CUSTOMER, "-", "vendor's", "language"]
    changed = ok(capsys, "customer", "set", CUSTOMER, "locale=he", "name=Dana")
    assert changed.split() == [CUSTOMER, "Dana", "he"]
    assert ok(capsys, "customer", "show", "+33 6 99 88 77 66").split() == [CUSTOMER, "Dana", "he"]
    with_email = ok(capsys, "customer", "set", CUSTOMER, "email=dana@example.com")
    assert with_email.split() == [CUSTOMER, "Dana", "he", "dana@example.com"], "no client sync on the sandbox"
    nothing = ok(capsys, "customers", "sync").strip()
    assert nothing == "sandbox keeps no clients: nothing to sync for Boulangerie"
    assert re.fullmatch(r"schema at \w+ \(already up to date\)\n", ok(capsys, "migrate"))


def test_migrate_on_a_fresh_database_says_where_the_schema_came_from(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert re.fullmatch(r"schema at \w+ \(was empty\)\n", ok(capsys, "migrate"))


def test_every_command_with_json_prints_json(vendor: Path, capsys: pytest.CaptureFixture[str]) -> None:
    create(capsys, "150", "--label", "Gateau", "--accept")
    ok(capsys, "pay", "1", "--deposit", "30%")
    runs = {
        ("vendor", "list"): (),
        ("vendor", "show"): (),
        ("order", "list"): (),
        ("order", "show"): ("1",),
        ("customer", "list"): (),
        ("customer", "show"): (CUSTOMER,),
        ("customer", "cards"): (CUSTOMER,),
        ("customers", "sync"): (),
        ("admin", "link"): ("--phone", "+33612345678"),
        ("report",): ("--from", "2026-11-01", "--to", "2026-12-01"),
        ("product", "add"): ("--sku", "tarte", "--name", "Tarte", "--price", "9"),
        ("product", "list"): (),
        ("product", "set"): ("tarte", "name=Tarte aux pommes"),
        ("doctor",): (),
    }
    with_json = {path for path in PATHS if "--json" in leaf_parser(path)._option_string_actions}
    assert with_json == set(runs), "a new command with --json needs a run here"
    data = {path: ok_json(capsys, *path, *args) for path, args in runs.items()}
    [listed] = data[("vendor", "list")]
    assert listed["admins"] == ["+33612345678"] and listed == data[("vendor", "show")]
    [order] = data[("order", "list")]
    assert (order["number"], order["status"], order["label"]) == (1, "accepted", "Gateau")
    assert (order["price"], order["currency"]) == ("150.00", "EUR")
    shown = data[("order", "show")]
    assert shown["reference"] == "#1" and shown["balance"] == "150.00"
    [deposit] = shown["transactions"]
    assert deposit["amount"] == "45.00" and "/sandbox/checkout/" in deposit["link"]["url"]
    customer = {"phone": CUSTOMER, "name": None, "locale": None, "opted_out": False}
    assert shown["customer"] == customer
    # A sandbox vendor keeps no client sync.
    details = {**customer, "email": None, "client_sync": {"state": None, "error": None, "synced_at": None}}
    assert data[("customer", "list")] == [details] and data[("customer", "show")] == details
    assert data[("customers", "sync")]["client_sync"] is False and data[("customers", "sync")]["total"] == 0
    assert data[("customer", "cards")] == {"phone": CUSTOMER, "cards": []}
    assert "/admin/login/link/" in data[("admin", "link")]["url"]
    # The sandbox: warnings only (no https, no real WhatsApp), nothing failed.
    assert data[("doctor",)]["ok"] is True and data[("doctor",)]["counts"]["fail"] == 0
    assert (
        data[("product", "add")]["sync"]["state"] == "synced" and data[("product", "add")]["price"] == "9.00"
    )
    assert [p["sku"] for p in data[("product", "list")]] == ["tarte"]
    assert data[("product", "set")]["name"] == "Tarte aux pommes"
    assert shown["guarantees"] == [] and deposit["is_guarantee"] is False


def _request_line(out: str) -> str:
    [line] = [line for line in out.splitlines() if "payment request" in line]
    return line


def test_request_on_accept_sends_the_deposit_when_an_order_is_created_accepted(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    changed = ok(capsys, "vendor", "set", "request_on_accept=on", "deposit_mode=percent")
    assert "deposit_mode = percent" in changed
    out = create(capsys, "150", "--label", "Gateau", "--accept")
    assert out.splitlines()[0] == "order #1 created, accepted, 150.00 EUR"
    line = _request_line(out)
    assert line.startswith("payment request sent: Acompte - commande n° 1, 45.00 EUR, http")
    assert "/sandbox/checkout/" in line
    assert ok_json(capsys, "order", "show", "1")["transactions"][0]["link"]["url"] == line.rsplit(", ", 1)[1]


def test_request_on_accept_sends_the_deposit_when_a_pending_order_is_accepted(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "vendor", "set", "request_on_accept=on", "deposit_mode=percent")
    created = create(capsys, "150", "--label", "Gateau")
    assert created.strip() == "order #1 created, pending, 150.00 EUR", "pending: nothing to request yet"
    out = ok(capsys, "order", "accept", "1")
    assert out.splitlines()[0] == "order #1 accepted"
    line = _request_line(out)
    assert "45.00 EUR" in line and "/sandbox/checkout/" in line and line.startswith("payment request sent")


def test_request_on_accept_sends_nothing_when_the_vendor_takes_no_deposit(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "vendor", "set", "request_on_accept=on", "deposit_mode=none")
    assert create(capsys, "150", "--accept").strip() == "order #1 created, accepted, 150.00 EUR"
    create(capsys, "60")
    assert ok(capsys, "order", "accept", "2").strip() == "order #2 accepted"
    assert ok_json(capsys, "order", "show", "1")["transactions"] == []


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["customer", "show", "+33600000000"], "+33600000000"),
        (["customer", "set", CUSTOMER, "colour=blue"], "colour"),
        (["customer", "set", CUSTOMER, "locale=xx"], "xx"),
        (["customer", "set", CUSTOMER, "email=dana@example"], "dana@example"),
        (["refund", "1", "--amount", "-3"], "-3"),
    ],
    ids=["unknown customer", "unknown customer setting", "unknown locale", "bad email", "negative refund"],
)
def test_a_bad_argument_to_customer_and_refund_is_one_line_starting_with_bot(
    vendor: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    create(capsys, "150", "--accept")
    ok(capsys, "pay", "1", "--cash", "50")
    err = refused(capsys, *argv)
    assert words in err
    assert ok_json(capsys, "order", "show", "1")["paid"] == "50.00", "nothing changed"
    assert ok_json(capsys, "customer", "show", CUSTOMER)["locale"] is None
