"""Card on file from the command line, in process on the sandbox provider and a fresh SQLite file:
``bot guarantee`` (ask, capture, release), ``bot pay --saved-card`` and ``--phone``, ``bot customer cards``
and ``forget-card``, guarantees in ``bot order show`` and the settings in ``bot vendor show``: their text
and their JSON, and the one line a bad argument gets. The provider's events (a hold, a payment with a
saved card) come in the sandbox's webhook format, with the tests' fixed clock."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.payments.port import PaymentEventKind, SavedCard
from bot.payments.sandbox.webhooks import make_event, payment_events
from bot.services import events, orders as order_service
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW
from tests.integration.test_cli import check_one_line_failure, in_tmp, run_main
from tests.integration.test_cli_outputs import CUSTOMER, create, ok, ok_json, refused, vendor
from tests.payment_support import deps_for

# The CLI tests' fixtures (a fresh SQLite file, a sandbox vendor), exported so pytest and ruff see them used.
__all__ = ["in_tmp", "vendor"]

CARD = SavedCard("sbx_card_ok_4242", "visa", "4242", 12, 2028)
THREE_DS_CARD = SavedCard("sbx_card_3ds_3184", "mastercard", "3184", 11, 2029)
OTHER_CUSTOMER = "+33611223344"


def provider_says(
    kind: PaymentEventKind, number: int, *, guarantee: bool, saved_card: SavedCard | None = None
) -> None:
    """The sandbox provider's event for order ``number``'s latest guarantee (or latest open request),
    through the same parser and use case as its webhook, on the CLI's database (``./bot.db``)."""

    async def run() -> None:
        engine = create_engine("sqlite:///bot.db")
        try:
            uow = UnitOfWorkFactory(engine)
            view = await order_service.show_order(uow, None, number)
            found = [t for t in view.transactions if t.is_guarantee == guarantee and t.is_open]
            transaction = found[-1]
            assert transaction.payment_link_id is not None
            link = view.links[transaction.payment_link_id]
            event = make_event(
                kind, link.provider_link_id, transaction.id, transaction.amount,
                f"sbx_pay_{uuid.uuid4().hex[:12]}", NOW, saved_card=saved_card,
            )  # fmt: skip
            [parsed] = payment_events(json.dumps(event))
            await events.apply_event(deps_for(uow), parsed)
        finally:
            await engine.dispose()

    asyncio.run(run())


def guarantee_of(capsys: pytest.CaptureFixture[str], number: int = 1) -> dict[str, Any]:
    shown = ok_json(capsys, "order", "show", str(number))
    guarantees: list[dict[str, Any]] = shown["guarantees"]
    return guarantees[-1]


