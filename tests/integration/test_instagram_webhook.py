"""The Instagram webhook against the running app: signatures, batches, redeliveries, bad bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.channels.instagram.config import SANDBOX_ACCOUNT_ID
from bot.sandbox import whatsapp_payloads as payloads
from bot.store.tables import customers, inbound_events, outbox_messages
from bot.web.keys import instagram_key, instagram_processor_key, uow_key
from tests.instagram_support import IG_CUSTOMER, Instagram
from tests.whatsapp_support import ADMIN, RunningBot, start_bot

OTHER_CUSTOMER = "6871234567999001"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path):
        yield running


async def count(bot: RunningBot, table: Any, *where: Any) -> int:
    async with bot.app[uow_key]() as uow:
        query = select(func.count()).select_from(table)
        if where:
            query = query.where(*where)
        return int((await uow.connection.execute(query)).scalar_one())


async def settle(bot: RunningBot) -> None:
    await bot.app[instagram_processor_key].drain()
    await bot.settle()


def batch(ig: Instagram, *items: tuple[str, str]) -> dict[str, Any]:
    """One webhook with several customers' messages, as Meta batches them: entries and messaging items."""
    first = ig.fake.text_message(SANDBOX_ACCOUNT_ID, items[0][0], items[0][1])
    for sender, text in items[1:]:
        more = ig.fake.text_message(SANDBOX_ACCOUNT_ID, sender, text)
        first["entry"][0]["messaging"].append(more["entry"][0]["messaging"][0])
    return first


async def test_a_redelivered_batch_has_one_effect_per_message(bot: RunningBot) -> None:
    ig = Instagram(bot)
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    payload = batch(ig, (IG_CUSTOMER, "Bonjour"), (OTHER_CUSTOMER, "Hello"), (IG_CUSTOMER, "Vous êtes là ?"))
    assert await ig.post(payload) == 200
    await settle(bot)
    assert await ig.post(payload) == 200  # Meta delivers it again
    await settle(bot)
    assert await count(bot, inbound_events, inbound_events.c.source == "instagram") == 3
    assert await count(bot, customers, customers.c.channel == "instagram") == 2
    forwarded = await count(bot, outbox_messages, outbox_messages.c.kind == "vendor_customer_message")
    answered = await count(bot, outbox_messages, outbox_messages.c.kind == "customer_reply")
    assert (forwarded, answered) == (3, 3)
    assert len(ig.fake.sent_to(IG_CUSTOMER)) == 2 and len(ig.fake.sent_to(OTHER_CUSTOMER)) == 1


async def test_echoes_reads_and_reactions_are_stored_as_nothing(bot: RunningBot) -> None:
    ig = Instagram(bot)
    payload = ig.fake.text_message(SANDBOX_ACCOUNT_ID, IG_CUSTOMER, "our own message")
    payload["entry"][0]["messaging"][0]["message"]["is_echo"] = True
    payload["entry"][0]["messaging"].append(
        {"sender": {"id": IG_CUSTOMER}, "recipient": {"id": SANDBOX_ACCOUNT_ID}, "timestamp": 1,
         "read": {"mid": "m_1"}}
    )  # fmt: skip
    assert await ig.post(payload) == 200
    await settle(bot)
    assert await count(bot, inbound_events) == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 403),
        ({"X-Hub-Signature-256": "md5=x"}, 403),
    ],
)
async def test_an_unsigned_or_badly_signed_webhook_is_refused_and_nothing_is_stored(
    bot: RunningBot, headers: dict[str, str], status: int
) -> None:
    ig = Instagram(bot)
    body = json.dumps(ig.fake.text_message(SANDBOX_ACCOUNT_ID, IG_CUSTOMER, "Bonjour")).encode()
    async with bot.http.post(f"{bot.base}/webhooks/instagram", data=body, headers=headers) as answer:
        assert answer.status == status
    assert await count(bot, inbound_events) == 0


async def test_a_body_signed_with_another_secret_is_refused(bot: RunningBot) -> None:
    ig = Instagram(bot)
    assert await ig.post(ig.fake.text_message(SANDBOX_ACCOUNT_ID, IG_CUSTOMER, "x"), secret="not-ours") == 403
    assert await count(bot, inbound_events) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"object": "page", "entry": []}).encode(),
        json.dumps({"object": "instagram", "entry": "x"}).encode(),
        json.dumps(
            {"object": "instagram", "entry": [{"messaging": [{"message": {"text": "no mid"}}]}]}
        ).encode(),
        json.dumps(
            {
                "object": "instagram",
                "entry": [{"messaging": [{"message": {"mid": "m_1", "text": "no sender"}}]}],
            }
        ).encode(),
    ],
)
async def test_a_malformed_signed_body_gets_a_400_never_a_500(bot: RunningBot, body: bytes) -> None:
    ig = Instagram(bot)
    headers = {"X-Hub-Signature-256": payloads.sign(body, bot.app[instagram_key].app_secret)}
    async with bot.http.post(f"{bot.base}/webhooks/instagram", data=body, headers=headers) as answer:
        assert answer.status == 400
    assert await count(bot, inbound_events) == 0
    assert ig.fake.sent == []


async def test_the_subscription_challenge_is_echoed_for_our_verify_token_only(bot: RunningBot) -> None:
    token = bot.app[instagram_key].verify_token
    query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
    async with bot.http.get(f"{bot.base}/webhooks/instagram", params=query) as answer:
        assert (answer.status, await answer.text()) == (200, "1158201444")
    async with bot.http.get(
        f"{bot.base}/webhooks/instagram", params={**query, "hub.verify_token": "wrong"}
    ) as answer:
        assert answer.status == 403


async def test_a_card_number_written_on_instagram_is_redacted_before_it_is_stored(bot: RunningBot) -> None:
    ig = Instagram(bot)
    await ig.says(IG_CUSTOMER, "ma carte 4242 4242 4242 4242 exp 12/29")
    await settle(bot)
    async with bot.app[uow_key]() as uow:
        payload = (await uow.connection.execute(select(inbound_events.c.payload))).scalar_one()
    assert "4242 4242" not in payload
    assert all("4242 4242" not in m.text for m in ig.fake.sent)
