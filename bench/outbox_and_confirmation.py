"""Outbox pace and confirmation latency benchmark (DESIGN.md §8), run by hand:

    .venv/bin/python bench/outbox_and_confirmation.py [--database-url postgresql://...]
        [--messages 2400] [--pair-messages 15] [--confirmations 200]

The real app (sandbox mode: the built-in fake Graph API, reached by pywa over HTTP) on a fresh Postgres
database, in this process. Three measurements:

1. Outbox pace: ``--messages`` messages to as many customers (each inside the 24-hour window) are queued at
   once; the fake Graph API stamps each send. Prints sends/s overall and the most sends seen in any one
   second, against WHATSAPP_MESSAGES_PER_SECOND (default 80): the sender should reach it, never exceed it.
2. Pair pace: ``--pair-messages`` messages to one customer; prints how long they took and, over every
   window of the run, the most messages beyond one per 6 s (WhatsApp's pace per user), which must stay
   within the burst of 10 the sender allows.
3. Confirmation latency: ``--confirmations`` times, a vendor goes through ``payé N`` -> Acompte -> 30% and
   clicks "Confirmer et envoyer". Two figures, p50/p90/p99 each: end to end, from posting that signed
   webhook to the fake Graph API recording the customer's payment link (the bench's client and the fake's
   HTTP server included); and our own time (DESIGN §8), from the webhook reaching our route to the
   customer's message handed to the HTTP transport towards the Graph API, less the time spent in the
   payment provider's ``create_link`` (the sandbox provider's, near nothing; a real one's is its latency).
   The pace per user is relaxed for this part (one admin clicks hundreds of times).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import socket
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import create_app  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.domain.outgoing import OutgoingMessage  # noqa: E402
from bot.payments.sandbox.provider import SandboxProvider  # noqa: E402
from bot.sandbox import whatsapp_payloads as payloads  # noqa: E402
from bot.sandbox.graph import FakeGraphAPI, SentMessage  # noqa: E402
from bot.sandbox.keys import graph_key  # noqa: E402
from bot.services import orders as order_service  # noqa: E402
from bot.store import migrate  # noqa: E402
from bot.store.database import create_engine  # noqa: E402
from bot.store.uow import UnitOfWorkFactory  # noqa: E402
from bot.web.keys import engine_key, sender_key, uow_key  # noqa: E402
from bot.whatsapp.clients import SANDBOX_APP_SECRET, SANDBOX_PHONE_ID  # noqa: E402
from bot.whatsapp.transport import GraphRewriteTransport  # noqa: E402

ADMIN = "33612345678"
PAIR_INTERVAL = 6.0
PAIR_BURST = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Bench:
    def __init__(self, app: web.Application, base: str, http: aiohttp.ClientSession) -> None:
        self.app = app
        self.base = base
        self.http = http

    @property
    def graph(self) -> FakeGraphAPI:
        return self.app[graph_key]

    @property
    def uow(self) -> UnitOfWorkFactory:
        return self.app[uow_key]

    async def post(self, payload: dict[str, Any]) -> None:
        body = payloads.encode(payload)
        headers = {"X-Hub-Signature-256": payloads.sign(body, SANDBOX_APP_SECRET)}
        async with self.http.post(f"{self.base}/webhooks/whatsapp", data=body, headers=headers) as answer:
            assert answer.status == 200, answer.status

    async def next_to(self, phone: str, after: int) -> SentMessage:
        return await self.graph.wait_for(lambda m: m.to == phone and m.seq > after, timeout=30)

    def last_seq(self) -> int:
        return max((m.seq for m in self.graph.sent), default=0)


async def customers_in_window(bench: Bench, count: int, prefix: str) -> list[tuple[uuid.UUID, str]]:
    now = datetime.now(UTC)
    made = []
    async with bench.uow() as uow:
        vendor = (await uow.vendors.all())[0]
        for index in range(count):
            phone = f"{prefix}{index:06d}"
            customer = await uow.customers.get_or_create(vendor.id, phone, now, None)
            await uow.customers.touch(customer.id, now, None)
            made.append((customer.id, phone))
        await uow.commit()
    return made


async def queue_messages(bench: Bench, to: list[tuple[uuid.UUID, str]]) -> None:
    async with bench.uow() as uow:
        vendor = (await uow.vendors.all())[0]
        messages = [
            OutgoingMessage(
                vendor.id, phone, "vendor_customer_message", "fr", f"Bonjour {index}", customer_id=cid
            )
            for index, (cid, phone) in enumerate(to)
        ]
        await uow.outbox.add_many(messages, datetime.now(UTC))
        await uow.commit()
    bench.app[sender_key].wake()


async def sends_to(bench: Bench, phones: set[str], after: int, count: int, limit: float) -> list[float]:
    """When the fake Graph API received the next ``count`` messages to ``phones`` (sorted timestamps)."""
    deadline = time.monotonic() + limit
    sent = []
    while time.monotonic() < deadline:
        sent = [m for m in bench.graph.sent if m.seq > after and m.to in phones]
        if len(sent) >= count:
            break
        await asyncio.sleep(0.2)
    return sorted(m.at.timestamp() for m in sent)


async def outbox_pace(bench: Bench, count: int) -> tuple[float, int]:
    to = await customers_in_window(bench, count, "3361")
    after = bench.last_seq()
    await queue_messages(bench, to)
    stamps = await sends_to(bench, {phone for _, phone in to}, after, count, count / 10 + 60)
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    # The most sends in any one-second window, not only in whole seconds from the start.
    busiest = max(bisect.bisect_left(stamps, start + 1.0) - index for index, start in enumerate(stamps))
    return rate, busiest


async def pair_pace(bench: Bench, count: int) -> tuple[float, float]:
    ((customer_id, phone),) = await customers_in_window(bench, 1, "3362")
    after = bench.last_seq()
    await queue_messages(bench, [(customer_id, phone)] * count)
    stamps = await sends_to(bench, {phone}, after, count, count * PAIR_INTERVAL + 30)
    # The most sent in any window of w seconds may be BURST + w / 6: the tightest window says how close.
    worst = max(
        (index_b - index_a + 1) - (stamps[index_b] - stamps[index_a]) / PAIR_INTERVAL
        for index_a in range(len(stamps))
        for index_b in range(index_a, len(stamps))
    )
    return stamps[-1] - stamps[0], worst


class SqlCounter:
    """Statements and commits on the app's engine (and the inbox writer's raw asyncpg commits)."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)

    def _statement(self, *_args: Any) -> None:
        self.statements += 1

    def _commit(self, *_args: Any) -> None:
        self.commits += 1


