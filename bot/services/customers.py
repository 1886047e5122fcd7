"""Customer use cases: list, show, and what the vendor sets for one (their language, their name)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.customer import Customer, apply_customer_setting
from bot.domain.errors import CustomerNotFound
from bot.domain.phone import normalise_phone
from bot.domain.vendor import CUSTOMER_LOCALES, Vendor
from bot.services.vendors import VendorRef, find_vendor
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
    """The vendor's customer at ``phone`` (any way it is written), or CustomerNotFound."""
    number = normalise_phone(phone)
    customer = await uow.customers.by_phone(vendor.id, number)
    if customer is None:
        raise CustomerNotFound(phone=f"+{number}")
    return customer


async def set_customer(
    uow_factory: UnitOfWorkFactory,
    vendor_reference: VendorRef,
    phone: str,
    pairs: Sequence[tuple[str, str]],
    now: datetime,
) -> Customer:
    """Applies every ``KEY=VALUE`` (``locale``, ``name``) or none; a customer not known yet is made, so a
    vendor can set the language before the first order."""
    number = normalise_phone(phone)
    async with uow_factory() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        customer = await uow.customers.get_or_create(vendor.id, number, now)
        for key, value in pairs:
            apply_customer_setting(customer, key, value, CUSTOMER_LOCALES)
        await uow.customers.update_profile(customer, now)
        await uow.commit()
    return customer
