"""A confirmed request handed to this process's sender: the customer's WhatsApp pace is taken in the
transaction that writes the link and the message (one commit for all three), and a customer whose pace is
used up gets the message queued as usual, on SQLite and a real Postgres."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select

from bot.domain.deposit import AskKind
from bot.domain.outgoing import OutboxStatus
from bot.domain.vendor import Vendor
from bot.services import payments
from bot.store.repositories.outbox import OutboxRow
from bot.store.tables import outbox_messages, reminders
from bot.store.uow import UnitOfWork, UnitOfWorkFactory
from tests.payment_support import CUSTOMER, deps_for, vendor_with_order


@dataclass
class FakeSender:
    """The sender's side of the hand-over; ``pace`` is what taking the pace answers."""

    pace: float | None
    paced_in: list[tuple[bool, str]] = field(default_factory=list)
    handed: list[tuple[OutboxRow, float | None]] = field(default_factory=list)
    woken: int = 0

    async def send_claimed(self, rows: Sequence[OutboxRow]) -> None:
        self.handed.extend((row, None) for row in rows)

    async def pace_in(self, uow: UnitOfWork, vendor: Vendor, to: str) -> float | None:
        self.paced_in.append((uow.connection.in_transaction(), to))
        return self.pace

    async def send_paced(self, row: OutboxRow, wait: float) -> None:
        self.handed.append((row, wait))

    def wake(self) -> None:
        self.woken += 1


async def customer_messages(uow_factory: UnitOfWorkFactory) -> list[tuple[int, str]]:
    async with uow_factory() as uow:
        rows = await uow.connection.execute(
            select(outbox_messages.c.id, outbox_messages.c.status).where(
                outbox_messages.c.to_phone == CUSTOMER
            )
        )
        return [(int(row.id), str(row.status)) for row in rows]


async def reminder_count(uow_factory: UnitOfWorkFactory) -> int:
    async with uow_factory() as uow:
        return int((await uow.connection.execute(select(func.count()).select_from(reminders))).scalar_one())


async def test_a_handed_request_takes_its_pace_with_the_message_and_goes_to_the_sender_paced(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    sender = FakeSender(pace=0.25)
    await payments.request_payment(
        deps_for(uow_factory), None, number, AskKind.DEPOSIT, "30%", send_claimed=sender
    )
    assert sender.paced_in == [(True, CUSTOMER)]  # inside the transaction that writes the message
    [(message_id, status)] = await customer_messages(uow_factory)
    assert status == OutboxStatus.SENDING.value  # written claimed: the sender needs no claim of its own
    [(row, wait)] = sender.handed
    assert (row.id, row.status, row.to_phone, wait) == (message_id, OutboxStatus.SENDING, CUSTOMER, 0.25)
    # As the sender would read it: with the customer's window, so it needs no read of its own.
    async with uow_factory() as uow:
        assert row == await uow.outbox.get_for_sending(message_id)
    assert sender.woken == 0
    assert await reminder_count(uow_factory) > 0


async def test_a_customer_whose_pace_is_used_up_gets_the_request_queued_as_usual(
    uow_factory: UnitOfWorkFactory,
) -> None:
    number = await vendor_with_order(uow_factory)
    sender = FakeSender(pace=None)
    await payments.request_payment(
        deps_for(uow_factory), None, number, AskKind.DEPOSIT, "30%", send_claimed=sender
    )
    [(_message_id, status)] = await customer_messages(uow_factory)
    assert status == OutboxStatus.PENDING.value  # the sender's pass takes it when the pace allows
    assert sender.handed == []
    assert sender.woken == 1
    assert await reminder_count(uow_factory) > 0
