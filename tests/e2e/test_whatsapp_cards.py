"""Card on file over WhatsApp, against the real app and the fake Graph API: a guarantee asked, held (the
sandbox provider's HELD event, through the inbox like its checkout page), captured in part with the
confirm button, released; the saved card charged (a 3-D Secure card gets a link instead); a phone
payment's one-time link; the customer's ``mes cartes`` and ``oublier carte``; and bad input refused with
the error's text, the provider never called."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from bot.domain.money import Money
from bot.domain.transaction import PaymentTransaction, TransactionStatus
from bot.payments.port import PaymentEventKind, SavedCard
from bot.payments.sandbox.provider import SandboxProvider
from bot.payments.sandbox.webhooks import make_event
from bot.sandbox.graph import SentMessage
from bot.services import orders as order_service, vendors as vendor_service
from bot.web.keys import clock_key, uow_key
from bot.web.payments import ingest_payment_event
from tests.e2e.test_whatsapp_flow import link_in
from tests.whatsapp_support import ADMIN, CUSTOMER, RunningBot, start_bot

CARD = SavedCard("sbx_card_ok_4242", "visa", "4242", 12, 2028)
THREE_DS_CARD = SavedCard("sbx_card_3ds_3184", "visa", "3184", 11, 2029)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path):
        yield running


@pytest.fixture
async def hebrew_bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path, vendor_locale="he", vendor_currency="ILS"):
        yield running


@pytest.fixture
def provider_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every capture and saved-card charge that reaches the (sandbox) provider."""
    calls: list[str] = []
    capture, charge = SandboxProvider.capture_hold, SandboxProvider.charge_saved_card

    async def capture_hold(self: SandboxProvider, *args: Any) -> Any:
        calls.append("capture_hold")
        return await capture(self, *args)

    async def charge_saved_card(self: SandboxProvider, *args: Any) -> Any:
        calls.append("charge_saved_card")
        return await charge(self, *args)

    monkeypatch.setattr(SandboxProvider, "capture_hold", capture_hold)
    monkeypatch.setattr(SandboxProvider, "charge_saved_card", charge_saved_card)
    return calls


async def message_to(bot: RunningBot, phone: str, wanted: Callable[[SentMessage], bool]) -> SentMessage:
    """The first message to ``phone`` not seen yet that matches (the bot's notes and its replies to a
    command may come in either order)."""
    after = bot.seen.get(phone, 0)
    message = await bot.graph.wait_for(lambda m: m.to == phone and m.seq > after and wanted(m), timeout=10)
    bot.seen[phone] = max(bot.seen.get(phone, 0), message.seq)
    return message


async def says(bot: RunningBot, phone: str, text: str, expected: str) -> SentMessage:
    await bot.says(phone, text)
    return await message_to(bot, phone, lambda m: expected in m.text)


async def taps(bot: RunningBot, message: SentMessage, title: str, expected: str) -> SentMessage:
    choice = next(b for b in message.buttons if b.title == title)
    if message.interactive_type == "list":
        await bot.picks(ADMIN, choice.id, choice.title)
    else:
        await bot.clicks(ADMIN, choice.id, choice.title)
    return await message_to(bot, ADMIN, lambda m: expected in m.text)


async def vendor_sets(bot: RunningBot, *pairs: tuple[str, str]) -> None:
    await vendor_service.change_settings(bot.app[uow_key], None, list(pairs), None, bot.app[clock_key]())


async def an_order(bot: RunningBot, price: str = "150") -> None:
    """The vendor and the customer have written (free text may go to both), and order #1 is accepted."""
    await says(bot, ADMIN, "aide", "Commandes disponibles")
    await says(bot, CUSTOMER, "Bonjour", "transmis")
    await says(bot, ADMIN, f"nouvelle +{CUSTOMER} {price} Gâteau", "#1")


