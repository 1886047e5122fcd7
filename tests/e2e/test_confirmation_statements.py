"""What a vendor's "Confirmer et envoyer" costs the database, counted with SQLAlchemy's events on the app's
engine (a count, not a time): from the worker's claim of the click to the customer's payment link at the
Graph API, under 15 statements with the pace shared by several sender processes (Postgres's
``send_pacing``: one statement, taken in the transaction that writes the message) and at most 3 commits."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.vendor import Vendor
from bot.sandbox.graph import SentMessage
from bot.services import orders as order_service
from bot.store.repositories.outbox import OutboxRow
from bot.store.uow import UnitOfWork
from bot.web.keys import chat_key, engine_key, jobs_key, processor_key, sender_key, uow_key
from bot.whatsapp.sender import OutboxSender
from tests.whatsapp_support import ADMIN, CUSTOMER, RunningBot, start_bot


@pytest.fixture
async def bot(tmp_path: Path, engine: AsyncEngine, database_url: str) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path, database_url):
        yield running


@dataclass
class Tally:
    statements: int = 0
    commits: int = 0
    pacing_statements: int = 0


class Counter:
    """Statements and commits on the engine; the shared pace's statements apart."""

    def __init__(self, engine: Any) -> None:
        self.tally = Tally()
        event.listen(engine.sync_engine, "before_cursor_execute", self._statement)
        event.listen(engine.sync_engine, "commit", self._commit)
        self._engine = engine

    def close(self) -> None:
        event.remove(self._engine.sync_engine, "before_cursor_execute", self._statement)
        event.remove(self._engine.sync_engine, "commit", self._commit)

    def snapshot(self) -> Tally:
        return Tally(**vars(self.tally))

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            return  # SQLite's BEGIN IMMEDIATE (the store's own, to take the write lock first)
        if "send_pacing" in statement:
            self.tally.pacing_statements += 1
        else:
            self.tally.statements += 1

    def _commit(self, *_args: Any) -> None:
        self.tally.commits += 1


@dataclass
class Recorder:
    """The sender as the handlers see it, keeping what they hand over for the test to pass on."""

    sender: OutboxSender
    on_hand_over: Any
    handed: list[tuple[OutboxRow, float | None]]

    async def send_claimed(self, rows: Sequence[OutboxRow]) -> None:
        self.on_hand_over()
        self.handed.extend((row, None) for row in rows)

    async def pace_in(self, uow: UnitOfWork, vendor: Vendor, to: str) -> float | None:
        return await self.sender.pace_in(uow, vendor, to)

    async def send_paced(self, row: OutboxRow, wait: float) -> None:
        self.on_hand_over()
        self.handed.append((row, wait))

    def wake(self) -> None:
        self.sender.wake()


def minus(after: Tally, before: Tally) -> Tally:
    return Tally(**{name: getattr(after, name) - getattr(before, name) for name in vars(after)})


async def up_to_the_confirmation(bot: RunningBot) -> SentMessage:
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    order = await order_service.create_order(
        bot.app[uow_key], None, f"+{CUSTOMER}", "150", "Gâteau", True, bot.app[chat_key].clock()
    )
    async with bot.app[uow_key]() as uow:  # the customer wrote: their window is open
        customer = await uow.customers.by_phone(order.vendor_id, CUSTOMER)
        assert customer is not None
        await uow.customers.touch(customer.id, bot.app[chat_key].clock(), None)
        await uow.commit()
    await bot.says(ADMIN, f"payé {order.number}")
    choice = await bot.next_to(ADMIN)
    await bot.clicks(ADMIN, next(b.id for b in choice.buttons if b.title == "Acompte"), "Acompte")
    menu = await bot.next_to(ADMIN)
    await bot.picks(ADMIN, menu.buttons[0].id, menu.buttons[0].title)
    confirmation = await bot.next_to(ADMIN)
    assert confirmation.buttons[0].title == "Confirmer et envoyer"
    await bot.settle()
    return confirmation


async def test_a_confirmation_reaches_the_graph_api_in_three_commits_and_under_fifteen_statements(
    bot: RunningBot,
) -> None:
    bot.graph.auto_statuses = ()  # no delivery status arrives in the middle of the count
    confirmation = await up_to_the_confirmation(bot)
    # Nothing runs on its own meanwhile: the worker's batch is run here, the sender is handed the message.
    await bot.app[jobs_key].stop()
    await bot.app[processor_key].stop()
    sender = bot.app[sender_key]
    await sender.stop()
    chat = bot.app[chat_key]
    assert chat.send_claimed is not None
    handed: list[tuple[OutboxRow, float | None]] = []
    at_hand_over: list[Tally] = []
    recorder = Recorder(sender, lambda: at_hand_over.append(counter.snapshot()), handed)
    with warnings.catch_warnings():  # aiohttp frowns on changing a started app; handlers read it anew
        warnings.simplefilter("ignore", DeprecationWarning)
        bot.app[chat_key] = replace(chat, send_claimed=recorder)
    counter = Counter(bot.app[engine_key])
    at_graph: list[Tally] = []
    bot.graph.listen(on_send=lambda m: at_graph.append(counter.snapshot()) if m.to == CUSTOMER else None)
    try:
        await bot.clicks(ADMIN, confirmation.buttons[0].id, "Confirmer et envoyer")
        start = counter.snapshot()
        assert await bot.app[processor_key].run_once() == 1
        # The link, the message and its pace committed, the message handed to the sender.
        ((row, wait),) = handed
        assert wait is not None
        before_send = counter.snapshot()
        await sender.send_paced(row, wait)
        await bot.graph.wait_for(lambda m: m.to == CUSTOMER, timeout=10)
        await sender.drain()
    finally:
        counter.close()
    # The worker's claim, who wrote, the step taken with the request recorded, then the link, the
    # message and, on Postgres, the recipient's and the number's pace in one statement: three commits.
    # The vendor's note and the processed mark come after, off the path. (SQLite claims the inbox in
    # three statements, having no UPDATE ... RETURNING under SKIP LOCKED; its pace is in memory.)
    postgres = bot.app[engine_key].dialect.name == "postgresql"
    handler = minus(at_hand_over[0], start)
    assert (handler.statements, handler.commits) == (12 if postgres else 14, 3), handler
    assert handler.pacing_statements == (1 if postgres else 0), handler
    # The sender has the message in hand: no read, no claim and no pace of its own, no commit.
    send = minus(at_graph[0], before_send)
    assert (send.statements, send.pacing_statements, send.commits) == (0, 0, 0), send
    assert handler.commits + send.commits <= 3
    if postgres:  # the vendor's note and the processed mark, which the worker writes meanwhile, aside
        assert handler.statements + handler.pacing_statements + send.statements < 15
