"""Hostile bodies to every webhook of the running bot, on Postgres: real payload shapes mutated by
hypothesis, signed and not. No answer is a 5xx, nothing unsigned is stored, and every stored event ends
processed or rejected (none left to be retried forever)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from bot.store.tables import inbound_events
from bot.web.keys import instagram_key, instagram_processor_key, processor_key, uow_key
from bot.whatsapp.clients import SANDBOX_APP_SECRET
from tests.e2e.reliability.mutations import (
    STRIPE_SECRET,
    Attempt,
    attempts,
    meta_signature,
    stripe_signature,
)
from tests.e2e.reliability.support import fresh_database
from tests.whatsapp_support import RunningBot, start_bot

pytestmark = pytest.mark.postgres
# How many bodies of each kind hypothesis makes: together the test stays well under a minute.
UNSIGNED = {"whatsapp": 40, "instagram": 15, "stripe": 30}
SIGNED = {"whatsapp": 250, "instagram": 60, "stripe": 120, "icount": 60}
AT_ONCE = 8  # concurrent requests: bad events share group commits with good ones
ICOUNT_ADDRESS = "/webhooks/icount/" + "ab" * 32  # the shape of one of ours, not one we gave


def generate(endpoint: str, signings: list[str], count: int) -> list[Attempt]:
    found: list[Attempt] = []

    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(attempts(endpoint, signings))
    def collect(attempt: Attempt) -> None:
        found.append(attempt)

    collect()
    return found


async def send(bot: RunningBot, attempt: Attempt) -> int:
    headers = {"Content-Type": attempt.content_type}
    if attempt.endpoint in ("whatsapp", "instagram"):
        secret = SANDBOX_APP_SECRET if attempt.endpoint == "whatsapp" else bot.app[instagram_key].app_secret
        if attempt.signing != "none":
            key = secret if attempt.signed else "not-the-secret"
            headers["X-Hub-Signature-256"] = meta_signature(attempt.body, key)
        path = f"/webhooks/{attempt.endpoint}"
    elif attempt.endpoint == "stripe":
        if attempt.signing != "none":
            key = STRIPE_SECRET if attempt.signed else "whsec_not_ours"
            headers["Stripe-Signature"] = stripe_signature(attempt.body, key)
        path = "/webhooks/stripe"
    else:
        path = ICOUNT_ADDRESS
    async with bot.http.post(bot.base + path, data=attempt.body, headers=headers) as response:
        await response.read()
        return response.status


async def send_all(bot: RunningBot, batch: list[Attempt], seen: Counter[int]) -> list[tuple[Attempt, int]]:
    answered: list[tuple[Attempt, int]] = []
    for start in range(0, len(batch), AT_ONCE):
        chunk = batch[start : start + AT_ONCE]
        codes = await asyncio.gather(*(send(bot, attempt) for attempt in chunk))
        answered += zip(chunk, codes, strict=True)
        seen.update(codes)
    return answered


async def stored(bot: RunningBot) -> int:
    async with bot.app[uow_key]() as uow:
        return int(
            (await uow.connection.execute(select(func.count()).select_from(inbound_events))).scalar_one()
        )


async def test_hostile_webhooks_get_no_5xx_store_nothing_unsigned_and_end_processed_or_rejected(
    postgres_server: str, tmp_path: Path
) -> None:
    unsigned = [a for kind, n in UNSIGNED.items() for a in generate(kind, ["bad", "none"], n)]
    signed = [a for kind, n in SIGNED.items() for a in generate(kind, ["good"], n)]
    seen: Counter[int] = Counter()
    async with fresh_database() as url:
        async for bot in start_bot(tmp_path, url, stripe_webhook_secret=STRIPE_SECRET):
            answered = await send_all(bot, unsigned, seen)
            stored_unsigned = await stored(bot)
            answered += await send_all(bot, signed, seen)
            await bot.settle(limit=30)
            await bot.app[instagram_processor_key].drain()
            async with bot.app[uow_key]() as uow:
                rows = (
                    await uow.connection.execute(
                        select(
                            inbound_events.c.source,
                            inbound_events.c.event_key,
                            inbound_events.c.processed_at,
                            inbound_events.c.rejected_at,
                            inbound_events.c.last_error,
                        )
                    )
                ).all()
            worker_alive = not bot.app[processor_key]._task.done()  # type: ignore[union-attr]
    failures = [(a.endpoint, a.signing, a.body[:120], code) for a, code in answered if code >= 500]
    rejected = [row for row in rows if row.rejected_at is not None]
    left = [(row.source, row.event_key[:40], row.last_error) for row in rows if row.processed_at is None]
    print(
        f"fuzz: {len(answered)} requests ({len(unsigned)} unsigned), "
        f"status codes {dict(sorted(seen.items()))}, {len(failures)} 5xx, "
        f"{stored_unsigned} stored unsigned, {len(rows)} stored, "
        f"{len(rejected)} rejected, {len(left)} left unprocessed"
    )
    assert failures == []
    assert all(code in (400, 401, 403, 413) for a, code in answered if not a.signed)
    assert stored_unsigned == 0
    assert left == []
    assert all(row.last_error for row in rejected)
    assert worker_alive
    assert seen[200] > 0  # some of them were well-formed and went all the way
