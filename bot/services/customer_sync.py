"""Customers synced to the vendor's provider clients (roadmap step 5): iCount's ``client/create_or_update``
with the name, phone and email, and our customer id as ``custom_client_id``.

A change to a customer (``Customer.profile``: name, phone, email, language) leaves it ``pending`` in the
transaction of the change. Syncing is outside any database transaction: the customer is read, the
provider is asked, then the outcome is written: ``synced`` (with ``client_synced_at``) or ``failed`` with
the provider's reason. A customer changed while its sync was in flight stays pending, for the newer
version. A vendor whose provider keeps no clients (Stripe, the sandbox) has no client sync: the state
stays None. For a vendor whose provider does, None means "never synced yet" (a customer made by an order
or a message, or one from before this sync existed): the job and ``bot customers sync`` take those too.

The job (``bot/jobs/catalogue.py``, ``sync_due_customers``) takes a few customers per pass, failed ones
again after a growing wait (1, 2, 4 ... minutes, at most 6 hours; kept in the process: a restart tries
each failed one once more at once). ``bot customers sync`` (``sync_all_customers``) is the batch for the
existing contacts: it takes every customer not synced since its last change, in a stable order, and writes
each outcome as it goes, so a run cut short is picked up where it stopped. The provider's own client paces
the calls (iCount: 30 a minute per token, shared by everything in the process).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.customer import Customer, apply_customer_setting
from bot.domain.product import SyncState
from bot.domain.vendor import CUSTOMER_LOCALES, Vendor
from bot.payments.port import ClientProfile, ClientUpdates, ProviderError
from bot.services.context import PaymentDeps, with_retries
from bot.services.customers import check_phone_free, customer_for
from bot.services.providers import provider_of
from bot.services.vendors import VendorRef, find_vendor
from bot.store.uow import UnitOfWork

log = logging.getLogger(__name__)
# The job's customers per pass: iCount allows 30 calls a minute per token, and payments need some of them.
JOB_BATCH = 10
PAGE = 50
MAX_BACKOFF = timedelta(hours=6)
MAX_REASON = 500
NOT_CONFIGURED = "the vendor's payment provider is not configured or its credentials do not open"


class SyncOutcome(StrEnum):
    CREATED = "created"  # the provider had no client for the customer before
    UPDATED = "updated"
    FAILED = "failed"
    CHANGED = "changed"  # changed while it was sent: still pending, for the newer version
    SKIPPED = "skipped"  # nothing to do: synced already, or no client sync at this provider


def client_providers(deps: PaymentDeps) -> list[str]:
    """The providers that keep clients (iCount)."""
    return deps.providers.names_with(ClientUpdates)


def keeps_clients(deps: PaymentDeps, vendor: Vendor) -> bool:
    return vendor.payment.provider.value in client_providers(deps)


def mark_changed(customer: Customer, before: tuple[object, ...], syncs: bool) -> None:
    """After the vendor changed ``customer``: pending when its provider keeps clients and the profile
    changed (or was never synced); None when the provider keeps none."""
    if not syncs:
        customer.client_sync_state = None
        customer.client_sync_error = None
    elif customer.client_sync_state is None or customer.profile() != before:
        customer.client_sync_state = SyncState.PENDING


def profile_of(customer: Customer) -> ClientProfile:
    phone = f"+{customer.phone}" if customer.phone else ""  # an Instagram customer may have none
    return ClientProfile(
        custom_id=str(customer.id),
        name=customer.name or customer.contact,
        phone=phone,
        email=customer.email,
        locale=customer.locale,
        client_id=customer.provider_client_id,
    )


async def sync_customer(deps: PaymentDeps, customer_id: uuid.UUID, *, force: bool = False) -> SyncOutcome:
    """One customer to their vendor's provider clients, unless synced already (``force``: even then)."""
    async with deps.uow() as uow:
        customer = await uow.customers.get(customer_id)
        if customer is None:
            return SyncOutcome.SKIPPED
        vendor = await uow.vendors.get(customer.vendor_id)
        if vendor is None or not keeps_clients(deps, vendor):
            return SyncOutcome.SKIPPED
        if customer.client_sync_state is SyncState.SYNCED and not force:
            return SyncOutcome.SKIPPED
        provider = await provider_of(deps, uow, customer.vendor_id)
    error: str | None = None
    client_id: str | None = None
    if provider is None:
        error = NOT_CONFIGURED
    elif not isinstance(provider, ClientUpdates):  # pragma: no cover - keeps_clients said it does
        return SyncOutcome.SKIPPED
    else:
        clients, sent = provider, profile_of(customer)
        try:
            client_id = await with_retries(lambda: clients.sync_client(sent), deps.retry_delay)
        except ProviderError as refused:
            error = str(refused) or type(refused).__name__
    now = deps.clock()
    async with deps.uow() as uow:
        current = await uow.customers.get_for_update(customer_id)
        if current is None:  # pragma: no cover - customers are not deleted
            return SyncOutcome.SKIPPED
        if current.profile() != customer.profile():
            if client_id:
                await uow.customers.set_provider_client_id(customer_id, client_id, now)
            outcome = SyncOutcome.CHANGED
        elif error is None:
            await uow.customers.record_client_sync(customer_id, SyncState.SYNCED, None, now, client_id)
            outcome = SyncOutcome.UPDATED if customer.provider_client_id else SyncOutcome.CREATED
        else:
            await uow.customers.record_client_sync(
                customer_id, SyncState.FAILED, error[:MAX_REASON], None, None
            )
            outcome = SyncOutcome.FAILED
        await uow.commit()
    if error is not None:
        log.warning("customer %s not synced to the provider's clients: %s", customer_id, error)
    return outcome