async def provider_says(
    bot: RunningBot, kind: PaymentEventKind, transaction: PaymentTransaction, url: str,
    saved_card: SavedCard | None = None,
) -> None:  # fmt: skip
    """The sandbox provider's event for ``transaction``, into the inbox as its checkout page sends it."""
    link_id = urlsplit(url).path.rsplit("/", 1)[1]
    event = make_event(
        kind, link_id, transaction.id, transaction.amount, f"sbx_pay_{uuid.uuid4().hex[:12]}",
        bot.app[clock_key](), saved_card=saved_card,
    )  # fmt: skip
    response = await ingest_payment_event(bot.app, "sandbox", event["id"], event["type"], json.dumps(event))
    assert response.status == 200


async def transactions(bot: RunningBot) -> list[PaymentTransaction]:
    return (await order_service.show_order(bot.app[uow_key], None, 1)).transactions


async def guarantee(bot: RunningBot) -> PaymentTransaction:
    return [t for t in await transactions(bot) if t.is_guarantee][-1]


async def held_guarantee(bot: RunningBot, command: str = "garantie 1 50") -> SentMessage:
    """``garantie 1 50`` sent, the customer's card authorises it: the vendor's note that it is held."""
    reply = await says(bot, ADMIN, command, "Lien de garantie envoyé")
    await message_to(bot, CUSTOMER, lambda m: "Garantie carte" in m.text)
    await provider_says(bot, PaymentEventKind.HELD, await guarantee(bot), link_in(reply.text))
    return await message_to(bot, ADMIN, lambda m: "bloquée sur la carte" in m.text)


async def paid_with_a_saved_card(bot: RunningBot, card: SavedCard, deposit: str = "45") -> None:
    """A deposit paid by link, the customer ticking "save my card"."""
    confirmation = await says(bot, ADMIN, f"acompte 1 {deposit}", "Confirmer ?")
    await taps(bot, confirmation, "Confirmer et envoyer", "✅")
    request = await message_to(bot, CUSTOMER, lambda m: "/sandbox/checkout/" in m.text)
    deposit_request = [t for t in await transactions(bot) if t.is_open][-1]
    await provider_says(bot, PaymentEventKind.PAID, deposit_request, link_in(request.text), saved_card=card)
    await message_to(bot, ADMIN, lambda m: "reçu pour la commande #1" in m.text)


async def test_a_guarantee_is_held_then_20_of_its_50_are_captured_with_the_confirm_button(
    bot: RunningBot, provider_calls: list[str]
) -> None:
    await vendor_sets(bot, ("guarantee_mode", "optional"))
    await an_order(bot)
    reply = await says(bot, ADMIN, "garantie 1 50", "Lien de garantie envoyé")
    url = link_in(reply.text)
    assert reply.text.startswith(
        f"🔒 Lien de garantie envoyé à +{CUSTOMER} pour la commande #1 : 50.00 EUR seront bloqués sur sa "
        "carte, sans être débités."
    )
    assert "debiter 1 [montant]" in reply.text and "liberer 1" in reply.text
    asked = await message_to(bot, CUSTOMER, lambda m: "Garantie carte" in m.text)
    assert "Montant bloqué (non débité) : 50.00 EUR" in asked.text and url in asked.text

    await provider_says(bot, PaymentEventKind.HELD, await guarantee(bot), url)
    note = await message_to(bot, ADMIN, lambda m: "🔒 Garantie de 50.00 EUR bloquée" in m.text)
    assert "debiter 1 [montant]" in note.text
    status = await says(bot, ADMIN, "statut 1", "Commande #1")
    held = "🔒 Garantie 50.00 EUR : bloquée sur la carte — libération automatique le 28 novembre"
    assert held in status.text
    assert "(le prestataire la libère le 28 novembre" in status.text
    assert "Paiement partiel" not in status.text, "a guarantee is not shown as a payment"

    confirmation = await says(bot, ADMIN, "débiter 1 20", "Confirmer ?")
    assert confirmation.text == (
        "💳 20.00 EUR seront débités sur la garantie de 50.00 EUR de la commande #1 ; les 30.00 EUR restants "
        "seront libérés.\n\nConfirmer ?"
    )
    assert [b.title for b in confirmation.buttons] == ["Débiter 20.00 EUR", "Annuler"]
    assert provider_calls == [], "nothing is charged before the vendor confirms"
    done = await taps(bot, confirmation, "Débiter 20.00 EUR", "débités sur la garantie")
    assert done.text == (
        "✅ 20.00 EUR débités sur la garantie de la commande #1 ; 30.00 EUR libérés. Le client est prévenu.\n"
        "Payé : 20.00 EUR sur 150.00 EUR — reste : 130.00 EUR. Statut : acceptée."
    )
    assert provider_calls == ["capture_hold"]
    await message_to(bot, CUSTOMER, lambda m: "Paiement reçu" in m.text and "20.00 EUR" in m.text)

    await bot.clicks(ADMIN, confirmation.buttons[0].id, "Débiter 20.00 EUR")  # a second tap
    stale = await message_to(bot, ADMIN, lambda m: "plus valable" in m.text)
    assert "rien n'a été débité" in stale.text
    assert provider_calls == ["capture_hold"], "captured once"
    status = await says(bot, ADMIN, "statut 1", "Commande #1")
    assert "🔒 Garantie 50.00 EUR : débitée — débité : 20.00 EUR" in status.text
    assert "(débit de garantie)" in status.text and "payé : 20.00 EUR — reste : 130.00 EUR" in status.text
    captured = await guarantee(bot)
    assert captured.status is TransactionStatus.CAPTURED
    assert captured.captured == Money(Decimal("20.00"), "EUR")


