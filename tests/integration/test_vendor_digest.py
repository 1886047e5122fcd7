"""Notes to a vendor that pile up for one admin are sent as one digest ("5 paiements reçus : #3, #7, ..."),
each note in it and each marked sent; none dropped. On SQLite and Postgres, counted at the fake Graph API."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.outgoing import OutgoingMessage, send_tracker
from bot.services import vendors as vendor_service
from bot.services.messages import to_admins
from bot.store.tables import outbox_messages, vendor_admins
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.e2e.reliability.support import graph_on_a_port, sender_process

ADMIN = "33612345678"
ORDERS = [3, 7, 9, 12, 15]


def note(order: int) -> str:
    return f"💶 Acompte de 45,00 € reçu pour la commande #{order}, client +33699887766."


async def vendor_and_notes(uow: UnitOfWorkFactory, locale: str = "fr") -> list[OutgoingMessage]:
    new = vendor_service.NewVendor(name="Boulangerie", admin_phones=[f"+{ADMIN}"], locale=locale)
    vendor = (await vendor_service.add_vendor(uow, new, NOW)).vendor
    notes = [
        message
        for order in ORDERS
        for message in to_admins(vendor, [ADMIN], "vendor_payment_received", f"tx{order}", note(order))
    ]
    reply = OutgoingMessage(vendor.id, ADMIN, "vendor_reply", locale, "Commande #20 créée.")
    async with uow() as unit:
        await unit.connection.execute(update(vendor_admins).values(last_inbound_at=NOW))
        for message in [*notes, reply]:
            await unit.outbox.add(message, NOW)
        await unit.commit()
    return notes


async def test_five_payment_notes_queued_for_one_admin_go_as_one_digest_and_are_all_marked_sent(
    database_url: str, engine: AsyncEngine
) -> None:
    clock = FrozenClock()
    async with (
        graph_on_a_port() as (graph, graph_url, received),
        sender_process(database_url, graph_url, clock) as (sender, uow, _),
    ):
        await vendor_and_notes(uow)
        assert await sender.send_due() == 6
        await sender.drain()
        async with uow() as unit:
            rows = (
                await unit.connection.execute(
                    select(outbox_messages.c.id, outbox_messages.c.kind, outbox_messages.c.status,
                           outbox_messages.c.coalesced_into).order_by(outbox_messages.c.id)
                )
            ).all()  # fmt: skip
    texts = [r.message.text for r in received]
    assert len(texts) == 2, "one digest and the reply to a command (never folded into a digest)"
    [digest] = [t for t in texts if "paiements reçus" in t]
    assert digest.startswith("5 paiements reçus : #3, #7, #9, #12, #15")
    assert all(note(order) in digest for order in ORDERS)
    assert "Commande #20 créée." in texts
    notes = [r for r in rows if r.kind == "vendor_payment_received"]
    assert {r.status for r in rows} == {"sent"}
    head = notes[0].id
    assert [r.coalesced_into for r in notes] == [None, head, head, head, head]
    # Each send names its rows, for WhatsApp to echo in its statuses (a crash's unrecorded send).
    [digest_send] = [r.message for r in received if "paiements reçus" in r.message.text]
    assert digest_send.tracker == send_tracker(head, [r.id for r in notes[1:]])
    [reply_send] = [r.message for r in received if r.message is not digest_send]
    assert reply_send.tracker == send_tracker(next(r.id for r in rows if r.kind == "vendor_reply"))


async def test_a_digest_that_fails_gives_its_notes_back_to_the_queue(
    database_url: str, engine: AsyncEngine
) -> None:
    clock = FrozenClock()
    async with (
        graph_on_a_port() as (graph, graph_url, received),
        sender_process(database_url, graph_url, clock) as (sender, uow, _),
    ):
        await vendor_and_notes(uow, locale="en")
        graph.fail_next(2, times=10)
        await sender.send_due()
        await sender.drain()
        async with uow() as unit:
            statuses = (
                await unit.connection.execute(
                    select(outbox_messages.c.status, outbox_messages.c.coalesced_into).where(
                        outbox_messages.c.kind == "vendor_payment_received"
                    )
                )
            ).all()
    assert received == []
    assert sorted(s.status for s in statuses) == ["pending"] * 5
    assert all(s.coalesced_into is None for s in statuses)