def test_vendor_show_prints_the_guarantee_and_saved_card_settings_as_text_and_json(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = ok(capsys, "vendor", "show").splitlines()
    assert {
        "guarantee_mode: off",
        "guarantee_amount: 100%",
        "guarantee_release_days: 7",
        "saved_cards: off",
    } <= set(shown)
    changed = ok(capsys, "vendor", "set", "guarantee_mode=optional", "guarantee_amount=50", "saved_cards=on")
    assert changed.splitlines() == [
        "guarantee_mode = optional",
        "guarantee_amount = 50.00",
        "saved_cards = on",
    ]
    settings = ok_json(capsys, "vendor", "show")["settings"]
    assert (settings["guarantee_mode"], settings["guarantee_amount"]) == ("optional", "50.00")
    assert (settings["guarantee_release_days"], settings["saved_cards"]) == (7, True)
    err = refused(capsys, "vendor", "set", "guarantee_release_days=30")
    assert "guarantee_release_days" in err


def test_guarantee_is_asked_held_and_20_of_50_captured_and_order_show_says_so(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "vendor", "set", "guarantee_mode=optional", "guarantee_amount=50")
    create(capsys, "150", "--accept")
    asked = ok(capsys, "guarantee", "1")
    assert re.fullmatch(
        r"Garantie carte - commande n° 1: 50\.00 EUR to hold on the card, "
        r"link http://127\.0\.0\.1:8080/sandbox/checkout/sbx_\w+\n",
        asked,
    )
    assert "  guarantee 50.00 EUR  pending" in ok(capsys, "order", "show", "1").splitlines()
    pending = guarantee_of(capsys)
    assert (pending["status"], pending["amount"], pending["held"], pending["lapses_at"]) == (
        "pending", "50.00", None, None,
    )  # fmt: skip
    assert pending["link"]["url"] in asked

    provider_says(PaymentEventKind.HELD, 1, guarantee=True)
    shown = ok(capsys, "order", "show", "1").splitlines()
    assert (
        "  guarantee 50.00 EUR  held, held 50.00 EUR, released by us 2026-11-28 09:30 UTC, "
        "lapses at the provider 2026-11-28 09:30 UTC"
    ) in shown
    assert "no payment requested yet" in shown, "a guarantee is not a payment"
    held = guarantee_of(capsys)
    assert (held["status"], held["held"], held["captured"]) == ("held", "50.00", None)
    assert (held["release_at"], held["lapses_at"]) == (
        "2026-11-28T09:30:00+00:00",
        "2026-11-28T09:30:00+00:00",
    )

    err = refused(capsys, "guarantee", "1", "--capture", "60")
    assert err.strip() == (
        "bot: €60.00 is more than the guarantee held (€50.00): you can charge up to €50.00. "
        "Nothing was charged."
    )
    captured = ok(capsys, "guarantee", "1", "--capture", "20")
    assert captured.strip() == (
        "20.00 EUR captured of the 50.00 EUR guarantee on #1, 30.00 EUR released: order accepted, "
        "paid 20.00 EUR, balance 130.00 EUR"
    )
    data = ok_json(capsys, "order", "show", "1")
    [guarantee] = data["guarantees"]
    assert (guarantee["status"], guarantee["held"], guarantee["captured"]) == ("captured", "50.00", "20.00")
    payment = next(t for t in data["transactions"] if not t["is_guarantee"])
    assert (payment["amount"], payment["status"], payment["guarantee_id"]) == (
        "20.00",
        "paid",
        guarantee["id"],
    )
    assert data["paid"] == "20.00"
    assert "  guarantee 50.00 EUR  captured, held 50.00 EUR, captured 20.00 EUR" in ok(
        capsys, "order", "show", "1"
    )


def test_guarantee_release_cancels_a_request_releases_a_hold_and_nothing_is_captured_after(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "vendor", "set", "guarantee_mode=optional")
    create(capsys, "150", "--accept")
    asked = ok(capsys, "guarantee", "1", "--amount", "30%")
    assert "45.00 EUR to hold on the card" in asked
    assert ok(capsys, "guarantee", "1", "--release").strip() == (
        "guarantee request of 45.00 EUR on #1 cancelled (its link stopped)"
    )
    ok(capsys, "guarantee", "1", "--amount", "50")
    provider_says(PaymentEventKind.HELD, 1, guarantee=True)
    assert (
        ok(capsys, "guarantee", "1", "--release").strip()
        == "guarantee of 50.00 EUR on #1 released: nothing charged"
    )
    assert guarantee_of(capsys)["status"] == "released"
    err = refused(capsys, "guarantee", "1", "--capture")
    assert err.strip() == "bot: Order #1 has no guarantee held. To ask for one: guarantee 1 [amount]."
    assert ok_json(capsys, "order", "show", "1")["paid"] == "0.00"


def test_pay_on_the_saved_card_charges_it_and_a_3ds_card_gets_a_link_instead(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "vendor", "set", "saved_cards=on")
    create(capsys, "150", "--accept")
    err = refused(capsys, "pay", "1", "--saved-card", "--full")
    assert err.strip() == (
        f'bot: {CUSTOMER} has no saved card. Send them a link (pay 1): they can tick "save my card".'
    )
    ok(capsys, "pay", "1", "--deposit", "30")
    provider_says(PaymentEventKind.PAID, 1, guarantee=False, saved_card=CARD)
    charged = ok(capsys, "pay", "1", "--saved-card", "--balance")
    assert charged.strip() == (
        "Solde - commande n° 1: 120.00 EUR charged on Visa •••• 4242 (12/28); order paid, "
        "paid 150.00 EUR, balance 0.00 EUR"
    )
    [paid_on_card] = [t for t in ok_json(capsys, "order", "show", "1")["transactions"] if t["saved_card"]]
    assert (paid_on_card["amount"], paid_on_card["status"]) == ("120.00", "paid")

    ok(capsys, "order", "create", "--customer", OTHER_CUSTOMER, "--price", "80", "--accept")
    ok(capsys, "pay", "2", "--deposit", "20")
    provider_says(PaymentEventKind.PAID, 2, guarantee=False, saved_card=THREE_DS_CARD)
    linked = ok(capsys, "pay", "2", "--saved-card", "--full")
    assert re.fullmatch(
        r"Solde - commande n° 2: the bank asks the customer to confirm, nothing was charged on "
        r"Mastercard •••• 3184 \(11/29\); a payment link for 60\.00 EUR was sent to them instead: "
        r"http://127\.0\.0\.1:8080/sandbox/checkout/sbx_\w+\n",
        linked,
    )
    assert ok_json(capsys, "order", "show", "2")["paid"] == "20.00", "nothing charged on the card"


def test_customer_cards_lists_them_as_text_and_json_and_forget_card_forgets_them(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "vendor", "set", "saved_cards=on")
    create(capsys, "150", "--accept")
    assert ok(capsys, "customer", "cards", CUSTOMER).strip() == f"no saved card for {CUSTOMER}"
    assert ok_json(capsys, "customer", "cards", CUSTOMER) == {"phone": CUSTOMER, "cards": []}
    ok(capsys, "pay", "1", "--deposit", "30")
    provider_says(PaymentEventKind.PAID, 1, guarantee=False, saved_card=CARD)
    listed = ok(capsys, "customer", "cards", "+33 6 99 88 77 66")
    assert listed.strip() == "Visa •••• 4242 (12/28)  sandbox  saved 2026-11-21 (checkout)"
    data = ok_json(capsys, "customer", "cards", CUSTOMER)
    [card] = data["cards"]
    assert {k: card[k] for k in ("label", "brand", "last4", "expiry", "provider", "consent", "saved_at")} == {
        "label": "Visa •••• 4242 (12/28)", "brand": "visa", "last4": "4242", "expiry": "12/28",
        "provider": "sandbox", "consent": "checkout", "saved_at": "2026-11-21T09:30:00+00:00",
    }  # fmt: skip
    assert "sbx_card" not in json.dumps(data), "the provider's token is never shown"
    forgotten = ok(capsys, "customer", "forget-card", CUSTOMER)
    assert (
        forgotten.strip()
        == "forgotten: Visa •••• 4242 (12/28); never charged again, and deleted at the provider"
    )
    assert ok_json(capsys, "customer", "cards", CUSTOMER)["cards"] == []
    assert (
        ok(capsys, "customer", "forget-card", CUSTOMER).strip()
        == f"no saved card for {CUSTOMER}: nothing to forget"
    )
    assert "has no saved card" in refused(capsys, "pay", "1", "--saved-card", "--balance")


def test_pay_by_phone_prints_a_one_time_link_and_its_expiry(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "vendor", "set", "guarantee_mode=optional")
    create(capsys, "150", "--accept")
    out = ok(capsys, "pay", "1", "--phone", "--deposit", "30%", "--save-card").splitlines()
    assert re.fullmatch(
        r"Acompte - commande n° 1: 45\.00 EUR, one-time link http://127\.0\.0\.1:8080/pay/phone/[\w-]+",
        out[0],
    )
    assert re.fullmatch(
        r"it works once, until \d{4}-\d\d-\d\d \d\d:\d\d UTC: open it on your own device and type the card "
        r"the customer reads out; the card will be saved \(the customer agreed\)",
        out[1],
    )
    guarantee = ok(capsys, "pay", "1", "--phone", "--guarantee", "50").splitlines()
    assert guarantee[0].startswith("Garantie carte - commande n° 1: 50.00 EUR, one-time link http")
    assert "saved" not in guarantee[1]
    shown = ok_json(capsys, "order", "show", "1")
    assert [g["amount"] for g in shown["guarantees"]] == ["50.00"]
    assert [t["link"] for t in shown["transactions"]] == [None, None], "the link is made when it is opened"


def test_guarantee_mode_required_asks_the_guarantee_with_bot_pay(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok(capsys, "vendor", "set", "guarantee_mode=required", "guarantee_amount=40")
    create(capsys, "150", "--accept")
    out = ok(capsys, "pay", "1", "--full").splitlines()
    assert out[0].startswith("Paiement complet - commande n° 1: 150.00 EUR requested, link http")
    assert re.fullmatch(
        r"guarantee requested too \(guarantee_mode=required\): 40\.00 EUR, "
        r"link http://127\.0\.0\.1:8080/sandbox/checkout/sbx_\w+",
        out[1],
    )
    assert len(out) == 2
    second = ok(capsys, "pay", "1", "--cash", "10").splitlines()
    assert not any("guarantee" in line for line in second), "cash is no payment request"


@pytest.mark.parametrize(
    "argv",
    [
        ["pay", "1", "--guarantee", "50"],
        ["pay", "1", "--cash", "5", "--saved-card"],
        ["pay", "1", "--save-card", "--full"],
        ["pay", "1", "--saved-card", "--phone", "--full"],
        ["pay", "1", "--saved-card"],
        ["guarantee", "1", "--capture", "5", "--release"],
        ["guarantee", "x"],
        ["customer", "cards"],
        ["customer", "forget-card"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_a_bad_card_argument_is_one_line_and_exit_2_before_the_database(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run_main(capsys, *argv)
    assert code == 2 and out == ""
    check_one_line_failure(code, err)
    assert err.startswith("bot: error: ")
    assert not (in_tmp / "bot.db").exists()


@pytest.mark.parametrize(
    ("mode", "argv", "words"),
    [
        ("off", ["guarantee", "1"], "Card guarantees are off"),
        ("off", ["pay", "1", "--phone", "--guarantee", "20"], "Card guarantees are off"),
        ("optional", ["guarantee", "1", "--amount", "abc"], "abc"),
        ("optional", ["guarantee", "1", "--amount", "0"], "more than zero"),
        ("optional", ["guarantee", "1", "--capture"], "no guarantee held"),
        ("optional", ["guarantee", "1", "--release"], "no guarantee held"),
        ("optional", ["customer", "cards", "+33600000000"], "+33600000000"),
        ("optional", ["customer", "forget-card", "+33600000000"], "+33600000000"),
    ],
    ids=["guarantees off", "phone guarantee off", "bad amount", "zero amount", "capture nothing",
         "release nothing", "unknown customer", "forget unknown customer"],
)  # fmt: skip
def test_a_refused_card_operation_is_one_line_and_changes_nothing(
    vendor: Path, capsys: pytest.CaptureFixture[str], mode: str, argv: list[str], words: str
) -> None:
    ok(capsys, "vendor", "set", f"guarantee_mode={mode}")
    create(capsys, "150", "--accept")
    err = refused(capsys, *argv)
    assert words in err
    shown = ok_json(capsys, "order", "show", "1")
    assert shown["transactions"] == [] and shown["guarantees"] == []


def test_the_new_options_say_what_they_do_and_their_default(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        run_main(capsys, "guarantee", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "(default, with no option: the vendor's guarantee_amount)" in text
    assert "this amount (default: all of it); the rest is released" in text
    with pytest.raises(SystemExit):
        run_main(capsys, "pay", "--help")
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--saved-card", "--phone", "--save-card", "--guarantee AMOUNT|PCT%"):
        assert option in text
    assert "the customer having agreed out loud" in text