async def test_liberer_releases_a_held_guarantee_and_cancels_one_only_asked(bot: RunningBot) -> None:
    await vendor_sets(bot, ("guarantee_mode", "optional"), ("guarantee_amount", "50"))
    await an_order(bot)
    await says(bot, ADMIN, "garantie 1", "50.00 EUR seront bloqués")
    cancelled = await says(bot, ADMIN, "liberer 1", "annulée")
    assert cancelled.text == (
        "Demande de garantie de 50.00 EUR annulée pour la commande #1 : son lien ne marche plus, "
        "rien n'a été bloqué."
    )
    assert (await guarantee(bot)).status is TransactionStatus.CANCELLED

    await held_guarantee(bot)
    released = await says(bot, ADMIN, "libérer 1", "libérée pour la commande #1 : rien n'a été débité ;")
    assert released.text == (
        "🔓 Garantie de 50.00 EUR libérée pour la commande #1 : rien n'a été débité ; le client est prévenu."
    )
    told = await message_to(bot, CUSTOMER, lambda m: "est libérée" in m.text)
    assert "50.00 EUR" in told.text
    assert (await guarantee(bot)).status is TransactionStatus.RELEASED
    status = await says(bot, ADMIN, "statut 1", "Commande #1")
    assert "🔒 Garantie 50.00 EUR : libérée" in status.text


async def test_capturing_more_than_held_or_a_released_hold_is_refused_and_the_provider_never_called(
    bot: RunningBot, provider_calls: list[str]
) -> None:
    await vendor_sets(bot, ("guarantee_mode", "optional"))
    await an_order(bot)
    asked = await says(bot, ADMIN, "garantie 1 50", "Lien de garantie envoyé")
    not_held = await says(bot, ADMIN, "debiter 1", "⛔")
    assert "n'est pas bloquée sur la carte (demandée, la carte n'est pas encore autorisée)" in not_held.text

    await provider_says(bot, PaymentEventKind.HELD, await guarantee(bot), link_in(asked.text))
    await message_to(bot, ADMIN, lambda m: "bloquée sur la carte" in m.text)
    too_much = await says(bot, ADMIN, "débiter 1 60", "⛔")
    assert too_much.text == (
        "⛔ 60.00 EUR dépasse la garantie bloquée (50.00 EUR) : on ne peut débiter que jusqu'à 50.00 EUR. "
        "Rien n'a été débité."
    )
    assert too_much.buttons == ()
    await says(bot, ADMIN, "liberer 1", "libérée")
    released = await says(bot, ADMIN, "debiter 1 20", "⛔")
    assert released.text == (
        "⛔ La commande #1 n'a pas de garantie bloquée. Pour en demander une : garantie 1 [montant]."
    )
    assert provider_calls == []
    assert [t for t in await transactions(bot) if not t.is_guarantee] == [], "no payment recorded"


