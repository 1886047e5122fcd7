"""`bot serve` killed with SIGKILL three times in the middle of a stream of customer messages and vendor
payment flows (acompte, Confirmer et envoyer, the customer pays on the sandbox provider's page), then
started again each time. Webhooks refused while it is down are resent until 200, as Meta does, the fake
Graph API's "sent" statuses too. Counted at the fake Graph API once the backlog is drained: no customer
message lost, none doubled. A row claimed "sending" when the process died that had reached WhatsApp is
recorded from its status (its tracker names it), not sent again after the claim's lease."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from sqlalchemy import func, update

from bot.handlers import callbacks
from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.graph import FakeGraphAPI, SentMessage
from bot.services import orders as order_service, vendors as vendor_service
from bot.store.database import create_engine
from bot.store.tables import vendor_admins
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW
from tests.e2e.reliability.serve_support import (
    APP_SECRET,
    PHONE_ID,
    Deliveries,
    ServeProcess,
    deliver,
    end_inbox_leases,
    end_send_leases,
    left_sending,
    signed,
    wamid,
)
from tests.e2e.reliability.support import Received, fresh_database, graph_on_a_port

pytestmark = pytest.mark.postgres
FLOWS = 10  # one vendor each (one admin phone: WhatsApp's per-user pace stays within its burst)
TEXTS = 3  # each customer writes before the flow, after the link and after paying
KILLS = 3
STEP_LIMIT = 40.0
DRAIN_LIMIT = 20.0


@pytest.fixture
async def database(postgres_server: str) -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


def graph_reports_to(graph: FakeGraphAPI, serve: ServeProcess) -> None:
    """The fake Graph API posts a "sent" status for each send to ``serve``, again until it is taken."""
    graph.set_webhook(f"{serve.base}/webhooks/whatsapp", APP_SECRET)
    graph.auto_statuses = ("sent",)
    graph.redeliver_for = 60.0


def admin_of(index: int) -> str:
    return f"3361000{index:04d}"


def customer_of(index: int) -> str:
    return f"3369900{index:04d}"


def what(message: SentMessage) -> str | None:
    """Which of a customer's expected messages this is, by its words."""
    if "/sandbox/checkout/" in message.text:
        return "request"
    if "Paiement reçu" in message.text:
        return "receipt"
    if "transmis" in message.text:
        return "forwarded"
    return None


async def vendors_with_orders(database: str, flows: int = FLOWS) -> dict[int, int]:
    """Vendor ``i`` with admin ``admin_of(i)`` and one accepted order of 150 EUR for ``customer_of(i)``
    (the process's clock is the machine's: the admins' 24-hour window is opened by the database's)."""
    engine = create_engine(database)
    uow = UnitOfWorkFactory(engine)
    numbers = {}
    try:
        for index in range(flows):
            new = vendor_service.NewVendor(name=f"Vendeur {index}", admin_phones=[f"+{admin_of(index)}"])
            vendor = (await vendor_service.add_vendor(uow, new, NOW)).vendor
            order = await order_service.create_order(
                uow, vendor, f"+{customer_of(index)}", "150", "Gâteau", True, NOW
            )
            numbers[index] = order.number
        async with uow() as unit:  # the vendors wrote a moment ago: their notes go as free text
            await unit.connection.execute(update(vendor_admins).values(last_inbound_at=func.now()))
            await unit.commit()
    finally:
        await engine.dispose()
    return numbers


class Stream:
    """The customers' and vendors' side: signed webhooks to the bot, resent until acknowledged."""

    def __init__(
        self, http: aiohttp.ClientSession, serve: ServeProcess, received: list[Received], stagger: float = 0.4
    ) -> None:
        self.http = http
        self.stagger = stagger
        self.serve = serve
        self.received = received
        self.record = Deliveries()

    async def webhook(self, payload: dict[str, object]) -> None:
        body, headers = signed(payload)
        await deliver(self.http, f"{self.serve.base}/webhooks/whatsapp", body, headers, self.record)
        self.record.acknowledged.append(str(payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]))  # type: ignore[index]

    async def says(self, phone: str, text: str) -> None:
        await self.webhook(payloads.text_message(PHONE_ID, phone, text, wamid=wamid()))

    async def first(self, found: Callable[[SentMessage], bool]) -> SentMessage:
        deadline = time.monotonic() + STEP_LIMIT
        while time.monotonic() < deadline:
            for item in list(self.received):
                if found(item.message):
                    return item.message
            await asyncio.sleep(0.05)
        raise AssertionError("an expected message never reached the Graph API")

    async def flow(self, index: int, number: int) -> None:
        admin, customer = admin_of(index), customer_of(index)
        await asyncio.sleep(index * self.stagger)  # the flows overlap, each at its own step when a kill comes
        await self.says(customer, f"Bonjour, je passe samedi ({index}.1)")
        await self.says(admin, f"acompte {number} 30%")
        prompt = await self.first(lambda m: m.to == admin and _confirm(m, number) is not None)
        click = payloads.button_reply(
            PHONE_ID, admin, str(_confirm(prompt, number)), "Confirmer et envoyer",
            context_wamid=prompt.wamid, wamid=wamid(),
        )  # fmt: skip
        await self.webhook(click)
        request = await self.first(lambda m: m.to == customer and what(m) == "request")
        await self.says(customer, f"Merci, je regarde ({index}.2)")
        link = next(line for line in request.text.splitlines() if "/sandbox/checkout/" in line).strip()
        # The page answers 303 once paid (and 303 again to a repeat after a crash: the link is closed).
        await deliver(
            self.http,
            f"{self.serve.base}{urlsplit(link).path}/pay",
            b"",
            {},
            self.record,
            done=frozenset({303}),
        )
        await self.first(lambda m: m.to == customer and what(m) == "receipt")
        await self.says(customer, f"C'est réglé, à samedi ({index}.3)")


