"""`bot worker` killed with SIGKILL in the middle of a backlog: a second worker finishes it, and every
customer message is processed exactly once (counted in the database: one thank-you per customer, each
text in exactly one vendor note, each inbox row applied once)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from bot.sandbox import whatsapp_payloads as payloads
from bot.store import migrate
from bot.store.database import create_engine
from bot.store.inbox_writer import InboxWriter, NewEvent
from bot.whatsapp.webhook_events import split_webhook
from tests.cli_support import clean_env
from tests.conftest import create_postgres_database, drop_postgres_database

pytestmark = pytest.mark.postgres
PHONE_ID = "100200300400500"
MESSAGES = 3000
RECEIVED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
async def database(postgres_server: str) -> AsyncIterator[str]:
    url = await create_postgres_database("bot_crash")
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    yield url
    await drop_postgres_database(url)


@pytest.fixture
async def graph() -> AsyncIterator[str]:
    """A Graph API that accepts every send (the outbox sender of the worker talks to it)."""

    async def sent(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(
            {"contacts": [{"input": "1", "wa_id": "1"}], "messages": [{"id": "wamid.sent"}]}
        )

    app = web.Application()
    app.router.add_post("/{version}/{phone_id}/messages", sent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def text_of(index: int) -> str:
    return f"Bonjour, voici le message numero {index} pour vous"


async def store_backlog(url: str) -> None:
    engine = create_engine(url)
    writer = InboxWriter(engine)
    events = []
    for index in range(MESSAGES):
        body = payloads.encode(
            payloads.text_message(
                PHONE_ID,
                f"3371{index:07d}",
                text_of(index),
                wamid=f"wamid.crash.{index}",
                timestamp=1772441000,
            )
        )
        events += [NewEvent("whatsapp", e.key, e.event_type, e.payload) for e in split_webhook(body)]
    for start in range(0, len(events), 1000):
        await writer.store(events[start : start + 1000], RECEIVED)
    await writer.stop()
    await engine.dispose()


async def processed(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT count(processed_at) FROM inbound_events"))
    finally:
        await connection.close()


def worker(tmp_path: Path, url: str, graph: str) -> subprocess.Popen[bytes]:
    env = clean_env(
        DATABASE_URL=url, WHATSAPP_PHONE_ID=PHONE_ID, WHATSAPP_TOKEN="token", WHATSAPP_APP_SECRET="secret",
        WHATSAPP_VERIFY_TOKEN="verify", WHATSAPP_GRAPH_URL=graph, VENDOR_NAME="Boulangerie",
        VENDOR_ADMIN_PHONES="+33612345678", PAYMENT_PROVIDER="sandbox", LOG_LEVEL="WARNING",
    )  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "worker", "--lease", "1"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def wait_for(condition: object, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not reached within {limit} s")


async def test_a_worker_killed_mid_batch_leaves_each_message_processed_once_by_the_next(
    tmp_path: Path, database: str, graph: str
) -> None:
    await store_backlog(database)
    first = worker(tmp_path, database, graph)
    try:
        # Killed once it has applied some batches and holds the next one (batches of 500).
        await wait_for(lambda: _mid_batch(database), 60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    done_by_first = await processed(database)
    assert 0 < done_by_first < MESSAGES
    second = worker(tmp_path, database, graph)
    try:
        await wait_for(lambda: _between(database, MESSAGES, MESSAGES), 90)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=30)
        except subprocess.TimeoutExpired:
            second.kill()
    connection = await asyncpg.connect(database)
    try:
        attempts = await connection.fetch("SELECT attempts, count(*) FROM inbound_events GROUP BY attempts")
        replies = await connection.fetch(
            "SELECT to_phone, count(*) FROM outbox_messages WHERE kind = 'customer_reply' GROUP BY to_phone"
        )
        notes = await connection.fetch(
            "SELECT payload FROM outbox_messages WHERE kind = 'vendor_customer_message'"
        )
    finally:
        await connection.close()
    assert [(row[0], row[1]) for row in attempts] == [(1, MESSAGES)]
    assert len(replies) == MESSAGES and {row[1] for row in replies} == {1}
    told = "\n".join(
        json.loads(row[0])["text"] if isinstance(row[0], str) else row[0]["text"] for row in notes
    )
    counts = [told.count(f"numero {index} pour") for index in range(MESSAGES)]
    assert counts == [1] * MESSAGES


async def _mid_batch(url: str) -> bool:
    connection = await asyncpg.connect(url)
    try:
        done, held = await connection.fetchrow(
            "SELECT count(processed_at), count(*) FILTER"
            " (WHERE processed_at IS NULL AND locked_until IS NOT NULL) FROM inbound_events"
        )
    finally:
        await connection.close()
    return bool(0 < done < MESSAGES - 1000 and held > 0)


async def _between(url: str, low: int, high: int) -> bool:
    return low <= await processed(url) <= high