async def test_carte_without_a_saved_card_is_refused_and_charges_nothing(
    bot: RunningBot, provider_calls: list[str]
) -> None:
    await an_order(bot)
    refused = await says(bot, ADMIN, "carte 1", "⛔")
    assert refused.text == (
        f"⛔ +{CUSTOMER} n'a pas de carte enregistrée. Envoyez-lui un lien (paye 1) : il pourra cocher "
        "« enregistrer ma carte »."
    )
    assert provider_calls == []


async def test_carte_charges_the_saved_card_and_a_3ds_card_gets_a_link_sent_instead(
    bot: RunningBot, provider_calls: list[str]
) -> None:
    await vendor_sets(bot, ("saved_cards", "on"))
    await an_order(bot)
    await paid_with_a_saved_card(bot, THREE_DS_CARD)

    menu = await says(bot, ADMIN, "carte 1", "Carte enregistrée de")
    assert menu.text == (
        f"💳 Carte enregistrée de +{CUSTOMER} : Visa •••• 3184 (11/29).\n"
        "Commande #1 — Gâteau : 150.00 EUR (déjà payé : 45.00 EUR, reste à demander : 105.00 EUR).\n"
        "Que débiter sur cette carte, sans lien ?"
    )
    assert [(b.title, b.description) for b in menu.buttons] == [
        ("Solde", "105.00 EUR"), ("Acompte", None), ("Garantie", "par un lien au client"), ("Annuler", None),
    ]  # fmt: skip
    honest = await taps(bot, menu, "Garantie", "accord du client")
    assert "garantie 1 [montant]" in honest.text
    assert provider_calls == []

    confirmation = await taps(bot, menu, "Solde", "Confirmer ?")
    assert confirmation.text == (
        f"💳 Solde de 105.00 EUR débité maintenant sur la carte Visa •••• 3184 (11/29) de +{CUSTOMER}, pour "
        "la commande #1, sans lien.\n\nConfirmer ?"
    )
    reply = await taps(bot, confirmation, "Débiter la carte", "La banque demande")
    link = await message_to(bot, CUSTOMER, lambda m: "/sandbox/checkout/" in m.text)
    assert reply.text.startswith(
        "🔐 La banque demande au client de confirmer ce paiement lui-même : rien n'a été débité sur la carte "
        "Visa •••• 3184 (11/29). Un lien de paiement lui a été envoyé à la place (Solde de 105.00 EUR, "
        "commande #1)."
    )
    assert link_in(link.text) in reply.text and "Montant: 105.00 EUR" in link.text
    assert provider_calls == ["charge_saved_card"]


async def test_carte_charges_a_deposit_on_the_saved_card_with_no_link(
    bot: RunningBot, provider_calls: list[str]
) -> None:
    await vendor_sets(bot, ("saved_cards", "on"))
    await an_order(bot)
    await paid_with_a_saved_card(bot, CARD, deposit="30")
    menu = await says(bot, ADMIN, "card 1", "Carte enregistrée de")
    picks = await taps(bot, menu, "Acompte", "Acompte pour la commande #1")
    assert [b.title for b in picks.buttons][:3] == ["30% : 45.00 EUR", "50% : 75.00 EUR", "100% : 120.00 EUR"]
    confirmation = await taps(bot, picks, "50% : 75.00 EUR", "Confirmer ?")
    assert "Acompte de 75.00 EUR débité maintenant sur la carte Visa •••• 4242 (12/28)" in confirmation.text
    charged = await taps(bot, confirmation, "Débiter la carte", "débité sur la carte")
    assert charged.text == (
        "✅ Acompte de 75.00 EUR débité sur la carte Visa •••• 4242 (12/28) pour la commande #1.\n"
        "Payé : 105.00 EUR — reste : 45.00 EUR. Statut : acceptée."
    )
    assert provider_calls == ["charge_saved_card"]
    receipt = await message_to(bot, CUSTOMER, lambda m: "Paiement reçu" in m.text and "75.00 EUR" in m.text)
    assert "sbx_card" not in receipt.text
    status = await says(bot, ADMIN, "statut 1", "Commande #1")
    assert "Acompte 75.00 EUR : payé (carte enregistrée Visa •••• 4242 (12/28))" in status.text


