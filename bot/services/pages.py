"""What the customer-facing payment pages show about one request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

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
    # The vendor's time zone: the dates a page shows (when a hold is released) are the vendor's.
    timezone: str = "UTC"
    # A payment page offers "save my card for next time": the vendor has saved_cards on, or the vendor
    # asked for it on a phone payment (the customer agreed on the phone). Kept only when ticked.
    offers_save_card: bool = False
    # A guarantee: how long after it is authorised the hold is released at the latest.
    release_after: timedelta | None = None
    # The customer has an email address: the page after paying does not ask for one.
    customer_has_email: bool = False
    # The customer writes on Instagram: their receipt comes there, not on WhatsApp.
    on_instagram: bool = False

    @property
    def is_open(self) -> bool:
        return self.transaction.is_open and (self.link is None or self.link.active)

    @property
    def is_paid(self) -> bool:
        return self.transaction.received

    @property
    def is_guarantee(self) -> bool:
        """The page authorises a hold on the card: nothing is charged now."""
        return self.transaction.is_guarantee

    @property
    def is_held(self) -> bool:
        return self.transaction.is_held

    @property
    def amount(self) -> str:
        """The amount as the customer reads it (₪ on the right, in Hebrew)."""
        return shown(self.transaction.amount, self.locale)

    @property
    def held_amount(self) -> str | None:
        held = self.transaction.held
        return None if held is None else shown(held, self.locale)

    def release_by(self, now: datetime) -> datetime | None:
        """When the hold is let go at the latest: the moment set when it was authorised, else (still
        to authorise) ``release_after`` from ``now``."""
        if not self.is_guarantee:
            return None
        if self.transaction.release_at is not None:
            return self.transaction.release_at
        return None if self.release_after is None else now + self.release_after


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
        phone_link = await uow.phone_links.for_transaction(transaction.id)
    locale = vendor.locale if customer is None else customer_locale(vendor, customer)
    guarantee = vendor.payment.guarantee
    offers = guarantee.saved_cards or (phone_link is not None and phone_link.save_card)
    provider = transaction.provider or vendor.payment.provider.value
    release_after = guarantee.release_after(provider) if transaction.is_guarantee else None
    return PaymentPage(
        transaction, link, vendor.name, order.reference, order.label, locale,
        timezone=vendor.timezone, offers_save_card=offers, release_after=release_after,
        customer_has_email=customer is not None and bool(customer.email),
        on_instagram=customer is not None and customer.on_instagram,
    )  # fmt: skip


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
