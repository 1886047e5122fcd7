"""A seeded month of payments for the report tests: rows written straight to the tables, so that each
payment's day, method, provider and currency is exactly the one the test reads back.

The vendor is in Europe/Paris (UTC+1 in November 2026). November holds, in EUR: cash 50 (then a cash
10 refunded the next day), a card link 100 (30 refunded; a refund of 15 that failed), a card link 20 paid
on 31 October at 23:30 UTC (1 November in Paris), a saved card 40, a guarantee held 200 of which 60 was
captured (the capture is the payment; the guarantee never counts), an open request of 25; a refund of 5
on a card link paid in October; and a card link of 70 USD. A card link of 80 EUR paid on 30 November at
23:30 UTC is December's in Paris.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.domain.vendor import Vendor
from bot.services import vendors as vendor_service
from bot.store.database import create_engine
from bot.store.tables import card_tokens, commandes, customers, payment_transactions, refunds
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW

DANA = "+33699887766"
ELOISE = "+33611223344"
NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))


def at(day: int, hour: int = 12, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Seeder:
    uow: UnitOfWorkFactory
    vendor: Vendor
    customers: dict[str, uuid.UUID] = field(default_factory=dict)
    numbers: int = 0

    async def _write(self, table: Any, **values: Any) -> uuid.UUID:
        values.setdefault("id", uuid.uuid4())
        async with self.uow() as uow:
            await uow.connection.execute(insert(table).values(**values))
            await uow.commit()
        return uuid.UUID(str(values["id"]))

    async def customer(self, phone: str, name: str | None = None) -> uuid.UUID:
        if phone not in self.customers:
            self.customers[phone] = await self._write(
                customers, vendor_id=self.vendor.id, phone=phone.lstrip("+"), name=name, created_at=NOW,
                updated_at=NOW,
            )  # fmt: skip
        return self.customers[phone]

    async def order(
        self, phone: str = DANA, currency: str = "EUR", label: str = "Gâteau"
    ) -> tuple[uuid.UUID, int]:
        self.numbers += 1
        customer = await self.customer(phone)
        order_id = await self._write(
            commandes, vendor_id=self.vendor.id, number=self.numbers, customer_id=customer, label=label,
            price=Decimal(500), currency=currency, status="accepted", created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        return order_id, self.numbers

    async def payment(
        self,
        order: uuid.UUID,
        amount: str,
        paid_at: datetime | None,
        *,
        currency: str = "EUR",
        method: str | None = None,
        provider: str | None = "stripe",
        status: str = "paid",
        refunded: str = "0",
        **extra: Any,
    ) -> uuid.UUID:
        return await self._write(
            payment_transactions, commande_id=order, vendor_id=self.vendor.id, montant=Decimal(amount),
            devise=currency, type="acompte", label="Acompte", payment_method=method, status=status,
            paid_at=paid_at, provider=provider, refunded_amount=Decimal(refunded),
            created_at=paid_at or NOW, updated_at=paid_at or NOW, **extra,
        )  # fmt: skip

    async def refund(
        self,
        payment: uuid.UUID,
        amount: str,
        when: datetime,
        status: str = "succeeded",
        currency: str = "EUR",
    ) -> None:
        await self._write(
            refunds, vendor_id=self.vendor.id, transaction_id=payment, amount=Decimal(amount),
            currency=currency, status=status, requested_by="cli", created_at=when, updated_at=when,
        )  # fmt: skip

    async def saved_card(self, phone: str = DANA) -> uuid.UUID:
        return await self._write(
            card_tokens, vendor_id=self.vendor.id, customer_id=await self.customer(phone), provider="stripe",
            token=f"pm_{uuid.uuid4().hex[:12]}", brand="visa", last4="4242", exp_month=12, exp_year=2030,
            consent_at=NOW, consent_source="checkout",
        )  # fmt: skip


async def seed_month(uow: UnitOfWorkFactory, vendor: Vendor) -> Seeder:
    """November 2026 as the module's docstring tells it; order numbers 1 to 9."""
    seed = Seeder(uow, vendor)
    await seed.customer(DANA, "Dana")
    await seed.customer(ELOISE, "Éloïse")
    cash, _ = await seed.order(DANA)  # 1
    await seed.payment(cash, "50", at(2, 10), method="cash_register", provider=None)
    linked, _ = await seed.order(ELOISE)  # 2
    card = await seed.payment(linked, "100", at(5), status="partially_refunded", refunded="30")
    await seed.refund(card, "30", at(10, 9))
    await seed.refund(card, "15", at(11, 9), status="failed")
    early, _ = await seed.order(DANA)  # 3
    await seed.payment(early, "20", at(31, 23, 30, month=10), provider="icount")
    saved, _ = await seed.order(DANA)  # 4
    await seed.payment(saved, "40", at(12), card_token_id=await seed.saved_card())
    held, _ = await seed.order(ELOISE)  # 5
    guarantee = await seed.payment(
        held, "200", at(14), status="captured", is_guarantee=True, held_amount=Decimal(200),
        captured_amount=Decimal(60),
    )  # fmt: skip
    await seed.payment(held, "60", at(15), guarantee_id=guarantee)
    await seed.payment(held, "25", None, status="pending")
    back, _ = await seed.order(DANA)  # 6
    given_back = await seed.payment(
        back, "10", at(3), method="cash_register", provider=None, status="refunded", refunded="10"
    )
    await seed.refund(given_back, "10", at(4), currency="EUR")
    october, _ = await seed.order(ELOISE)  # 7
    old = await seed.payment(october, "30", at(20, month=10), status="partially_refunded", refunded="5")
    await seed.refund(old, "5", at(8))
    dollars, _ = await seed.order(ELOISE, currency="USD")  # 8
    await seed.payment(dollars, "70", at(18), currency="USD")
    late, _ = await seed.order(DANA)  # 9
    await seed.payment(late, "80", at(30, 23, 30))
    return seed


async def seed_month_in(directory: Path) -> None:
    """``seed_month`` for the one vendor of ``directory``'s bot.db (made by ``bot vendor add`` there)."""
    engine = create_engine(f"sqlite:///{directory / 'bot.db'}")
    try:
        uow = UnitOfWorkFactory(engine)
        vendor = (await vendor_service.show_vendor(uow, None)).vendor
        await seed_month(uow, vendor)
    finally:
        await engine.dispose()