async def test_mes_cartes_lists_the_saved_cards_and_oublier_carte_forgets_them(bot: RunningBot) -> None:
    await vendor_sets(bot, ("saved_cards", "on"))
    await an_order(bot)
    none = await says(bot, CUSTOMER, "mes cartes", "aucune carte")
    assert none.text == "Vous n'avez aucune carte enregistrée chez Boulangerie Test."
    await paid_with_a_saved_card(bot, CARD)
    listed = await says(bot, CUSTOMER, "Mes cartes ?", "Vos cartes")
    assert listed.text == (
        "Vos cartes enregistrées chez Boulangerie Test :\n• Visa •••• 4242 (12/28)\n"
        "Pour qu'elles ne soient plus jamais débitées, écrivez « oublier ma carte »."
    )
    forgotten = await says(bot, CUSTOMER, "oublier ma carte", "C'est fait")
    assert forgotten.text == (
        "C'est fait : Visa •••• 4242 (12/28) ne sera plus jamais débitée par Boulangerie Test et est "
        "supprimée chez notre prestataire de paiement."
    )
    again = await says(bot, CUSTOMER, "forget my card", "rien à oublier")
    assert again.text == "Vous n'avez aucune carte enregistrée chez Boulangerie Test : rien à oublier."
    refused = await says(bot, ADMIN, "carte 1", "⛔")
    assert "n'a pas de carte enregistrée" in refused.text


async def test_telephone_gives_a_one_time_link_that_works_until_its_expiry_in_the_vendors_time(
    bot: RunningBot,
) -> None:
    await vendor_sets(bot, ("guarantee_mode", "optional"), ("guarantee_amount", "30%"))
    await an_order(bot)
    menu = await says(bot, ADMIN, "téléphone 1", "Paiement par téléphone")
    assert "Vous taperez vous-même la carte que le client vous lit" in menu.text
    assert [(b.title, b.description) for b in menu.buttons] == [
        ("Paiement complet", "150.00 EUR"), ("Acompte", None), ("Garantie", "45.00 EUR"), ("Annuler", None),
    ]  # fmt: skip
    question = await taps(bot, menu, "Paiement complet", "à voix haute")
    assert question.text == (
        "📞 Paiement complet de 150.00 EUR par téléphone pour la commande #1.\n"
        "Le client accepte-t-il que sa carte soit enregistrée pour ses prochains paiements ? Demandez-le-lui "
        "à voix haute."
    )
    assert [b.title for b in question.buttons] == ["Oui, l'enregistrer", "Non", "Annuler"]
    before = bot.app[clock_key]()
    reply = await taps(bot, question, "Oui, l'enregistrer", "Lien à usage unique")
    after = bot.app[clock_key]()
    paris = ZoneInfo("Europe/Paris")
    expiries = {f"{(moment + timedelta(minutes=15)).astimezone(paris):%H:%M}" for moment in (before, after)}
    match = re.search(r"jusqu'à (\d\d:\d\d)", reply.text)
    assert match is not None and match.group(1) in expiries
    assert re.match(r"📞 Lien à usage unique — Paiement complet de 150.00 EUR, commande #1 :\n"
                    r"http://127\.0\.0\.1:\d+/pay/phone/\S+\n", reply.text)  # fmt: skip
    assert "Il ne marche qu'une fois" in reply.text
    assert "Ouvrez-le sur votre propre téléphone ou ordinateur" in reply.text
    assert "N'écrivez jamais de numéro de carte ici." in reply.text
    assert reply.text.endswith("La carte sera enregistrée, comme le client l'a accepté.")
    await bot.settle()
    assert [m.text for m in bot.graph.sent_to(CUSTOMER)] == [
        "Merci, votre message a été transmis à Boulangerie Test."
    ], "nothing is sent to the customer: the vendor types their card"

    await says(bot, ADMIN, "liberer 1", "⛔")  # no guarantee yet: the payment above was not one
    menu = await says(bot, ADMIN, "phone 1", "Paiement par téléphone")
    question = await taps(bot, menu, "Garantie", "à voix haute")
    assert question.text.startswith("📞 Garantie de 45.00 EUR par téléphone pour la commande #1.")
    reply = await taps(bot, question, "Non", "Lien à usage unique")
    assert reply.text.startswith("📞 Lien à usage unique — Garantie de 45.00 EUR, commande #1 :")
    assert "sera enregistrée" not in reply.text
    assert (await guarantee(bot)).amount == Money(Decimal("45.00"), "EUR")