def _confirm(message: SentMessage, number: int) -> str | None:
    for choice in message.buttons:
        decoded = callbacks.decode(choice.id)
        if isinstance(decoded, callbacks.ConfirmRequest) and decoded.order == number:
            return choice.id
    return None


def counted(received: list[Received], flows: int = FLOWS) -> dict[str, Counter[str]]:
    """Per customer: their messages by kind, and the vendor's notes of each of their texts (by its mark)."""
    counts: dict[str, Counter[str]] = {customer_of(i): Counter() for i in range(flows)}
    admins = {admin_of(i): customer_of(i) for i in range(flows)}
    for item in received:
        message = item.message
        kind = what(message)
        if message.to in counts and kind is not None:
            counts[message.to][kind] += 1
        elif message.to in admins:
            index = int(message.to[-4:])
            for text in range(1, TEXTS + 1):
                counts[admins[message.to]][f"note {text}"] += message.text.count(f"({index}.{text})")
    return counts


def lost_and_doubled(counts: Counter[str]) -> tuple[int, int]:
    """The payment request and the receipt exactly once, each text in the vendor's notes exactly once;
    one thank-you per batch of texts (texts that arrive together are thanked once): 1 to TEXTS."""
    once = ["request", "receipt", *(f"note {text}" for text in range(1, TEXTS + 1))]
    lost = sum(max(0, 1 - counts[k]) for k in once) + (counts["forwarded"] == 0)
    doubled = sum(max(0, counts[k] - 1) for k in once) + max(0, counts["forwarded"] - TEXTS)
    return lost, doubled


async def drained(database: str, received: list[Received], flows: int = FLOWS) -> bool:
    if any(lost_and_doubled(c)[0] for c in counted(received, flows).values()):
        return False
    connection = await asyncpg.connect(database)
    try:
        busy = await connection.fetchval(
            "SELECT count(*) FROM outbox_messages WHERE status IN ('pending', 'sending')"
            " AND next_attempt_at <= now()"
        )
        waiting = await connection.fetchval("SELECT count(*) FROM inbound_events WHERE processed_at IS NULL")
    finally:
        await connection.close()
    return busy == 0 and waiting == 0


async def test_bot_serve_killed_three_times_mid_stream_loses_and_doubles_no_customer_message(
    tmp_path: Path, database: str
) -> None:
    started = time.monotonic()
    numbers = await vendors_with_orders(database)
    rng = random.Random(19)
    leftover: Counter[tuple[int, str, str]] = Counter()
    recorded_from_status = 0
    async with graph_on_a_port() as (graph, graph_url, received):
        serve = ServeProcess(tmp_path, database, graph_url)
        graph_reports_to(graph, serve)
        await serve.start()
        try:
            timeout = aiohttp.ClientTimeout(total=5)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                stream = Stream(http, serve, received)
                flows = asyncio.gather(*(stream.flow(i, numbers[i]) for i in range(FLOWS)))
                for _ in range(KILLS):
                    await asyncio.sleep(rng.uniform(0.8, 2.5))
                    serve.kill()
                    left = await left_sending(database)
                    leftover += left
                    await end_inbox_leases(database)
                    await asyncio.sleep(rng.uniform(0.2, 1.0))  # webhooks meanwhile are refused, then resent
                    await serve.start()
                    recorded_from_status += await end_send_leases(database, left, received)
                await asyncio.wait_for(flows, timeout=STEP_LIMIT)
                deadline = time.monotonic() + DRAIN_LIMIT
                while not await drained(database, received) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
                await asyncio.sleep(0.5)  # anything doubled would arrive now
        finally:
            serve.stop()
        log = serve.output()
    counts = counted(received)
    lost = sum(lost_and_doubled(c)[0] for c in counts.values())
    doubled = sum(lost_and_doubled(c)[1] for c in counts.values())
    connection = await asyncpg.connect(database)
    try:
        events = await connection.fetch(
            "SELECT event_key, processed_at, rejected_at FROM inbound_events WHERE source = 'whatsapp'"
        )
        unsent = await connection.fetch(
            "SELECT to_phone, kind, status, attempts, last_error, next_attempt_at, payload"
            " FROM outbox_messages WHERE status <> 'sent'"
        )
    finally:
        await connection.close()
    keys = Counter(str(row["event_key"]) for row in events)
    acknowledged = stream.record.acknowledged
    unprocessed = [row["event_key"] for row in events if row["processed_at"] is None]
    statuses = dict(sorted(stream.record.statuses.items()))
    print(
        f"\nkill -9 x{KILLS} of bot serve ({serve.starts} starts) in {time.monotonic() - started:.1f} s:"
        f" {sum(statuses.values()) + stream.record.refused} requests, statuses {statuses},"
        f" {stream.record.refused} refused while down; {len(acknowledged)} webhooks acknowledged,"
        f" {len(unprocessed)} unprocessed; {sum(sum(c.values()) for c in counts.values())} customer messages"
        f" at the Graph API: {lost} lost, {doubled} doubled; {sum(leftover.values())} rows left sending by"
        f" the kills, {recorded_from_status} of them recorded from their status;"
        f" {log.count('Traceback')} tracebacks in the log"
    )
    assert lost == 0, (counts, [dict(row) for row in unsent])
    assert unsent == [], "nothing left unsent or failed"
    assert doubled == 0, counts
    assert not any(status >= 500 for status in statuses)
    assert all(keys[key] == 1 for key in acknowledged), "every acknowledged webhook stored once"
    assert unprocessed == [] and all(row["rejected_at"] is None for row in events)
