"""Two app instances (two processes: each its own engines, inbox worker and sender) over one Postgres
database. A vendor's messages alternate between them, steps on two orders interleaved: every "Confirmer
et envoyer" is accepted, each request made once. A vendor changed through one is seen by the other at
once (LISTEN/NOTIFY), not when its cache expires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import create_app
from bot.handlers import callbacks
from bot.rendering import render
from bot.sandbox.clock import SandboxClock
from bot.services import orders as order_service, vendors as vendor_service
from bot.store.tables import outbox_messages, payment_transactions
from bot.web.keys import sender_key, uow_key
from tests.conftest import NOW, TickingClock
from tests.e2e.reliability.support import fresh_database
from tests.payment_support import settings_for
from tests.whatsapp_support import ADMIN, RunningBot, start_bot

pytestmark = pytest.mark.postgres
ORDERS = 8


@pytest.fixture
async def database(postgres_server: str) -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


async def settle(*bots: RunningBot) -> None:
    for _ in range(2):  # what one processed may have queued work for the other
        for bot in bots:
            await bot.settle()


def confirm_button(bots: tuple[RunningBot, RunningBot], number: int) -> str:
    """The [Confirmer et envoyer] id the admin was shown for ``number``, whichever process sent it."""
    for bot in bots:
        for message in reversed(bot.graph.sent_to(ADMIN)):
            for choice in message.buttons:
                decoded = callbacks.decode(choice.id)
                if isinstance(decoded, callbacks.ConfirmRequest) and decoded.order == number:
                    return choice.id
    raise AssertionError(f"no confirmation shown for #{number}")


async def test_every_confirmation_is_accepted_when_a_vendor_s_messages_alternate_between_two_processes(
    tmp_path: Path, database: str
) -> None:
    async for one in start_bot(tmp_path / "one", database):
        async for two in start_bot(tmp_path / "two", database):
            bots = (one, two)
            numbers = [
                (
                    await order_service.create_order(
                        one.app[uow_key], None, f"+3369988{index:04d}", "150", "Gâteau", True, NOW
                    )
                ).number
                for index in range(ORDERS)
            ]
            for first, second in zip(numbers[::2], numbers[1::2], strict=True):
                # The admin works on two orders at once; each message lands on the other process.
                await one.says(ADMIN, f"payé {first}")
                await settle(*bots)
                await two.says(ADMIN, f"payé {second}")
                await settle(*bots)
                await one.clicks(ADMIN, callbacks.encode(callbacks.PayChoice(first, "full")))
                await settle(*bots)
                await two.clicks(ADMIN, callbacks.encode(callbacks.PayChoice(second, "full")))
                await settle(*bots)
                await two.clicks(ADMIN, confirm_button(bots, first))
                await settle(*bots)
                await one.clicks(ADMIN, confirm_button(bots, second))
                await settle(*bots)
            async with one.app[uow_key]() as uow:
                requests = (await uow.connection.execute(select(payment_transactions.c.commande_id))).all()
                texts = (
                    await uow.connection.execute(
                        select(outbox_messages.c.kind, outbox_messages.c.payload["text"].as_string())
                    )
                ).all()
    refusal = render("chat/stale_confirmation", "fr", order="#0").split(";")[0]
    stale = [t for _kind, t in texts if t and t.startswith(refusal)]
    sent_requests = [text for kind, text in texts if kind == "payment_request"]
    accepted = len(sent_requests)
    print(f"\n{ORDERS} confirmations over two processes: {accepted} accepted, {len(stale)} refused as stale")
    assert stale == []
    assert len(requests) == ORDERS and len({r.commande_id for r in requests}) == ORDERS
    assert accepted == ORDERS


async def test_a_vendor_changed_through_one_process_is_read_again_by_the_other_at_once(
    tmp_path: Path, database: str
) -> None:
    async for one in start_bot(tmp_path / "one", database):
        sender = one.app[sender_key]
        vendor = (await vendor_service.show_vendor(one.app[uow_key], None)).vendor
        await asyncio.sleep(0.5)  # the listener is connected (connecting forgets everything once)
        await sender._context(vendor.id)  # what the sender keeps of the vendor
        assert vendor.id in sender._vendors
        # The other process: an app of its own (webhooks only) on the same database.
        settings = settings_for(database, vendor_admin_phones=f"+{ADMIN}")
        other = create_app(settings, clock=SandboxClock(TickingClock()), role="ingest")
        runner = web.AppRunner(other)
        await runner.setup()
        try:
            await vendor_service.change_settings(
                other[uow_key], None, [("template.payment_reminder", "rappel_paiement")], None, NOW
            )
            deadline = time.monotonic() + 5.0
            while vendor.id in sender._vendors and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            assert vendor.id not in sender._vendors, "forgotten on the other process's change"
            context = await sender._context(vendor.id)
            assert context.templates["payment_reminder"] == "rappel_paiement"
        finally:
            await runner.cleanup()