async def test_guarantee_mode_required_asks_the_guarantee_with_the_payment_request(bot: RunningBot) -> None:
    await vendor_sets(bot, ("guarantee_mode", "required"), ("guarantee_amount", "50"))
    await an_order(bot)
    confirmation = await says(bot, ADMIN, "complet 1", "Confirmer ?")
    sent = await taps(bot, confirmation, "Confirmer et envoyer", "✅ Lien de paiement envoyé")
    too = "\n🔒 Garantie demandée aussi (obligatoire pour ce commerce) : 50.00 EUR, lien envoyé au client.\n"
    assert too in sent.text
    # Both reach the customer, in whichever order the outbox sends them.
    await bot.graph.wait_for(lambda m: m.to == CUSTOMER and "Montant: 150.00 EUR" in m.text, timeout=10)
    await bot.graph.wait_for(lambda m: m.to == CUSTOMER and "Montant bloqué (non débité) : 50.00" in m.text)
    assert [t.is_guarantee for t in await transactions(bot)] == [False, True]


@pytest.mark.parametrize(
    ("text", "usage"),
    [
        ("garantie", "Écrivez : garantie 12 (ou garantie 12 150, ou garantie 12 30%)"),
        ("debiter abc", "Écrivez : débiter 12 (ou débiter 12 20)"),
        ("liberer 1 2", "Écrivez : libérer 12"),
        ("carte x", "Écrivez : carte 12"),
        ("telephone 1 oui", "Écrivez : téléphone 12"),
        ("capture", "Écrivez : débiter 12 (ou débiter 12 20)"),  # in the vendor's language
    ],
)
async def test_a_malformed_card_command_gets_its_usage(bot: RunningBot, text: str, usage: str) -> None:
    reply = await says(bot, ADMIN, text, usage)
    assert reply.text.endswith(usage)


async def test_a_hebrew_vendor_types_the_english_commands_and_reads_hebrew(hebrew_bot: RunningBot) -> None:
    bot = hebrew_bot
    await vendor_sets(bot, ("guarantee_mode", "optional"))
    await says(bot, ADMIN, "help", "guarantee 12")
    await says(bot, CUSTOMER, "שלום", "")
    await says(bot, ADMIN, f"new +{CUSTOMER} 150 עוגה", "#1")
    reply = await says(bot, ADMIN, "guarantee 1 30%", "קישור לערבון נשלח")
    assert "45.00" in reply.text and "capture 1" in reply.text
    refused = await says(bot, ADMIN, "capture 1 20", "⛔")
    assert "אינו מוחזק בכרטיס" in refused.text


async def test_an_order_accepted_with_its_request_sent_at_once_asks_the_required_guarantee_too(
    bot: RunningBot,
) -> None:
    await vendor_sets(
        bot, ("guarantee_mode", "required"), ("guarantee_amount", "50"), ("request_on_accept", "on")
    )
    await says(bot, ADMIN, "aide", "Commandes disponibles")
    await says(bot, CUSTOMER, "Bonjour", "transmis")
    reply = await says(bot, ADMIN, f"nouvelle +{CUSTOMER} 150 Salle", "Garantie demandée aussi")
    assert "50.00 EUR" in reply.text
    await bot.graph.wait_for(lambda m: m.to == CUSTOMER and "Montant bloqué (non débité) : 50.00" in m.text)
    assert [t.is_guarantee for t in await transactions(bot)] == [False, True]
