"""The messages a newcomer sees most, word for word, in French, English and Hebrew: the source's own texts,
money written one way per language, the request naming the vendor and the order, ``solde`` and ``caisse``
while a link is open, the note after a declined card, and ``aide`` / ``help`` complete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from bot.domain.transaction import TransactionStatus
from bot.handlers.parsing import _KEYWORDS_BY_VERB, normalise
from bot.services import orders as order_service
from bot.web.keys import uow_key
from tests.e2e.test_whatsapp_flow import link_in
from tests.whatsapp_support import ADMIN, CUSTOMER, RunningBot, start_bot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path):
        yield running


@pytest.fixture
async def english_bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path, vendor_locale="en", vendor_currency="GBP"):
        yield running


@pytest.fixture
async def hebrew_bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path, vendor_locale="he", vendor_currency="ILS"):
        yield running


async def open_windows(bot: RunningBot) -> None:
    """The vendor and the customer have written: free text may be sent to both."""
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    await bot.says(CUSTOMER, "Bonjour")
    await bot.next_to(ADMIN)
    await bot.next_to(CUSTOMER)


async def confirm_request(bot: RunningBot, command: str) -> str:
    """Sends ``command``, confirms it; the customer's message."""
    await bot.says(ADMIN, command)
    confirmation = await bot.next_to(ADMIN)
    await bot.clicks(ADMIN, confirmation.buttons[0].id)
    request = await bot.next_to(CUSTOMER)
    await bot.next_to(ADMIN)
    return request.text


async def test_the_source_texts_stay_word_for_word_and_name_the_vendor_and_order(bot: RunningBot) -> None:
    await open_windows(bot)
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 Gâteau")
    await bot.next_to(ADMIN)
    await bot.says(ADMIN, "acompte 1 30%")
    confirmation = await bot.next_to(ADMIN)
    assert confirmation.text == (
        "Un lien de paiement pour Acompte de 45.00 EUR sera envoyé au client par WhatsApp.\n\nConfirmer ?"
    )
    await bot.clicks(ADMIN, confirmation.buttons[0].id)
    request = await bot.next_to(CUSTOMER)
    url = link_in(request.text)
    assert request.text == (
        "💰 Lien de paiement pour votre acompte\n\n"
        "Montant: 45.00 EUR\n\n"
        "Pour confirmer votre commande, veuillez effectuer le paiement de l'acompte via ce lien sécurisé :\n"
        f"{url}\n\n"
        "Merci ! 🙏\n"
        "— Boulangerie Test, commande #1"
    )
    async with bot.http.get(f"{bot.base}{urlsplit(url).path}") as page:
        assert "Acompte - commande n° 1" in await page.text()
    await bot.next_to(ADMIN)
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 80 Tarte")
    await bot.next_to(ADMIN)
    await bot.says(ADMIN, "complet 2")
    assert (await bot.next_to(ADMIN)).text == (
        "Un lien de paiement pour le paiement complet de 80.00 EUR sera envoyé au client par WhatsApp."
        "\n\nConfirmer ?"
    )


async def test_english_writes_money_one_way_and_reads_as_english(english_bot: RunningBot) -> None:
    bot = english_bot
    await open_windows(bot)
    await bot.says(ADMIN, f"new +{CUSTOMER} 150 Cake")
    created = await bot.next_to(ADMIN)
    assert "£150.00" in created.text and "GBP" not in created.text
    await bot.says(ADMIN, "deposit 1 30%")
    confirmation = await bot.next_to(ADMIN)
    assert confirmation.text == (
        "A payment link for a deposit of £45.00 will be sent to the customer on WhatsApp.\n\nConfirm?"
    )
    await bot.clicks(ADMIN, confirmation.buttons[0].id)
    request = await bot.next_to(CUSTOMER)
    assert "Amount: £45.00" in request.text and request.text.endswith("— Boulangerie Test, order #1")
    sent = await bot.next_to(ADMIN)
    assert "£45.00" in sent.text and "GBP" not in sent.text
    await bot.says(ADMIN, "status 1")
    status = await bot.next_to(ADMIN)
    assert "£150.00" in status.text and "£45.00" in status.text and "GBP" not in status.text
    await bot.says(ADMIN, "paid 1")
    choice = await bot.next_to(ADMIN)
    await bot.clicks(ADMIN, next(b.id for b in choice.buttons if b.title == "Deposit"))
    menu = await bot.next_to(ADMIN)
    assert [b.title for b in menu.buttons][:3] == ["30%: £45.00", "50%: £75.00", "100%: £105.00"]


