"""Sending to Instagram customers through the outbox: the Send API at the wire (the sandbox's fake over
HTTP), its refusals and retries, and Instagram's 24-hour window with its WhatsApp fallback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.instagram.client import OUTSIDE_WINDOW_SUBCODE
from bot.domain.deposit import AskKind
from bot.sandbox.clock import SandboxClock
from bot.sandbox.instagram import OUTSIDE_WINDOW
from bot.services import customer_sync, orders as order_service, payments as payment_service
from bot.store.tables import outbox_messages
from bot.web.keys import clock_key, instagram_processor_key, payments_key, uow_key
from tests.instagram_support import IG_CUSTOMER, Instagram
from tests.whatsapp_support import ADMIN, RunningBot, start_bot

PHONE = "33655500011"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path):
        yield running


async def settle(bot: RunningBot) -> None:
    await bot.app[instagram_processor_key].drain()
    await bot.settle()


async def request_rows(bot: RunningBot) -> list[tuple[str, str, str, str | None]]:
    async with bot.app[uow_key]() as uow:
        rows = await uow.connection.execute(
            select(
                outbox_messages.c.channel, outbox_messages.c.to_phone, outbox_messages.c.status,
                outbox_messages.c.last_error,
            ).where(outbox_messages.c.kind == "payment_request")
        )  # fmt: skip
        return [(r.channel, r.to_phone, r.status, r.last_error) for r in rows]


async def customer_wrote(bot: RunningBot, ig: Instagram) -> None:
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    await ig.says(IG_CUSTOMER, "Bonjour")
    await ig.next_to(IG_CUSTOMER)
    await bot.next_to(ADMIN)


async def ask_full_payment(bot: RunningBot) -> str:
    deps = bot.app[payments_key]
    order = await order_service.create_order(deps.uow, None, "ig:345678", "80", "Tarte", True, deps.clock())
    outcome = await payment_service.request_payment(deps, None, order.number, AskKind.FULL)
    return outcome.url


def later(bot: RunningBot, hours: int) -> None:
    clock = bot.app[clock_key]
    assert isinstance(clock, SandboxClock)
    clock.advance(timedelta(hours=hours))


async def test_outside_instagrams_window_without_a_phone_the_message_fails_and_the_vendor_is_told(
    bot: RunningBot,
) -> None:
    ig = Instagram(bot)
    await customer_wrote(bot, ig)
    later(bot, 25)
    await bot.says(ADMIN, "aide")  # the vendor's own WhatsApp window is open again
    await bot.next_to(ADMIN)
    await ask_full_payment(bot)
    note = await bot.next_to(ADMIN)
    assert "ig:345678" in note.text and "Instagram" in note.text and "phone=" in note.text
    await settle(bot)
    assert await request_rows(bot) == [("instagram", IG_CUSTOMER, "failed", "instagram_window")]
    assert len(ig.fake.sent_to(IG_CUSTOMER)) == 1  # only the first answer


async def test_meta_saying_the_window_is_closed_moves_the_message_to_the_customers_whatsapp(
    bot: RunningBot,
) -> None:
    ig = Instagram(bot)
    await customer_wrote(bot, ig)
    deps = bot.app[payments_key]
    await customer_sync.change_customer(deps, None, "ig:345678", [("phone", f"+{PHONE}")])
    # Inside the window by our clock, but Meta's answer wins: the customer is then asked on WhatsApp.
    ig.fake.fail_next(403, OUTSIDE_WINDOW)
    await bot.says(PHONE, "Bonjour")  # the customer's WhatsApp window is open: free text there
    await bot.next_to(PHONE)
    await bot.next_to(ADMIN)
    url = await ask_full_payment(bot)
    on_whatsapp = await bot.next_to(PHONE)
    assert on_whatsapp.kind == "text" and url in on_whatsapp.text
    await settle(bot)
    [(channel, to, status, error)] = await request_rows(bot)
    assert (channel, to, error) == ("whatsapp", PHONE, None) and status in {"sent", "delivered", "read"}
    assert OUTSIDE_WINDOW["error_subcode"] == OUTSIDE_WINDOW_SUBCODE


async def test_a_transient_send_api_error_is_retried_and_the_message_sent_once(bot: RunningBot) -> None:
    ig = Instagram(bot)
    await customer_wrote(bot, ig)
    ig.fake.fail_next(500, {"message": "An unexpected error has occurred.", "type": "OAuthException",
                            "code": 2, "is_transient": True})  # fmt: skip
    attempts = ig.fake.attempts
    url = await ask_full_payment(bot)
    sent = await ig.next_to(IG_CUSTOMER, wait=15)
    assert url in sent.text
    await settle(bot)
    assert ig.fake.attempts - attempts == 2
    [(channel, _to, status, _error)] = await request_rows(bot)
    assert (channel, status) == ("instagram", "sent")


async def test_a_refusal_that_will_not_change_fails_at_once_and_the_vendor_is_told(bot: RunningBot) -> None:
    ig = Instagram(bot)
    await customer_wrote(bot, ig)
    unavailable = {"message": "(#551) This person isn't available right now.", "type": "IGApiException"}
    ig.fake.fail_next(400, {**unavailable, "code": 551, "error_subcode": 1545041})
    await ask_full_payment(bot)
    note = await bot.next_to(ADMIN)
    assert "ig:345678" in note.text and "551" in note.text
    await settle(bot)
    assert [status for _, _, status, _ in await request_rows(bot)] == ["failed"]
