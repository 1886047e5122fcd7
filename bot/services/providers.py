"""A vendor's provider, and the customers it knows: a provider with clients (iCount wants one before
the first link) gets our customer once, and its id is kept (``customers.provider_client_id``) for the
documents issued for them."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from bot.domain.errors import DomainError, ProviderNotConfigured
from bot.payments.port import ClientDetails, ClientSync, ConnectionCheck, PaymentProvider, ProviderError
from bot.services.context import PaymentDeps, with_retries
from bot.services.vendors import VendorRef, find_vendor
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)


async def provider_of(deps: PaymentDeps, uow: UnitOfWork, vendor_id: uuid.UUID) -> PaymentProvider | None:
    """The vendor's provider, or None when it cannot be used now (not configured, credentials that no
    longer open)."""
    vendor = await uow.vendors.get(vendor_id)
    if vendor is None:
        return None
    try:
        return deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
    except (DomainError, ValueError) as error:
        log.warning("vendor %s's provider is not usable now: %s", vendor_id, error)
        return None


async def ensure_provider_client(
    deps: PaymentDeps, provider: PaymentProvider, customer_id: uuid.UUID
) -> str | None:
    """The customer's client id at ``provider``, created (and stored) if they have none yet. None for
    providers without clients, or when the provider cannot be reached now: the link does not need it,
    and the invoice pass asks again."""
    if not isinstance(provider, ClientSync):
        return None
    async with deps.uow() as uow:
        customer = await uow.customers.get(customer_id)
    if customer is None:  # pragma: no cover - a foreign key guarantees it
        return None
    if customer.provider_client_id:
        return customer.provider_client_id
    phone = f"+{customer.phone}" if customer.phone else ""  # an Instagram customer may have none
    details = ClientDetails(str(customer.id), customer.name or customer.contact, phone)
    try:
        client_id = await with_retries(lambda: provider.ensure_client(details), deps.retry_delay)
    except ProviderError as error:
        log.warning("no client at %s for customer %s yet: %s", provider.name, customer.id, error)
        return None
    async with deps.uow() as uow:
        await uow.customers.set_provider_client_id(customer.id, client_id, deps.clock())
        await uow.commit()
        stored = await uow.customers.get(customer.id)
    return stored.provider_client_id if stored is not None else client_id


@dataclass(frozen=True, slots=True)
class ProviderCheck:
    provider: str
    ok: bool
    company: str | None = None
    detail: str | None = None


async def check_provider(deps: PaymentDeps, vendor_reference: VendorRef) -> ProviderCheck:
    """The connection test: the vendor's credentials tried at its provider (iCount: ``auth/info``)."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        name = vendor.payment.provider.value
        try:
            provider = deps.providers.for_vendor(vendor, await uow.vendors.credentials(vendor.id))
        except ProviderNotConfigured as error:
            return ProviderCheck(name, False, detail=f"{error.params.get('missing')} is missing")
        except ValueError:
            return ProviderCheck(name, False, detail="stored credentials do not open with SECRET_KEY")
    if not isinstance(provider, ConnectionCheck):
        return ProviderCheck(name, False, detail=f"no connection test for {name}")
    try:
        info = await provider.check_connection()
    except ProviderError as error:
        return ProviderCheck(name, False, detail=str(error))
    return ProviderCheck(name, True, company=info.name or info.account_id)
