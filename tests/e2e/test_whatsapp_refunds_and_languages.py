"""Refunding from chat with its confirmation, customers' languages, and the request sent on acceptance,
driven over HTTP with signed webhooks; pywa sends to the fake Graph API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.domain.order import OrderStatus
from bot.domain.transaction import TransactionStatus
from bot.services import orders as order_service, vendors as vendor_service
from bot.web.keys import clock_key, uow_key
from tests.e2e.test_whatsapp_flow import link_in, pay_link
from tests.whatsapp_support import ADMIN, CUSTOMER, RunningBot, start_bot

HEBREW_CUSTOMER = "972501234567"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path):
        yield running


async def paid_order(bot: RunningBot) -> None:
    """Order #1 of 150 EUR, paid in full through the sandbox checkout."""
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    await bot.says(CUSTOMER, "Bonjour")
    await bot.next_to(ADMIN)
    await bot.next_to(CUSTOMER)
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 Gâteau")
    await bot.next_to(ADMIN)
    await bot.says(ADMIN, "complet 1")
    await bot.clicks(ADMIN, (await bot.next_to(ADMIN)).buttons[0].id)
    await pay_link(bot, link_in((await bot.next_to(CUSTOMER)).text))
    await bot.next_to(ADMIN)  # "lien envoyé"
    assert "Paiement reçu" in (await bot.next_to(CUSTOMER)).text
    await bot.next_to(ADMIN)  # "paiement reçu"
    await bot.settle()


async def test_rembourser_12_20_from_chat_goes_through_its_confirmation(bot: RunningBot) -> None:
    await paid_order(bot)
    await bot.says(ADMIN, "rembourser 1 20")
    confirmation = await bot.next_to(ADMIN)
    assert confirmation.text.startswith("↩️ 20.00 EUR seront remboursés au client pour la commande #1.")
    assert "Payé : 150.00 EUR — déjà remboursé : 0.00 EUR — encore remboursable : 150.00 EUR" in (
        confirmation.text
    )
    assert [b.title for b in confirmation.buttons] == ["Oui, rembourser", "Annuler"]
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    assert view.refunds == {}, "nothing is refunded before the vendor confirms"
    await bot.clicks(ADMIN, confirmation.buttons[0].id, "Oui, rembourser")
    told = await bot.next_to(CUSTOMER)
    assert told.text.startswith("↩️ Remboursement de 20.00 EUR pour la commande #1")
    replies = [(await bot.next_to(ADMIN)).text for _ in range(2)]
    assert any(text.startswith("✅ Remboursement de 20.00 EUR fait pour la commande #1") for text in replies)
    assert any("reste encaissé : 130.00 EUR" in text for text in replies)
    await bot.clicks(ADMIN, confirmation.buttons[0].id, "Oui, rembourser")  # a double tap
    assert "plus valable" in (await bot.next_to(ADMIN)).text
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    [transaction] = view.transactions
    assert transaction.status is TransactionStatus.PARTIALLY_REFUNDED
    assert [r.requested_by for r in view.refunds[transaction.id]] == [f"+{ADMIN}"]
    assert view.order.status is OrderStatus.ACCEPTED

    await bot.says(ADMIN, "rembourser 1")
    rest = await bot.next_to(ADMIN)
    assert "130.00 EUR seront remboursés" in rest.text and "déjà remboursé : 20.00 EUR" in rest.text
    await bot.clicks(ADMIN, rest.buttons[1].id, "Annuler")
    assert "rien n'a été remboursé" in (await bot.next_to(ADMIN)).text
    await bot.says(ADMIN, "rembourser 1 200")
    assert "200.00 EUR dépasse ce qui peut être remboursé : 130.00 EUR" in (await bot.next_to(ADMIN)).text


async def test_a_hebrew_customer_gets_hebrew_messages(bot: RunningBot) -> None:
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    await bot.says(ADMIN, f"langue +{HEBREW_CUSTOMER} he")
    assert "en hébreu" in (await bot.next_to(ADMIN)).text
    await bot.says(HEBREW_CUSTOMER, "שלום")
    assert (await bot.next_to(HEBREW_CUSTOMER)).text.startswith("תודה, ההודעה שלך הועברה")
    await bot.says(ADMIN, f"nouvelle +{HEBREW_CUSTOMER} 150 עוגה")
    await bot.says(ADMIN, "acompte 1 30%")
    confirmation = None
    while confirmation is None or not confirmation.buttons:
        confirmation = await bot.next_to(ADMIN)
    await bot.clicks(ADMIN, confirmation.buttons[0].id)
    request = await bot.next_to(HEBREW_CUSTOMER)
    while "/sandbox/checkout/" not in request.text:
        request = await bot.next_to(HEBREW_CUSTOMER)
    assert request.text.startswith("💰 קישור לתשלום המקדמה")
    assert "45.00" in request.text
    await bot.says(HEBREW_CUSTOMER, "יתרה")
    balance = await bot.next_to(HEBREW_CUSTOMER)
    assert "150.00" in balance.text and any("\u0590" <= char <= "\u05ff" for char in balance.text)


async def test_an_order_accepted_with_request_on_accept_gets_its_deposit_request_at_once(
    bot: RunningBot,
) -> None:
    await vendor_service.change_settings(
        bot.app[uow_key], None, [("request_on_accept", "on"), ("deposit_mode", "percent")], None,
        bot.app[clock_key](),
    )  # fmt: skip
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    await bot.says(CUSTOMER, "Bonjour")
    await bot.next_to(ADMIN)
    await bot.next_to(CUSTOMER)
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 Gateau")
    request = await bot.next_to(CUSTOMER)
    assert "45.00 EUR" in request.text and "/sandbox/checkout/" in request.text
    told = await bot.next_to(ADMIN)
    assert "Commande #1 créée" in told.text
    assert "Demande envoyée au client : Acompte de 45.00 EUR" in told.text
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    [transaction] = view.transactions
    assert str(transaction.amount) == "45.00 EUR" and transaction.status is TransactionStatus.PENDING
