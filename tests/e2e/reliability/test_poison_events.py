"""One bad event never fails another: a poison event batched with healthy ones, on SQLite and Postgres.

A signed WhatsApp message whose id (306 characters) is longer than the inbox's column, sent at the same
moment as six valid webhooks (so they share a group commit), ten times: every request gets 200, the
healthy events are stored and processed, the poison is kept as rejected with its reason, and its
redelivery changes nothing. Text Postgres refuses (a NUL) is stripped, so that message still reaches the
vendor. And at the writer itself, an event the database refuses in a shared commit is written apart.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sandbox import whatsapp_payloads as payloads
from bot.store.inbox_writer import InboxWriter, NewEvent
from bot.store.tables import inbound_events
from bot.web.keys import uow_key
from bot.whatsapp.clients import SANDBOX_APP_SECRET, SANDBOX_PHONE_ID
from tests.e2e.reliability.mutations import LONG_ID
from tests.whatsapp_support import ADMIN, RunningBot, start_bot

TRIALS = 10
HEALTHY_PER_TRIAL = 6


async def inbox(bot: RunningBot) -> list[tuple[str, bool, bool, str | None]]:
    """(event key, processed, rejected, last error) of every stored event."""
    async with bot.app[uow_key]() as uow:
        rows = await uow.connection.execute(
            select(
                inbound_events.c.event_key,
                inbound_events.c.processed_at,
                inbound_events.c.rejected_at,
                inbound_events.c.last_error,
            )
        )
        return [
            (r.event_key, r.processed_at is not None, r.rejected_at is not None, r.last_error) for r in rows
        ]


async def test_a_poison_event_batched_with_healthy_ones_fails_none_of_them(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    sqlite = database_url.startswith("sqlite")
    async for bot in start_bot(tmp_path, None if sqlite else database_url):
        healthy: list[str] = []
        codes: list[int] = []
        for trial in range(TRIALS):
            poison = payloads.text_message(
                SANDBOX_PHONE_ID, "33600000999", "poison", wamid=LONG_ID + str(trial)
            )
            batch = [poison]
            for index in range(HEALTHY_PER_TRIAL):
                wamid = f"wamid.healthy{trial}x{index}{uuid.uuid4().hex[:8]}"
                healthy.append(wamid)
                phone = f"336000{trial:02d}{index:03d}"
                batch.append(payloads.text_message(SANDBOX_PHONE_ID, phone, f"Bonjour {index}", wamid=wamid))
            codes += await asyncio.gather(*(bot.post_webhook(payload) for payload in batch))
        redelivered = await bot.post_webhook(
            payloads.text_message(SANDBOX_PHONE_ID, "33600000999", "poison", wamid=LONG_ID + "0")
        )
        await bot.settle(limit=30)
        rows = await inbox(bot)
    by_key = {key: (processed, rejected, error) for key, processed, rejected, error in rows}
    rejected = [row for row in rows if row[2]]
    print(f"poison: {len(codes)} requests, {codes.count(200)} answered 200, {len(rejected)} rejected copies")
    assert codes == [200] * (TRIALS * (1 + HEALTHY_PER_TRIAL))
    assert redelivered == 200
    assert all(by_key[wamid] == (True, False, None) for wamid in healthy)  # stored, processed, not rejected
    assert len(rejected) == TRIALS  # the redelivery collided with the first copy
    assert all(key.startswith("rejected:") and processed and error for key, processed, _, error in rejected)


async def test_a_nul_in_a_customers_text_is_stripped_and_the_message_reaches_the_vendor(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    sqlite = database_url.startswith("sqlite")
    async for bot in start_bot(tmp_path, None if sqlite else database_url):
        await bot.says(ADMIN, "commandes")  # the vendor's 24-hour window is open: forwarded as text
        await bot.settle()
        body = payloads.encode(
            payloads.text_message(SANDBOX_PHONE_ID, "33699887766", "Le g\x00\x00teau est pr\x00t ?")
        )
        assert b"\\u0000" in body
        headers = {
            "X-Hub-Signature-256": payloads.sign(body, SANDBOX_APP_SECRET),
            "Content-Type": "application/json",
        }
        async with bot.http.post(f"{bot.base}/webhooks/whatsapp", data=body, headers=headers) as response:
            assert response.status == 200
        forwarded = await bot.graph.wait_for(
            lambda m: m.to == ADMIN and "Le gteau est prt ?" in m.text, timeout=10
        )
        await bot.settle()
        rows = await inbox(bot)
    assert forwarded.text.count("\x00") == 0
    assert rows and all(processed and not rejected for _, processed, rejected, _ in rows)


@pytest.mark.parametrize("refused", ["lone surrogate", "nul"])
async def test_an_event_the_database_refuses_in_a_shared_commit_is_kept_apart_as_rejected(
    engine: AsyncEngine, refused: str
) -> None:
    if refused == "nul" and engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores a NUL")
    bad = "x\ud800y" if refused == "lone surrogate" else "x\x00y"
    writer = InboxWriter(engine)
    at = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
    events = [NewEvent("whatsapp", f"good-{index}", "message", '{"ok":1}') for index in range(5)]
    poison = NewEvent("whatsapp", "poison", "message", bad)
    try:
        answers = await asyncio.gather(
            writer.store(events[:2], at), writer.store([poison, events[2]], at), writer.store(events[3:], at)
        )
        again = await writer.store([poison], at)
    finally:
        await writer.stop()
    assert [len(ids) for ids in answers] == [2, 2, 2]
    assert all(event_id is not None for event_id in answers[0] + answers[2]) and answers[1][1] is not None
    assert answers[1][0] is None and again == [None]
    async with engine.connect() as connection:
        rows = (await connection.execute(select(inbound_events).order_by(inbound_events.c.id))).all()
    good = [row for row in rows if row.event_key.startswith("good-")]
    [kept] = [row for row in rows if row.rejected_at is not None]
    assert len(good) == 5 and all(row.processed_at is None for row in good)
    assert kept.event_key.startswith("rejected:") and kept.processed_at is not None and kept.last_error
    assert '"event_key": "poison"' in kept.payload
