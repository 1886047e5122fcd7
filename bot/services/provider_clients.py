"""Customers known at the provider: iCount wants a client (``client/create``) before the first link,
and its id (``customers.provider_client_id``) on the documents issued for the customer."""

from __future__ import annotations

import logging
import uuid

from bot.domain.vendor import ProviderName
from bot.payments.icount.provider import IcountProvider
from bot.payments.port import PaymentProvider, ProviderError
from bot.services.context import PaymentDeps, with_retries
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)


async def icount_for(deps: PaymentDeps, uow: UnitOfWork, vendor_id: uuid.UUID) -> IcountProvider | None:
    """The vendor's iCount provider, or None when the vendor uses another one."""
    vendor = await uow.vendors.get(vendor_id)
    if vendor is None or vendor.payment.provider is not ProviderName.ICOUNT:
        return None
    provider = deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
    return provider if isinstance(provider, IcountProvider) else None


async def ensure_provider_client(
    deps: PaymentDeps, provider: PaymentProvider, customer_id: uuid.UUID
) -> str | None:
    """The customer's client id at ``provider``, created (and stored) if they have none yet. None for
    providers without clients, or when the provider cannot be reached now: the link does not need it,
    and the invoice pass asks again."""
    if not isinstance(provider, IcountProvider):
        return None
    async with deps.uow() as uow:
        customer = await uow.customers.get(customer_id)
    if customer is None:  # pragma: no cover - a foreign key guarantees it
        return None
    if customer.provider_client_id:
        return customer.provider_client_id
    phone = f"+{customer.phone}"
    try:
        client_id = await with_retries(
            lambda: provider.ensure_client(str(customer.id), customer.name or phone, phone), deps.retry_delay
        )
    except ProviderError as error:
        log.warning("no iCount client for customer %s yet: %s", customer.id, error)
        return None
    async with deps.uow() as uow:
        await uow.billing.set_provider_client_id(customer.id, client_id, deps.clock())
        await uow.commit()
        stored = await uow.customers.get(customer.id)
    return stored.provider_client_id if stored is not None else client_id
