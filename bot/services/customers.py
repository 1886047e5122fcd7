"""Customer use cases: list, show, and what the vendor sets for one (their language, name, email). A
change syncs to the provider's clients through ``customer_sync``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.domain.channel import INSTAGRAM_PREFIX, instagram_reference, is_instagram_reference
from bot.domain.customer import Customer, apply_customer_setting
from bot.domain.errors import AmbiguousCustomer, CustomerNotFound, CustomerPhoneTaken
from bot.domain.phone import normalise_phone
from bot.domain.vendor import CUSTOMER_LOCALES, Vendor
from bot.services.vendors import VendorRef, find_vendor
from bot.store.repositories.customers import CustomerRow
from bot.store.uow import UnitOfWork, UnitOfWorkFactory


async def list_customers(uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef) -> list[Customer]:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        return await uow.customers.for_vendor(vendor.id)


async def show_customer(uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, phone: str) -> Customer:
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        return await customer_by_phone(uow, vendor, phone)


async def customer_by_phone(uow: UnitOfWork, vendor: Vendor, phone: str) -> Customer:
    """The vendor's customer at ``phone`` (any way it is written), or on Instagram as ``ig:name`` (see
    ``instagram_customer``), or CustomerNotFound."""
    if is_instagram_reference(phone):
        return await instagram_customer(uow, vendor, phone)
    number = normalise_phone(phone)
    customer = await uow.customers.by_phone(vendor.id, number)
    if customer is None:
        raise CustomerNotFound(phone=f"+{number}")
    return customer


async def instagram_customer(uow: UnitOfWork, vendor: Vendor, reference: str) -> Customer:
    """``ig:dana.cakes`` or ``ig:123456``: the Instagram customer with that username, or whose id ends so
    (as the forwarded note shows it). They must have written first: an Instagram conversation is opened
    by the customer. CustomerNotFound, or AmbiguousCustomer when the end of an id fits several."""
    name = instagram_reference(reference)
    found = await uow.customers.on_instagram_named(vendor.id, name)
    exact = [c for c in found if (c.handle or "").lower() == name or c.address == name]
    if len(exact) == 1:
        return exact[0]
    if not found:
        raise CustomerNotFound(phone=INSTAGRAM_PREFIX + name)
    if len(found) > 1:
        matches = ", ".join(c.contact for c in found)
        raise AmbiguousCustomer(reference=INSTAGRAM_PREFIX + name, matches=matches)
    return found[0]


async def customer_for(uow: UnitOfWork, vendor: Vendor, reference: str, now: datetime) -> Customer:
    """The customer a vendor's command names: a phone (made if new, as before) or ``ig:name`` (who must
    have written on Instagram already)."""
    if is_instagram_reference(reference):
        return await instagram_customer(uow, vendor, reference)
    return await uow.customers.get_or_create(vendor.id, normalise_phone(reference), now)


async def check_phone_free(uow: UnitOfWork, customer: Customer, before: str | None) -> None:
    """An Instagram customer given a WhatsApp number another customer of the vendor already has is
    refused: one number, one customer."""
    if customer.phone is None or customer.phone == before:
        return
    other = await uow.customers.by_phone(customer.vendor_id, customer.phone)
    if other is not None and other.id != customer.id:
        raise CustomerPhoneTaken(phone=f"+{customer.phone}", customer=customer.contact)


async def set_customer(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    phone: str,
    pairs: Sequence[tuple[str, str]],
    now: datetime,
) -> Customer:
    """Applies every ``KEY=VALUE`` (``locale``, ``name``, ``email``) or none; a customer not known yet is
    made, so a vendor can set the language before the first order."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        customer = await customer_for(uow, vendor, phone, now)
        before = customer.profile()
        for key, value in pairs:
            apply_customer_setting(customer, key, value, CUSTOMER_LOCALES)
        await check_phone_free(uow, customer, before[1])
        customer.changed_from(before)
        await uow.customers.update_profile(customer, now)
        await uow.commit()
    return customer


DEFAULT_PER_PAGE = 25


@dataclass(frozen=True, slots=True)
class CustomerPage:
    """A page of the dashboard's customers list (1-based ``page``; ``pages`` at least 1)."""

    rows: tuple[CustomerRow, ...]
    page: int
    pages: int
    total: int
    search: str | None

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def parse_customer_search(search: str | None) -> tuple[str | None, str | None]:
    """``(text, digits)``: a search of only digits (and ``+``, spaces, dashes) is a phone; anything else is
    looked for in names and emails."""
    cleaned = (search or "").strip()
    if not cleaned:
        return None, None
    digits = "".join(c for c in cleaned if c.isdigit())
    if digits and all(c.isdigit() or c in "+-. ()" for c in cleaned):
        return None, digits
    return cleaned, None


async def customers_page(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    *,
    search: str | None = None,
    page: int = 1,
    per_page: int = DEFAULT_PER_PAGE,
) -> CustomerPage:
    """The vendor's customers that match ``search``, with their orders count and last order (two
    statements whatever the page's size)."""
    text, digits = parse_customer_search(search)
    page = max(page, 1)
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        total = await uow.customers.count_matching(vendor.id, text, digits)
        rows = await uow.customers.page(vendor.id, text, digits, per_page, (page - 1) * per_page)
    pages = max(1, -(-total // per_page))
    return CustomerPage(tuple(rows), page, pages, total, (search or "").strip() or None)


async def customer_of_vendor(
    uow_factory: UnitOfWorkFactory, vendor_reference: VendorRef, customer_id: uuid.UUID
) -> Customer | None:
    """The customer with this id if they are the vendor's (another vendor's is None, as an unknown one)."""
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        customer = await uow.customers.get(customer_id)
    return customer if customer is not None and customer.vendor_id == vendor.id else None
