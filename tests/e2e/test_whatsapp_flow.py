"""The source's deposit flow, driven over HTTP with signed webhooks; pywa sends to the fake Graph API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.order import OrderStatus
from bot.services import orders as order_service
from bot.web.keys import uow_key
from tests.whatsapp_support import ADMIN, CUSTOMER, RunningBot, start_bot


@pytest.fixture
async def bot(tmp_path: Path, engine: AsyncEngine, database_url: str) -> AsyncIterator[RunningBot]:
    """The whole flow once on SQLite and once on a real Postgres (``engine`` empties it first)."""
    async for running in start_bot(tmp_path, database_url):
        yield running


async def pay_link(bot: RunningBot, url: str) -> None:
    path = urlsplit(url).path
    async with bot.http.get(f"{bot.base}{path}") as page:
        assert page.status == 200
    async with bot.http.post(f"{bot.base}{path}/pay", allow_redirects=False) as paid:
        assert paid.status == 303


def link_in(text: str) -> str:
    return next(line for line in text.splitlines() if "/sandbox/checkout/" in line).strip()


async def test_the_deposit_then_balance_flow_over_whatsapp(bot: RunningBot) -> None:
    await bot.says(ADMIN, "aide")  # the vendor writes: their 24-hour window opens
    assert "payé 12" in (await bot.next_to(ADMIN)).text
    await bot.says(CUSTOMER, "Bonjour, je voudrais un gâteau pour samedi")
    assert "Bonjour" in (await bot.next_to(ADMIN)).text  # forwarded to the vendor
    assert "transmis" in (await bot.next_to(CUSTOMER)).text
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 Gâteau")
    assert "#1" in (await bot.next_to(ADMIN)).text

    await bot.says(ADMIN, "payé 1")
    choice = await bot.next_to(ADMIN)
    assert [b.title for b in choice.buttons] == ["Paiement complet", "Acompte", "Annuler"]
    await bot.clicks(ADMIN, next(b.id for b in choice.buttons if b.title == "Acompte"), "Acompte")
    menu = await bot.next_to(ADMIN)
    titles = [b.title for b in menu.buttons]
    assert titles[:3] == ["30% : 45.00 EUR", "50% : 75.00 EUR", "100% : 150.00 EUR"]
    assert titles[-1] == "Autre montant"
    await bot.picks(ADMIN, menu.buttons[0].id, menu.buttons[0].title)
    confirmation = await bot.next_to(ADMIN)
    assert confirmation.text == (
        "Un lien de paiement pour Acompte de 45.00 EUR sera envoyé au client par WhatsApp.\n\nConfirmer ?"
    )
    assert [b.title for b in confirmation.buttons] == ["Confirmer et envoyer", "Annuler"]
    await bot.clicks(ADMIN, confirmation.buttons[0].id, "Confirmer et envoyer")

    to_customer = await bot.next_to(CUSTOMER)
    url = link_in(to_customer.text)
    assert to_customer.text == (
        "💰 Lien de paiement pour votre acompte\n\n"
        "Montant: 45.00 EUR\n\n"
        "Pour confirmer votre commande, veuillez effectuer le paiement de l'acompte via ce lien sécurisé :\n"
        f"{url}\n\n"
        "Merci ! 🙏\n"
        "— Boulangerie Test, commande #1"
    )
    assert "✅" in (await bot.next_to(ADMIN)).text

    await pay_link(bot, url)
    assert "Paiement reçu" in (await bot.next_to(CUSTOMER)).text
    assert "Acompte de 45.00 EUR reçu" in (await bot.next_to(ADMIN)).text
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    assert view.order.status is OrderStatus.ACCEPTED

    await bot.says(ADMIN, "solde 1")
    confirmation = await bot.next_to(ADMIN)
    assert "Un lien de paiement pour le solde de 105.00 EUR sera envoyé" in confirmation.text
    await bot.clicks(ADMIN, confirmation.buttons[0].id)
    balance_message = await bot.next_to(CUSTOMER)
    assert "Montant: 105.00 EUR" in balance_message.text
    await bot.next_to(ADMIN)
    await pay_link(bot, link_in(balance_message.text))
    assert "entièrement payée" in (await bot.next_to(CUSTOMER)).text
    await bot.next_to(ADMIN)
    await bot.settle()
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    assert view.order.status is OrderStatus.PAID
