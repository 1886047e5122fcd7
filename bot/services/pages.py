"""What the customer-facing payment pages show about one request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from bot.domain.money import shown
from bot.domain.transaction import PaymentTransaction
from bot.services.messages import customer_locale
from bot.store.repositories.transactions import PaymentLinkRecord
from bot.store.uow import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class PaymentPage:
    transaction: PaymentTransaction
    link: PaymentLinkRecord | None
    vendor_name: str
    order_reference: str
    order_label: str
    locale: str

    @property
    def is_open(self) -> bool:
        return self.transaction.is_open and (self.link is None or self.link.active)

    @property
    def is_paid(self) -> bool:
        return self.transaction.received

    @property
    def amount(self) -> str:
        """The amount as the customer reads it (₪ on the right, in Hebrew)."""
        return shown(self.transaction.amount, self.locale)


async def _page(
    uow_factory: UnitOfWorkFactory, transaction_id: uuid.UUID, link: PaymentLinkRecord | None
) -> PaymentPage | None:
    async with uow_factory() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None:
            return None
        order = await uow.orders.get(transaction.commande_id)
        vendor = await uow.vendors.get(transaction.vendor_id)
        if order is None or vendor is None:  # pragma: no cover
            return None
        customer = await uow.customers.get(order.customer_id)
        if link is None and transaction.payment_link_id is not None:
            link = await uow.links.get(transaction.payment_link_id)
    locale = vendor.locale if customer is None else customer_locale(vendor, customer)
    return PaymentPage(transaction, link, vendor.name, order.reference, order.label, locale)


async def page_for_transaction(
    uow_factory: UnitOfWorkFactory, transaction_id: uuid.UUID
) -> PaymentPage | None:
    return await _page(uow_factory, transaction_id, None)


async def page_for_link(uow_factory: UnitOfWorkFactory, provider: str, link_id: str) -> PaymentPage | None:
    async with uow_factory() as uow:
        link = await uow.links.by_provider_id(provider, link_id)
        transaction = None if link is None else await uow.transactions.by_link(provider, link_id)
    if link is None or transaction is None:
        return None
    return await _page(uow_factory, transaction.id, link)