class Stopwatch:
    """Our own time on one confirmation: stamps taken inside the app (its route, the provider, the
    transport to the Graph API), by wrapping them for the bench only."""

    def __init__(self) -> None:
        self.armed = False
        self.received: float | None = None
        self.graph_call: dict[str, float] = {}
        self.provider = 0.0

    def arm(self) -> None:
        self.armed, self.received, self.provider = True, None, 0.0
        self.graph_call.clear()

    def our_time(self, phone: str) -> float:
        assert self.received is not None
        return (self.graph_call[phone] - self.received - self.provider) * 1000

    def install(self, app: web.Application) -> None:
        watch = self

        @web.middleware
        async def stamp(request: web.Request, handler: Any) -> web.StreamResponse:
            if watch.armed and watch.received is None and request.path == "/webhooks/whatsapp":
                watch.received = time.perf_counter()
            return await handler(request)  # type: ignore[no-any-return]

        app.middlewares.insert(0, stamp)
        create_link = SandboxProvider.create_link

        async def timed_create_link(provider: SandboxProvider, request: Any) -> Any:
            started = time.perf_counter()
            try:
                return await create_link(provider, request)
            finally:
                watch.provider += time.perf_counter() - started

        SandboxProvider.create_link = timed_create_link  # type: ignore[method-assign]
        handle = GraphRewriteTransport.handle_async_request

        async def timed_handle(transport: GraphRewriteTransport, request: Any) -> Any:
            if watch.armed:
                body = request.content
                for phone in {m for m in body.split(b'"') if m.isdigit()}:
                    watch.graph_call.setdefault(phone.decode(), time.perf_counter())
            return await handle(transport, request)

        GraphRewriteTransport.handle_async_request = timed_handle  # type: ignore[method-assign]