async def test_hebrew_writes_money_with_the_shekel_sign(hebrew_bot: RunningBot) -> None:
    bot = hebrew_bot
    await open_windows(bot)
    await bot.says(ADMIN, f"new +{CUSTOMER} 150 עוגה")
    created = await bot.next_to(ADMIN)
    assert "₪" in created.text and "ILS" not in created.text
    request = await confirm_request(bot, "deposit 1 30%")
    assert request.startswith("💰 קישור לתשלום המקדמה") and "₪" in request and "ILS" not in request


async def test_solde_with_a_balance_link_open_offers_to_send_it_again(bot: RunningBot) -> None:
    await open_windows(bot)
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 Gâteau")
    await bot.next_to(ADMIN)
    await confirm_request(bot, "solde 1")
    await bot.says(ADMIN, "solde 1")
    answer = await bot.next_to(ADMIN)
    assert answer.text.startswith("Une demande de 150.00 EUR attend déjà le paiement du client")
    assert "supérieur à zéro" not in answer.text
    assert [b.title for b in answer.buttons] == ["Renvoyer le lien"]
    await bot.clicks(ADMIN, answer.buttons[0].id, "Renvoyer le lien")
    again = await bot.next_to(CUSTOMER)
    assert "/sandbox/checkout/" in again.text and "150.00 EUR" in again.text
    assert "Rappel envoyé" in (await bot.next_to(ADMIN)).text


async def test_caisse_with_a_link_open_records_the_cash_and_cancels_the_request_it_makes_too_much(
    bot: RunningBot,
) -> None:
    await open_windows(bot)
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 Gâteau")
    await bot.next_to(ADMIN)
    link = link_in(await confirm_request(bot, "solde 1"))
    await bot.says(ADMIN, "caisse 1 20")
    told = await bot.next_to(ADMIN)
    assert told.text.startswith("💶 Paiement en caisse de 20.00 EUR enregistré pour la commande #1.")
    assert "La demande en attente (Paiement complet de 150.00 EUR) est annulée" in told.text
    assert "Pour demander le reste : solde 1" in told.text
    assert "Plus rien à demander" not in told.text
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    assert [t.status for t in view.transactions] == [TransactionStatus.CANCELLED, TransactionStatus.PAID]
    async with bot.http.get(f"{bot.base}{urlsplit(link).path}") as page:
        assert "/pay" not in await page.text(), "the cancelled link takes no money"
    await confirm_request(bot, "solde 1")
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    assert str(view.transactions[-1].amount) == "130.00 EUR"


async def test_after_a_declined_card_the_vendor_hears_the_same_link_still_works(bot: RunningBot) -> None:
    await open_windows(bot)
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 Gâteau")
    await bot.next_to(ADMIN)
    link = link_in(await confirm_request(bot, "acompte 1 45"))
    async with bot.http.post(f"{bot.base}{urlsplit(link).path}/decline", allow_redirects=False) as declined:
        assert declined.status == 303
    note = await bot.next_to(ADMIN)
    assert note.text.startswith("❌ Le paiement de 45.00 EUR pour la commande #1")
    assert "le client peut réessayer avec le même lien" in note.text
    assert "nouvelle demande" not in note.text


@pytest.mark.parametrize(("word", "language"), [("aide", "fr"), ("help", "en")])
async def test_aide_and_help_list_every_command_in_the_language_of_the_word(
    bot: RunningBot, word: str, language: str
) -> None:
    await bot.says(ADMIN, word)
    text = (await bot.next_to(ADMIN)).text
    assert text.startswith("Commandes disponibles" if language == "fr" else "Commands")
    lines = normalise(text)
    first = 0 if language == "fr" else 1
    for verb, keywords in _KEYWORDS_BY_VERB.items():
        assert any(f"• {keyword}" in lines or f"/ {keyword}" in lines for keyword in keywords[first]), verb
