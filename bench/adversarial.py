"""A repeat of issue 19's adversarial run, by hand (not in the suite): `bot serve` on Postgres, its WhatsApp
number pointed at a fake Graph API on a local port.

    .venv/bin/python -m bench.adversarial [--bad 4000] [--flows 200]

(a) bad requests of the issue's kinds: status codes, 5xx, 503s, tracebacks in the server's log, events left
    waiting; (b) a poison event (a 306-character id) sent with 6 healthy webhooks, 10 times: healthy ones
    not acknowledged; (c) payment flows with kill -9 three times and restarts: lost, doubled (counted at the
    fake Graph API); (d) two `bot serve` on one database, a vendor's messages alternating between them:
    stale confirmations, pacing violations to the admin's phones. One summary table at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy import func, update

from bot.handlers import callbacks
from bot.rendering import render
from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.graph import FakeGraphAPI
from bot.services import orders as order_service, vendors as vendor_service
from bot.store import migrate
from bot.store.database import create_engine
from bot.store.tables import vendor_admins
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, create_postgres_database, drop_postgres_database
from tests.e2e.reliability.serve_support import (
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
from tests.e2e.reliability.support import Received, graph_on_a_port
from tests.e2e.reliability.test_kill_serve import (
    Stream,
    counted,
    drained,
    graph_reports_to,
    lost_and_doubled,
    vendors_with_orders,
)
from tests.e2e.reliability.test_two_senders import pair_violations

PACE = 6.0  # WhatsApp: one message per 6 s per user after a burst of 10
BURST = 10
LONG_ID = "wamid." + "A" * 300


def bad_requests(count: int, rng: random.Random) -> list[tuple[str, bytes, dict[str, str]]]:
    """(kind, body, headers) of the issue's kinds, ``count`` in all (a few of the huge ones)."""
    customer = "33699887766"

    def healthy() -> dict[str, Any]:
        return payloads.text_message(PHONE_ID, customer, "Bonjour", wamid=wamid())

    def nested(depth: int) -> bytes:
        opener, closer = rng.choice([(b'{"a":', b"}"), (b"[", b"]")])
        return (
            b'{"object":"whatsapp_business_account","entry":' + opener * depth + b"1" + closer * depth + b"}"
        )

    makers: dict[str, Any] = {
        "unsigned": lambda: (payloads.encode(healthy()), {"Content-Type": "application/json"}),
        "wrongly signed": lambda: signed(healthy(), "not-the-secret"),
        "truncated": lambda: _signed_bytes(payloads.encode(healthy())[: rng.randint(1, 200)]),
        "non-UTF-8": lambda: _signed_bytes(
            payloads.encode(healthy()).replace(b"Bonjour", b"Bon\xff\xfejour")
        ),
        "deeply nested": lambda: _signed_bytes(nested(rng.randint(200, 50000))),
        "signed garbage JSON": lambda: _signed_bytes(json.dumps(_garbage(rng)).encode()),
        "messages: 5": lambda: signed(
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": 5}}]}]}
        ),
        "NUL escape": lambda: _signed_bytes(
            payloads.encode(healthy()).replace(b"Bonjour", b"Bon\\u0000jour")
        ),
        "306-char id": lambda: signed(payloads.text_message(PHONE_ID, customer, "Bonjour", wamid=LONG_ID)),
    }
    made = [(kind, *makers[kind]()) for _ in range(count // len(makers)) for kind in makers]
    for size in (5, 50):  # MB
        body = b'{"object":"whatsapp_business_account","entry":[' + b" " * (size * 1024 * 1024) + b"]}"
        made += [(f"{size} MB", *_signed_bytes(body)) for _ in range(5)]
    rng.shuffle(made)
    return made


def _signed_bytes(body: bytes) -> tuple[bytes, dict[str, str]]:
    return body, {"X-Hub-Signature-256": payloads.sign(body, "secret"), "Content-Type": "application/json"}


def _garbage(rng: random.Random) -> Any:
    """Valid JSON of the wrong shapes where the WhatsApp envelope has its fields."""
    odd: list[Any] = [None, 5, -(2**70), 1e308, "x" * 300, [], {}, True, "\ud800"]
    return {
        "object": rng.choice(["whatsapp_business_account", *odd]),
        "entry": rng.choice(
            [odd, [{"changes": rng.choice(odd)}], [{"changes": [{"value": {"messages": [rng.choice(odd)]}}]}]]
        ),
    }


async def part_a(serve: ServeProcess, count: int) -> dict[str, Any]:
    rng = random.Random(1919)
    record: Counter[int] = Counter()
    by_kind: dict[str, Counter[int]] = {}
    sem = asyncio.Semaphore(16)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:

        async def one(kind: str, body: bytes, headers: dict[str, str]) -> None:
            async with sem:
                try:
                    async with http.post(f"{serve.base}/webhooks/whatsapp", data=body, headers=headers) as r:
                        await r.read()
                        status = r.status
                except aiohttp.ClientError:
                    status = 0  # the connection closed on us (a huge body refused early)
                record[status] += 1
                by_kind.setdefault(kind, Counter())[status] += 1

        requests = bad_requests(count, rng)
        await asyncio.gather(*(one(*r) for r in requests))
    await asyncio.sleep(3.0)  # what was stored is processed (or rejected) now
    connection = await asyncpg.connect(serve.database)
    try:
        waiting = await connection.fetchval(
            "SELECT count(*) FROM inbound_events WHERE processed_at IS NULL AND rejected_at IS NULL"
        )
    finally:
        await connection.close()
    for kind, statuses in sorted(by_kind.items()):
        print(f"  (a) {kind:22} {dict(sorted(statuses.items()))}")
    return {
        "requests": len(requests), "statuses": dict(sorted(record.items())),
        "5xx": sum(n for s, n in record.items() if s >= 500), "503": record[503],
        "tracebacks": serve.output().count("Traceback"), "waiting": int(waiting),
    }  # fmt: skip


async def part_b(serve: ServeProcess) -> dict[str, Any]:
    failed = 0
    poison_statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession() as http:
        for trial in range(10):

            async def post(payload: dict[str, Any]) -> int:
                body, headers = signed(payload)
                async with http.post(f"{serve.base}/webhooks/whatsapp", data=body, headers=headers) as r:
                    return r.status

            poison = payloads.text_message(PHONE_ID, "33699887766", "poison", wamid=LONG_ID + str(trial))
            healthy = [
                payloads.text_message(PHONE_ID, f"3369955{trial:02d}{i:02d}", "Bonjour", wamid=wamid())
                for i in range(6)
            ]
            statuses = await asyncio.gather(post(poison), *(post(h) for h in healthy))
            poison_statuses[statuses[0]] += 1
            failed += sum(1 for s in statuses[1:] if s != 200)
    return {"healthy": 60, "healthy failed": failed, "poison statuses": dict(poison_statuses)}


async def part_c(
    tmp: Path, graph: FakeGraphAPI, graph_url: str, received: list[Received], flows: int
) -> dict[str, Any]:
    database = await create_postgres_database("bot_adversarial_c")
    try:
        await _migrate(database)
        numbers = await vendors_with_orders(database, flows)
        serve = ServeProcess(tmp / "c", database, graph_url)
        graph_reports_to(graph, serve)
        await serve.start()
        rng = random.Random(73)
        leftover: Counter[tuple[int, str, str]] = Counter()
        recorded_from_status = 0
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
                stream = Stream(http, serve, received, stagger=0.1)
                running = asyncio.gather(*(stream.flow(i, numbers[i]) for i in range(flows)))
                for _ in range(3):
                    await asyncio.sleep(rng.uniform(2.0, 6.0))
                    serve.kill()
                    left = await left_sending(database)
                    leftover += left
                    await end_inbox_leases(database)
                    await asyncio.sleep(rng.uniform(0.2, 1.0))
                    await serve.start()
                    recorded_from_status += await end_send_leases(database, left, received)
                await asyncio.wait_for(running, timeout=180)
                deadline = time.monotonic() + 60
                while not await drained(database, received, flows) and time.monotonic() < deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.2)
                await asyncio.sleep(1.0)
        finally:
            serve.stop()
            graph.auto_statuses = ()  # the next part's process is not this one
        counts = counted(received, flows)
        lost = sum(lost_and_doubled(c)[0] for c in counts.values())
        doubled = sum(lost_and_doubled(c)[1] for c in counts.values())
        return {
            "flows": flows, "lost": lost, "doubled": doubled, "left sending by kills": sum(leftover.values()),
            "recorded from status": recorded_from_status,
            "statuses": dict(sorted(stream.record.statuses.items())),
            "refused while down": stream.record.refused,
            "tracebacks": serve.output().count("Traceback"),
        }  # fmt: skip
    finally:
        await drop_postgres_database(database)


async def part_d(tmp: Path, graph_url: str, received: list[Received]) -> dict[str, Any]:
    """One vendor, five admin phones, 30 confirmations: each asked on one process, confirmed on the other."""
    admins = [f"3362000{i:04d}" for i in range(5)]
    database = await create_postgres_database("bot_adversarial_d")
    try:
        await _migrate(database)
        engine = create_engine(database)
        uow = UnitOfWorkFactory(engine)
        new = vendor_service.NewVendor(name="Boulangerie", admin_phones=[f"+{a}" for a in admins])
        vendor = (await vendor_service.add_vendor(uow, new, NOW)).vendor
        numbers = [
            (
                await order_service.create_order(uow, vendor, f"+3369977{i:04d}", "150", "Gâteau", True, NOW)
            ).number
            for i in range(30)
        ]
        async with uow() as unit:
            await unit.connection.execute(update(vendor_admins).values(last_inbound_at=func.now()))
            await unit.commit()
        await engine.dispose()
        one = ServeProcess(tmp / "d1", database, graph_url)
        two = ServeProcess(tmp / "d2", database, graph_url)
        await one.start()
        await two.start()
        mark = len(received)
        record = Deliveries()
        try:
            async with aiohttp.ClientSession() as http:

                async def says(serve: ServeProcess, payload: dict[str, Any]) -> None:
                    body, headers = signed(payload)
                    await deliver(http, f"{serve.base}/webhooks/whatsapp", body, headers, record)

                async def confirm(index: int, number: int) -> None:
                    admin = admins[index % len(admins)]
                    first, second = (one, two) if index % 2 == 0 else (two, one)
                    await asyncio.sleep((index // len(admins)) * 0.2)
                    await says(
                        first, payloads.text_message(PHONE_ID, admin, f"acompte {number} 30%", wamid=wamid())
                    )
                    prompt = await _first(received, mark, admin, number)
                    button = next(
                        c.id
                        for c in prompt.buttons
                        if isinstance(callbacks.decode(c.id), callbacks.ConfirmRequest)
                    )
                    tap = payloads.button_reply(
                        PHONE_ID,
                        admin,
                        button,
                        "Confirmer et envoyer",
                        context_wamid=prompt.wamid,
                        wamid=wamid(),
                    )
                    await says(second, tap)

                # One admin's confirmations one after the other (a person taps one at a time).
                async def admin_works(a: int) -> None:
                    for index in range(a, 30, len(admins)):
                        await confirm(index, numbers[index])

                await asyncio.wait_for(asyncio.gather(*(admin_works(a) for a in range(len(admins)))), 600)
                await asyncio.sleep(PACE * 3)  # what is still paced goes out
        finally:
            one.stop()
            two.stop()
        refusal = render("chat/stale_confirmation", "fr", order="#0").split(";")[0]
        to_admins = [r for r in received[mark:] if r.message.to in admins]
        stale = sum(1 for r in to_admins if r.message.text.startswith(refusal))
        connection = await asyncpg.connect(database)
        try:
            requests = await connection.fetchval(
                "SELECT count(*) FROM outbox_messages WHERE kind = 'payment_request'"
            )
        finally:
            await connection.close()
        violations = sum(
            pair_violations([r.at for r in to_admins if r.message.to == a], PACE, burst=BURST, slack=0.15)
            for a in admins
        )
        return {
            "confirmations": 30, "stale": stale, "payment requests": int(requests),
            "admin messages": len(to_admins), "pacing violations": violations,
        }  # fmt: skip
    finally:
        await drop_postgres_database(database)


async def _first(received: list[Received], mark: int, admin: str, number: int) -> Any:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for item in received[mark:]:
            message = item.message
            if message.to == admin and any(
                isinstance(d := callbacks.decode(c.id), callbacks.ConfirmRequest) and d.order == number
                for c in message.buttons
            ):
                return message
        await asyncio.sleep(0.05)
    raise AssertionError(f"no confirmation for #{number}")


async def _migrate(database: str) -> None:
    engine = create_engine(database)
    await migrate.upgrade(engine)
    await engine.dispose()


async def main(bad: int, flows: int, parts: str) -> None:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        async with graph_on_a_port() as (graph, graph_url, received):
            if "a" in parts or "b" in parts:
                database = await create_postgres_database("bot_adversarial_ab")
                try:
                    await _migrate(database)
                    serve = ServeProcess(tmp / "ab", database, graph_url)
                    await serve.start()
                    try:
                        if "a" in parts:
                            results["(a) bad requests"] = await part_a(serve, bad)
                        if "b" in parts:
                            results["(b) poison + healthy"] = await part_b(serve)
                    finally:
                        serve.stop()
                finally:
                    await drop_postgres_database(database)
            if "c" in parts:
                results["(c) kill -9 x3"] = await part_c(tmp, graph, graph_url, received, flows)
            if "d" in parts:
                results["(d) two processes"] = await part_d(tmp, graph_url, received)
    print("\npart                  | figures")
    print("----------------------+--------------------------------------------------------------")
    for name, figures in results.items():
        print(f"{name:21} | " + ", ".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    # The fake Graph API's side of a send cut by a kill -9 is expected: not the server's log.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bad", type=int, default=4000, help="bad requests in part (a)")
    parser.add_argument("--flows", type=int, default=200, help="payment flows in part (c)")
    parser.add_argument("--parts", default="abcd", help="which parts to run (default: abcd)")
    options = parser.parse_args()
    asyncio.run(main(options.bad, options.flows, options.parts))
