"""An Instagram customer end to end: signed Instagram webhooks in, the Send API out (the sandbox's fake at
the wire), the same outbox and templates as WhatsApp, and WhatsApp once Instagram's window is closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.jobs.catalogue import REMINDER_SWEEP
from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.clock import SandboxClock
from bot.services import customer_sync, orders as order_service, vendors as vendor_service
from bot.store.tables import outbox_messages
from bot.web.keys import clock_key, instagram_processor_key, jobs_key, payments_key, uow_key
from bot.whatsapp.clients import SANDBOX_PHONE_ID
from tests.instagram_support import IG_CUSTOMER, IG_USERNAME, Instagram
from tests.whatsapp_support import ADMIN, RunningBot, start_bot

IG_PHONE = "33655512345"


@pytest.fixture
async def bot(tmp_path: Path, engine: AsyncEngine, database_url: str) -> AsyncIterator[RunningBot]:
    """Once on SQLite and once on a real Postgres."""
    async for running in start_bot(tmp_path, database_url, reminder_quiet_hours="off"):
        yield running


async def settle(bot: RunningBot) -> None:
    await bot.app[instagram_processor_key].drain()
    await bot.settle()


async def pay_link(bot: RunningBot, url: str) -> str:
    """Pays on the sandbox's page; the page the customer lands on after, as text."""
    path = urlsplit(url).path
    async with bot.http.post(f"{bot.base}{path}/pay", allow_redirects=False) as paid:
        assert paid.status == 303
        landing = paid.headers["Location"]
    async with bot.http.get(f"{bot.base}{landing}") as page:
        return await page.text()


def link_in(text: str) -> str:
    return next(line for line in text.splitlines() if "/sandbox/checkout/" in line).strip()


async def channels_of(bot: RunningBot, kind: str) -> list[tuple[str, str, str]]:
    async with bot.app[uow_key]() as uow:
        rows = await uow.connection.execute(
            select(outbox_messages.c.channel, outbox_messages.c.to_phone, outbox_messages.c.status)
            .where(outbox_messages.c.kind == kind)
            .order_by(outbox_messages.c.id)
        )
        return [(r.channel, r.to_phone, r.status) for r in rows]


async def test_an_instagram_customer_pays_a_deposit_and_is_reminded_on_whatsapp_later(
    bot: RunningBot,
) -> None:
    ig = Instagram(bot)
    ig.fake.usernames[IG_CUSTOMER] = IG_USERNAME
    deps = bot.app[payments_key]
    await vendor_service.change_settings(
        deps.uow, None, [("template.payment_reminder", "payment_reminder")], None, deps.clock()
    )
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)

    # The customer writes on Instagram: the vendor gets it on WhatsApp, the customer an answer on Instagram.
    await ig.says(IG_CUSTOMER, "Bonjour, un gâteau pour samedi ?")
    forwarded = await bot.next_to(ADMIN)
    assert "ig:dana.cakes" in forwarded.text and "un gâteau pour samedi" in forwarded.text
    assert "transmis" in (await ig.next_to(IG_CUSTOMER)).text

    # The vendor links the conversation to an order and asks a deposit (acompte).
    await bot.says(ADMIN, "nouvelle ig:dana.cakes 150 Gâteau")
    assert "#1" in (await bot.next_to(ADMIN)).text
    await bot.says(ADMIN, "acompte 1 30%")
    confirmation = await bot.next_to(ADMIN)
    while not confirmation.buttons:
        confirmation = await bot.next_to(ADMIN)
    assert "Instagram" in confirmation.text
    await bot.clicks(ADMIN, confirmation.buttons[0].id)

    request = await ig.next_to(IG_CUSTOMER)
    assert request.text.startswith("💰 Lien de paiement pour votre acompte")
    assert "Montant: 45.00 EUR" in request.text
    assert ig.fake.requests[-1] == {"recipient": {"id": IG_CUSTOMER}, "message": {"text": request.text}}
    assert "✅" in (await bot.next_to(ADMIN)).text

    # The customer pays; the receipt comes on Instagram, the vendor's note on WhatsApp.
    landing = await pay_link(bot, link_in(request.text))
    assert "Vous recevrez votre reçu sur Instagram." in landing
    receipt = await ig.next_to(IG_CUSTOMER)
    assert "Paiement reçu" in receipt.text and "45.00 EUR" in receipt.text
    assert "Acompte de 45.00 EUR reçu" in (await bot.next_to(ADMIN)).text
    await settle(bot)
    assert [c for c, _, _ in await channels_of(bot, "payment_receipt")] == ["instagram"]

    # The balance is asked while Instagram's window is open: the link goes on Instagram.
    await bot.says(ADMIN, "solde 1")
    confirmation = await bot.next_to(ADMIN)
    assert "105.00 EUR sera envoyé au client par Instagram" in confirmation.text
    await bot.clicks(ADMIN, confirmation.buttons[0].id)
    balance = await ig.next_to(IG_CUSTOMER)
    assert "Montant: 105.00 EUR" in balance.text
    await bot.next_to(ADMIN)

    # The vendor learns the customer's WhatsApp number (bot customer set ig:dana.cakes phone=...).
    customer, _ = await customer_sync.change_customer(
        deps, None, "ig:dana.cakes", [("phone", f"+{IG_PHONE}")]
    )
    assert customer.phone == IG_PHONE

    # A day later Instagram's window is closed: the balance's reminder goes to WhatsApp, as its approved
    # template (the customer never wrote there: WhatsApp's own window is closed too).
    clock = bot.app[clock_key]
    assert isinstance(clock, SandboxClock)
    clock.advance(timedelta(days=1, hours=1))
    assert await bot.app[jobs_key].run_now(REMINDER_SWEEP) == 1
    reminder = await bot.next_to(IG_PHONE)
    assert reminder.kind == "template" and reminder.template_name == "payment_reminder"
    assert "105.00 EUR" in reminder.text and link_in(balance.text) in reminder.text
    await settle(bot)
    assert [(c, to) for c, to, _ in await channels_of(bot, "payment_reminder")] == [("whatsapp", IG_PHONE)]
    # The answer, the deposit's link, its receipt, the balance's link: the reminder did not go there.
    assert len(ig.fake.sent_to(IG_CUSTOMER)) == 4
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    assert view.customer.contact == "ig:dana.cakes"


async def test_the_vendor_replying_to_a_forwarded_instagram_message_links_it_to_a_new_order(
    bot: RunningBot,
) -> None:
    ig = Instagram(bot)
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    await ig.says(IG_CUSTOMER, "Une tarte au citron pour demain ?")
    forwarded = await bot.next_to(ADMIN)
    assert "ig:345678" in forwarded.text  # no username known: the end of their Instagram-scoped id
    await ig.next_to(IG_CUSTOMER)

    # WhatsApp's reply: the vendor's message carries the forwarded note's id as its context.
    reply = payloads.text_message(SANDBOX_PHONE_ID, ADMIN, "nouvelle 32 Tarte au citron")
    reply["entry"][0]["changes"][0]["value"]["messages"][0]["context"] = {
        "from": "15550001111",
        "id": forwarded.wamid,
    }
    assert await bot.post_webhook(reply) == 200
    created = await bot.next_to(ADMIN)
    assert "#1" in created.text and "ig:345678" in created.text
    view = await order_service.show_order(bot.app[uow_key], None, 1)
    assert view.customer.address == IG_CUSTOMER and str(view.order.price) == "32.00 EUR"

    # Without a reply, a missing customer is still asked for.
    await bot.says(ADMIN, "nouvelle 32 Tarte")
    assert "nouvelle" in (await bot.next_to(ADMIN)).text