async def confirmation_latency(
    bench: Bench, count: int, watch: Stopwatch
) -> tuple[list[float], list[float], list[int], list[int]]:
    to = await customers_in_window(bench, count, "3363")
    latencies = []
    own: list[float] = []
    counter = SqlCounter(bench.app[engine_key])
    statements: list[int] = []
    commits: list[int] = []
    for _, phone in to:
        order = await order_service.create_order(
            bench.uow, None, f"+{phone}", "150", "", True, datetime.now(UTC)
        )
        seen = bench.last_seq()
        await bench.post(payloads.text_message(SANDBOX_PHONE_ID, ADMIN, f"payé {order.number}"))
        choice = await bench.next_to(ADMIN, seen)
        deposit = next(b for b in choice.buttons if b.title == "Acompte")
        await bench.post(
            payloads.button_reply(
                SANDBOX_PHONE_ID, ADMIN, deposit.id, deposit.title, context_wamid=choice.wamid
            )
        )
        menu = await bench.next_to(ADMIN, choice.seq)
        row = menu.buttons[0]
        await bench.post(
            payloads.list_reply(SANDBOX_PHONE_ID, ADMIN, row.id, row.title, context_wamid=menu.wamid)
        )
        confirmation = await bench.next_to(ADMIN, menu.seq)
        confirm = confirmation.buttons[0]
        await asyncio.sleep(0.05)  # what the previous step left running (statuses, the sender) is done
        before = (counter.statements, counter.commits)
        watch.arm()
        started = time.perf_counter()
        await bench.post(
            payloads.button_reply(
                SANDBOX_PHONE_ID, ADMIN, confirm.id, confirm.title, context_wamid=confirmation.wamid
            )
        )
        await bench.next_to(phone, confirmation.seq)
        latencies.append((time.perf_counter() - started) * 1000)
        watch.armed = False
        own.append(watch.our_time(phone))
        statements.append(counter.statements - before[0])
        commits.append(counter.commits - before[1])
        await bench.next_to(ADMIN, confirmation.seq)  # the vendor's "sent" note, before the next round
    return latencies, own, statements, commits


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(admin_url: str, args: argparse.Namespace) -> None:
    name = f"bot_bench_out_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = load_settings(
        env_file=None,
        database_url=url,
        public_base_url=base,
        vendor_name="Bench",
        vendor_admin_phones=f"+{ADMIN}",
    )
    try:
        parts = (("pace", 6.0), ("confirm", 0.001)) if args.messages else (("confirm", 0.001),)
        for part, pair_interval in parts:
            app = create_app(settings, pair_interval=pair_interval, sandbox_settle_delay=0.05)
            watch = Stopwatch()
            watch.install(app)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            async with aiohttp.ClientSession() as http:
                bench = Bench(app, base, http)
                bench.graph.auto_statuses = ()
                if part == "pace":
                    rate, busiest = await outbox_pace(bench, args.messages)
                    limit = settings.whatsapp_messages_per_second
                    print(
                        f"outbox: {args.messages} messages, {rate:.1f} sends/s, "
                        f"busiest second {busiest} (limit {limit:g}/s)"
                    )
                    span, worst = await pair_pace(bench, args.pair_messages)
                    print(
                        f"pair: {args.pair_messages} messages to one customer over {span:.1f} s; most in any "
                        f"window beyond one per {PAIR_INTERVAL:g} s: {worst:.2f} (allowed burst {PAIR_BURST})"
                    )
                else:
                    latencies, own, statements, commits = await confirmation_latency(
                        bench, args.confirmations, watch
                    )
                    for what, values in (
                        ("end to end: post -> customer message at the fake Graph API", latencies),
                        ("our own time: our route -> Graph API call, provider excluded", own),
                    ):
                        print(
                            f"confirmation, {what} ({len(values)} runs): "
                            f"p50 {percentile(values, 0.5):.1f} ms, p90 {percentile(values, 0.9):.1f} ms, "
                            f"p99 {percentile(values, 0.99):.1f} ms"
                        )
                    print(
                        "statements on the app's engine from the click to the send (median, max): "
                        f"{percentile(statements, 0.5)}, {max(statements)}; commits: "
                        f"{percentile(commits, 0.5)}, {max(commits)} (the inbox insert, on its own asyncpg "
                        "connection, adds 1 statement and 1 commit)"
                    )
            await runner.cleanup()
    finally:
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--messages", type=int, default=2400)
    parser.add_argument("--pair-messages", type=int, default=15)
    parser.add_argument("--confirmations", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