async def change_customer(
    deps: PaymentDeps, vendor_reference: VendorRef, phone: str, pairs: Sequence[tuple[str, str]]
) -> tuple[Customer, SyncOutcome]:
    """``bot customer set`` and the dashboard's edit form: every ``KEY=VALUE`` (name, email, locale) or
    none; a customer not known yet is made. Then, after the commit, the sync of a changed customer."""
    now = deps.clock()
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        # A phone (made if new), or ``ig:name`` for an Instagram customer.
        customer = await customer_for(uow, vendor, phone, now)
        customer_id = customer.id
        await apply_and_save(deps, uow, vendor, customer, pairs, now)
    outcome = await sync_customer(deps, customer_id)
    async with deps.uow() as uow:
        stored = await uow.customers.get(customer_id)
    return (stored or customer), outcome


async def apply_and_save(
    deps: PaymentDeps,
    uow: UnitOfWork,
    vendor: Vendor,
    customer: Customer,
    pairs: Sequence[tuple[str, str]],
    now: datetime,
) -> None:
    """Applies the pairs to ``customer`` (all checked before anything is written), marks it and commits."""
    before = customer.profile()
    for key, value in pairs:
        apply_customer_setting(customer, key, value, CUSTOMER_LOCALES)
    await check_phone_free(uow, customer, before[1])
    mark_changed(customer, before, keeps_clients(deps, vendor))
    await uow.customers.update_profile(customer, now)
    await uow.commit()


@dataclass
class Backoff:
    """The job's waits before a failed customer is tried again, in this process."""

    attempts: dict[uuid.UUID, int] = field(default_factory=dict)
    next_at: dict[uuid.UUID, datetime] = field(default_factory=dict)

    def due(self, customer_id: uuid.UUID, now: datetime) -> bool:
        return self.next_at.get(customer_id, now) <= now

    def failed(self, customer_id: uuid.UUID, now: datetime) -> None:
        attempts = self.attempts.get(customer_id, 0) + 1
        self.attempts[customer_id] = attempts
        self.next_at[customer_id] = now + wait_after(attempts)

    def done(self, customer_id: uuid.UUID) -> None:
        self.attempts.pop(customer_id, None)
        self.next_at.pop(customer_id, None)


def wait_after(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed sync: 1, 2, 4 ... minutes, at most 6 hours."""
    return min(MAX_BACKOFF, timedelta(minutes=2 ** min(max(attempts - 1, 0), 20)))


async def sync_due_customers(deps: PaymentDeps, backoff: Backoff, limit: int = JOB_BATCH) -> int:
    """The job's pass: up to ``limit`` customers not synced (pending, never synced, or failed and due
    again); how many got synced."""
    providers = client_providers(deps)
    now = deps.clock()
    async with deps.uow() as uow:
        waiting = await uow.customers.awaiting_client_sync(providers, limit * 20)
    due = [c for c in waiting if c.client_sync_state is not SyncState.FAILED or backoff.due(c.id, now)]
    synced = 0
    for customer in due[:limit]:
        outcome = await sync_customer(deps, customer.id)
        if outcome is SyncOutcome.FAILED:
            backoff.failed(customer.id, deps.clock())
        else:
            backoff.done(customer.id)
        synced += outcome in (SyncOutcome.CREATED, SyncOutcome.UPDATED)
    return synced


@dataclass
class BatchReport:
    """What ``bot customers sync`` did: clients created, updated, failed (with the reasons seen)."""

    vendor: str
    provider: str
    total: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    changed: int = 0
    keeps_clients: bool = True
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.created + self.updated + self.failed + self.changed


Progress = Callable[[BatchReport, Customer, SyncOutcome], None]


async def sync_all_customers(
    deps: PaymentDeps, vendor_reference: VendorRef, on_progress: Progress | None = None
) -> BatchReport:
    """Every customer of the vendor not synced since their last change, each written as it is done."""
    async with deps.uow() as uow:
        vendor = await find_vendor(uow, vendor_reference)
        report = BatchReport(vendor.name, vendor.payment.provider.value)
        if not keeps_clients(deps, vendor):
            report.keeps_clients = False
            return report
        providers = [vendor.payment.provider.value]
        report.total = await uow.customers.count_awaiting_client_sync(providers, vendor.id)
    after: uuid.UUID | None = None
    while True:
        async with deps.uow() as uow:
            page = await uow.customers.awaiting_client_sync(providers, PAGE, vendor_id=vendor.id, after=after)
        if not page:
            break
        for customer in page:
            after = customer.id
            outcome = await sync_customer(deps, customer.id)
            if outcome is SyncOutcome.SKIPPED:
                continue
            if outcome is SyncOutcome.CREATED:
                report.created += 1
            elif outcome is SyncOutcome.UPDATED:
                report.updated += 1
            elif outcome is SyncOutcome.CHANGED:
                report.changed += 1
            else:
                report.failed += 1
                async with deps.uow() as uow:
                    stored = await uow.customers.get(customer.id)
                reason = (stored.client_sync_error if stored else None) or "unknown"
                report.errors[reason] = report.errors.get(reason, 0) + 1
            if on_progress is not None:
                on_progress(report, customer, outcome)
    return report
