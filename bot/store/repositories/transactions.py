from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, bindparam, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.domain.money import Money
from bot.domain.transaction import OPEN_STATUSES, PaymentTransaction, TransactionStatus, TransactionType
from bot.store.tables import commandes, outbox_messages, payment_links, payment_transactions, phone_links

# The customer's message that carries a request's link (its outbox kind).
REQUEST_MESSAGE_KINDS = ("payment_request", "guarantee_request")


@dataclass(frozen=True, slots=True)
class PaymentLinkRecord:
    id: uuid.UUID
    provider: str
    provider_link_id: str
    url: str
    amount: Decimal
    currency: str
    active: bool
    created_at: datetime


def _to_transaction(row: Row[Any]) -> PaymentTransaction:
    m = row._mapping
    return PaymentTransaction(
        id=m["id"],
        commande_id=m["commande_id"],
        vendor_id=m["vendor_id"],
        amount=Money(m["montant"], m["devise"]),
        type=TransactionType(m["type"]),
        label=m["label"],
        status=TransactionStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        payment_method=m["payment_method"],
        payment_link_id=m["payment_link_id"],
        provider=m["provider"],
        provider_reference=m["provider_reference"],
        is_guarantee=m["is_guarantee"],
        paid_at=m["paid_at"],
        user_id=m["user_id"],
        refunded=Money(m["refunded_amount"], m["devise"]) if m["refunded_amount"] else None,
        held=_money(m["held_amount"], m["devise"]),
        captured=_money(m["captured_amount"], m["devise"]),
        hold_lapses_at=m["hold_lapses_at"],
        release_at=m["release_at"],
        lapse_warned_at=m["lapse_warned_at"],
        card_on_file=m["card_on_file"],
        guarantee_id=m["guarantee_id"],
        card_token_id=m["card_token_id"],
    )


def _money(amount: Decimal | None, currency: str) -> Money | None:
    return None if amount is None else Money(amount, currency)


def _values(t: PaymentTransaction) -> dict[str, Any]:
    return {
        "montant": t.amount.amount,
        "devise": t.amount.currency,
        "type": t.type.value,
        "label": t.label,
        "payment_method": t.payment_method,
        "payment_link_id": t.payment_link_id,
        "status": t.status.value,
        "paid_at": t.paid_at,
        "updated_at": t.updated_at,
        "provider": t.provider,
        "provider_reference": t.provider_reference,
        "is_guarantee": t.is_guarantee,
        "user_id": t.user_id,
        "refunded_amount": t.refunded_total.amount,
        "held_amount": None if t.held is None else t.held.amount,
        "captured_amount": None if t.captured is None else t.captured.amount,
        "hold_lapses_at": t.hold_lapses_at,
        "release_at": t.release_at,
        "lapse_warned_at": t.lapse_warned_at,
        "card_on_file": t.card_on_file,
        "guarantee_id": t.guarantee_id,
        "card_token_id": t.card_token_id,
    }


_INSERT = insert(payment_transactions)
_ATTACH_LINK = (
    update(payment_transactions)
    .where(
        payment_transactions.c.id == bindparam("transaction_id"),
        payment_transactions.c.payment_link_id.is_(None),
    )
    .values(payment_link_id=bindparam("link_id"), updated_at=bindparam("now"))
    .returning(payment_transactions)
)


class TransactionRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, transaction: PaymentTransaction) -> None:
        # Values as parameters, not .values(): the statement is compiled once for every request.
        row = {
            "id": transaction.id,
            "commande_id": transaction.commande_id,
            "vendor_id": transaction.vendor_id,
            "created_at": transaction.created_at,
            **_values(transaction),
        }
        await self._conn.execute(_INSERT, row)

    async def update(self, transaction: PaymentTransaction) -> None:
        await self._conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.id == transaction.id)
            .values(**_values(transaction))
        )

    async def attach_link(
        self, transaction_id: uuid.UUID, link_id: uuid.UUID, now: datetime
    ) -> PaymentTransaction | None:
        """Gives the request its link, once: the request as it now is, or None when it had a link
        already (a recovery or a retry got there first). Read and written in one statement."""
        result = await self._conn.execute(
            _ATTACH_LINK, {"transaction_id": transaction_id, "link_id": link_id, "now": now}
        )
        row = result.first()
        return None if row is None else _to_transaction(row)

    async def set_failure_reason(self, transaction_id: uuid.UUID, reason: str) -> None:
        await self._conn.execute(
            update(payment_transactions)
            .where(payment_transactions.c.id == transaction_id)
            .values(failure_reason=reason[:2000])
        )

    async def get_many(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, PaymentTransaction]:
        if not ids:
            return {}
        rows = await self._conn.execute(
            select(payment_transactions).where(payment_transactions.c.id.in_(ids))
        )
        return {row.id: _to_transaction(row) for row in rows}

    async def get(self, transaction_id: uuid.UUID) -> PaymentTransaction | None:
        query = select(payment_transactions).where(payment_transactions.c.id == transaction_id)
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_transaction(row)

    async def for_order(self, order_id: uuid.UUID) -> list[PaymentTransaction]:
        query = (
            select(payment_transactions)
            .where(payment_transactions.c.commande_id == order_id)
            .order_by(payment_transactions.c.created_at, payment_transactions.c.id)
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def by_link(self, provider: str, provider_link_id: str) -> PaymentTransaction | None:
        query = (
            select(payment_transactions)
            .join(payment_links, payment_links.c.id == payment_transactions.c.payment_link_id)
            .where(payment_links.c.provider == provider, payment_links.c.provider_link_id == provider_link_id)
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_transaction(row)

    async def by_reference(self, provider: str, reference: str) -> PaymentTransaction | None:
        query = select(payment_transactions).where(
            payment_transactions.c.provider == provider,
            payment_transactions.c.provider_reference == reference,
        )
        row = (await self._conn.execute(query)).first()
        return None if row is None else _to_transaction(row)

    async def awaiting_link(self, created_before: datetime, limit: int = 100) -> list[PaymentTransaction]:
        """Requests a crash left between their commit and their link."""
        query = (
            select(payment_transactions)
            .where(
                payment_transactions.c.status == TransactionStatus.PENDING.value,
                payment_transactions.c.payment_link_id.is_(None),
                payment_transactions.c.provider.is_not(None),
                payment_transactions.c.created_at <= created_before,
                # Charges with no link (a saved card, a capture) and phone payments, whose page is made
                # when the vendor opens it, are not requests a crash interrupted.
                payment_transactions.c.card_token_id.is_(None),
                payment_transactions.c.guarantee_id.is_(None),
                ~exists().where(phone_links.c.transaction_id == payment_transactions.c.id),
            )
            .order_by(payment_transactions.c.created_at)
            .limit(limit)
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def linked_without_message(
        self, created_before: datetime, limit: int = 100
    ) -> list[PaymentTransaction]:
        """Open requests whose link is recorded but whose customer message was never queued."""
        t = payment_transactions
        query = (
            select(t)
            .join(payment_links, payment_links.c.id == t.c.payment_link_id)
            .where(
                t.c.status == TransactionStatus.PENDING.value,
                t.c.created_at <= created_before,
                payment_links.c.active.is_(True),
                # A phone payment's link is given to the vendor, a charge has none: no message to the
                # customer is owed for them.
                t.c.card_token_id.is_(None),
                t.c.guarantee_id.is_(None),
                ~exists().where(phone_links.c.transaction_id == t.c.id),
                ~exists().where(
                    outbox_messages.c.transaction_id == t.c.id,
                    outbox_messages.c.kind.in_(REQUEST_MESSAGE_KINDS),
                ),
            )
            .order_by(t.c.created_at)
            .limit(limit)
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def open_for_customer(
        self, vendor_id: uuid.UUID, customer_id: uuid.UUID
    ) -> list[PaymentTransaction]:
        """The customer's requests still waiting for money, oldest first."""
        query = (
            select(payment_transactions)
            .join(commandes, commandes.c.id == payment_transactions.c.commande_id)
            .where(
                commandes.c.vendor_id == vendor_id,
                commandes.c.customer_id == customer_id,
                payment_transactions.c.status.in_([s.value for s in OPEN_STATUSES]),
            )
            .order_by(payment_transactions.c.created_at)
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def guarantees_to_watch(self, limit: int = 200) -> list[PaymentTransaction]:
        """Guarantees held, or asked and not yet held: the guarantee job looks at each (release dates,
        lapse warnings, orders done or paid by other means, holds whose webhook never came)."""
        query = (
            select(payment_transactions)
            .where(
                payment_transactions.c.is_guarantee.is_(True),
                payment_transactions.c.status.in_(
                    [TransactionStatus.HELD.value, *(s.value for s in OPEN_STATUSES)]
                ),
            )
            .order_by(payment_transactions.c.created_at)
            .limit(limit)
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def unanswered_charges(
        self, created_before: datetime, limit: int = 100
    ) -> list[PaymentTransaction]:
        """Saved-card charges and captures still pending: the provider gave no answer (or a crash came
        between the call and its record). Looked up at the provider, never charged again blindly."""
        query = (
            select(payment_transactions)
            .where(
                payment_transactions.c.status == TransactionStatus.PENDING.value,
                payment_transactions.c.payment_link_id.is_(None),
                (payment_transactions.c.card_token_id.is_not(None))
                | (payment_transactions.c.guarantee_id.is_not(None)),
                payment_transactions.c.created_at <= created_before,
            )
            .order_by(payment_transactions.c.created_at)
            .limit(limit)
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def stale_phone_payments(
        self, given_before: datetime, limit: int = 100
    ) -> list[PaymentTransaction]:
        """Phone payments still open whose one-time link was given before ``given_before``."""
        query = (
            select(payment_transactions)
            .join(phone_links, phone_links.c.transaction_id == payment_transactions.c.id)
            .where(
                payment_transactions.c.status.in_([s.value for s in OPEN_STATUSES]),
                phone_links.c.created_at <= given_before,
            )
            .limit(limit)
        )
        return [_to_transaction(row) for row in await self._conn.execute(query)]

    async def customer_references(
        self, vendor_id: uuid.UUID, customer_id: uuid.UUID, provider: str, besides: uuid.UUID
    ) -> frozenset[str]:
        """The provider references the customer's other payments already have (what a lookup of a charge
        by sum and day must never take for it)."""
        query = (
            select(payment_transactions.c.provider_reference)
            .join(commandes, commandes.c.id == payment_transactions.c.commande_id)
            .where(
                commandes.c.vendor_id == vendor_id,
                commandes.c.customer_id == customer_id,
                payment_transactions.c.provider == provider,
                payment_transactions.c.provider_reference.is_not(None),
                payment_transactions.c.id != besides,
            )
        )
        return frozenset(str(reference) for reference in (await self._conn.execute(query)).scalars())

    async def links(self, link_ids: list[uuid.UUID]) -> dict[uuid.UUID, PaymentLinkRecord]:
        if not link_ids:
            return {}
        query = select(payment_links).where(payment_links.c.id.in_(link_ids))
        return {
            row.id: PaymentLinkRecord(
                id=row.id,
                provider=row.provider,
                provider_link_id=row.provider_link_id,
                url=row.url,
                amount=row.amount,
                currency=row.currency,
                active=row.active,
                created_at=row.created_at,
            )
            for row in await self._conn.execute(query)
        }
