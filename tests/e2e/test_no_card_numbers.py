"""Card numbers and security codes never enter the system (DESIGN.md §3): after customers and a vendor
type cards in chat, and guarantees and saved cards go through their whole life, no table and no log line
holds a card number or a security code."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.domain.cards import looks_like_card
from bot.domain.deposit import AskKind
from bot.domain.money import Money
from bot.payments.port import PaymentEvent, PaymentEventKind, SavedCard
from bot.payments.sandbox.consts import CARD_TOKEN
from bot.services import guarantees, orders as order_service, payments, saved_cards, vendors as vendor_service
from bot.services.events import apply_event
from bot.store.tables import metadata
from bot.web.keys import payments_key, uow_key
from tests.whatsapp_support import ADMIN, CUSTOMER, RunningBot, start_bot

TYPED = (
    "ma carte 4242 4242 4242 4242 exp 12/28 cvv 831",
    "card: 5555-5555-5555-4444, expiry 11/27, security code 9137",
    "3782 822463 10005 cvc 4417",
)
CODES = ("831", "9137", "4417")
_DIGIT_RUN = re.compile(r"\d(?:[\s.\-/]{0,2}\d){12,18}")


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path):
        yield running


def card_numbers_in(text: str) -> list[str]:
    found = []
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        spans = [(s, e) for s in range(len(digits)) for e in range(s + 13, min(len(digits), s + 19) + 1)]
        found.extend(digits[s:e] for s, e in spans if looks_like_card(digits[s:e]))
    return found


def codes_in(text: str) -> list[str]:
    return [code for code in CODES if re.search(rf"(?i)(cv[cv]|code)\W{{0,12}}{code}(?!\d)", text)]


async def everything_stored(bot: RunningBot) -> str:
    parts: list[str] = []
    async with bot.app[uow_key]() as uow:
        for table in metadata.sorted_tables:
            rows = await uow.connection.execute(select(table))
            parts.extend(" | ".join(str(value) for value in row) for row in rows)
    return "\n".join(parts)


async def test_no_table_and_no_log_line_holds_a_card_number_or_a_security_code(
    bot: RunningBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    deps = bot.app[payments_key]
    await vendor_service.change_settings(
        deps.uow, None, [("guarantee_mode", "optional"), ("saved_cards", "on")], None, deps.clock()
    )
    for text in TYPED:
        await bot.says(CUSTOMER, text)
        await bot.next_to(CUSTOMER)
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 carte 4111 1111 1111 1111 cvv 831")
    await bot.settle()
    order = await order_service.create_order(
        deps.uow, None, f"+{CUSTOMER}", "150", "Salle", True, deps.clock()
    )
    asked = await guarantees.request_guarantee(deps, None, order.number, "50")
    card = SavedCard(f"{CARD_TOKEN}{uuid.uuid4().hex[:8]}", "visa", "4242", 12, 2030)
    held = PaymentEvent(
        provider="sandbox", event_id="evt_hold", kind=PaymentEventKind.HELD, occurred_at=deps.clock(),
        transaction_id=asked.transaction.id, reference="sbx_hold", amount=asked.transaction.amount,
        saved_card=card,
    )  # fmt: skip
    await apply_event(deps, held)
    await guarantees.capture_guarantee(deps, None, order.number, "20")
    deposit = await payments.request_payment(deps, None, order.number, AskKind.DEPOSIT, "30")
    paid = PaymentEvent(
        provider="sandbox", event_id="evt_paid", kind=PaymentEventKind.PAID, occurred_at=deps.clock(),
        transaction_id=deposit.transaction.id, reference="sbx_pay", amount=Money(Decimal(30), "EUR"),
        method="card", saved_card=card,
    )  # fmt: skip
    await apply_event(deps, paid)
    await saved_cards.charge_saved_card(deps, None, order.number, AskKind.BALANCE)
    await saved_cards.forget_cards(deps, None, f"+{CUSTOMER}")
    await bot.settle()

    stored = await everything_stored(bot)
    assert "[card number removed]" in stored, "the typed cards were stored, redacted"
    assert card_numbers_in(stored) == []
    assert codes_in(stored) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert card_numbers_in(logged) == []
    assert codes_in(logged) == []
    sent = "\n".join(message.text for message in bot.graph.sent)
    assert card_numbers_in(sent) == [] and codes_in(sent) == []
