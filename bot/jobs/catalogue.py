"""Every periodic job of ``bot serve``, registered in one place with its name and its interval."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Settings
from bot.jobs.runner import Job
from bot.services import callbacks, guarantee_sweep, holds, inbox, invoices, products, reminders
from bot.services.clock import Clock
from bot.services.context import PaymentDeps
from bot.services.customer_sync import Backoff as ClientBackoff, sync_due_customers
from bot.services.inbox import PaymentParser
from bot.services.payments import complete_unlinked_requests
from bot.services.refunds import resolve_uncertain_refunds

REMINDER_SWEEP = "reminder_sweep"
REQUEST_RECOVERY = "request_recovery"
PAYMENT_BACKLOG = "payment_backlog"
WHATSAPP_BACKLOG = "whatsapp_backlog"
REFUND_CHECK = "refund_check"
SENDER_RELEASE = "sender_release"
HOLD_RELEASE = "hold_release"
INVOICE_PASS = "invoice_pass"
IPN_BACKLOG = "ipn_backlog"
GUARANTEES = "guarantees"
PRODUCT_SYNC = "product_sync"
CLIENT_SYNC = "client_sync"
EMAIL_OUTBOX = "email_outbox"
# Work left unfinished is taken up only once it is this old (it may still be in flight)...
RECOVERY_GRACE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class JobContext:
    deps: PaymentDeps
    settings: Settings
    payment_parsers: dict[str, PaymentParser]
    wake_sender: Callable[[], None]
    release_stale_sends: Callable[[], Awaitable[int]]
    resubmit_whatsapp: Callable[[timedelta], Awaitable[int]]
    # One pass of the email sender; None while email is off (no SMTP_URL).
    send_emails: Callable[[], Awaitable[int]] | None = None


class _Grace:
    """...except at start: then everything the previous process left (from before this one started) is
    taken up at once, while what arrives meanwhile is left to its own processing."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._started_at: datetime | None = clock()

    def __call__(self) -> timedelta:
        if self._started_at is None:
            return RECOVERY_GRACE
        since_start = max(self._clock() - self._started_at, timedelta(0))
        self._started_at = None
        return since_start


def catalogue(context: JobContext) -> list[Job]:
    deps, settings = context.deps, context.settings
    recovery, provider = settings.recovery_seconds, settings.provider_jobs_seconds
    backoff = invoices.InvoiceBackoff()
    client_backoff = ClientBackoff()
    graces = {name: _Grace(deps.clock) for name in (REQUEST_RECOVERY, PAYMENT_BACKLOG, WHATSAPP_BACKLOG)}

    async def sweep() -> int:
        return await reminders.sweep_all(deps.uow, deps.clock, lambda _count: context.wake_sender())

    jobs = [
        Job(REMINDER_SWEEP, settings.reminder_sweep_seconds, sweep),
        Job(
            REQUEST_RECOVERY, recovery,
            lambda: complete_unlinked_requests(deps, graces[REQUEST_RECOVERY]()), at_start=True,
        ),
        Job(
            PAYMENT_BACKLOG, recovery,
            lambda: inbox.process_payment_backlog(deps, context.payment_parsers, graces[PAYMENT_BACKLOG]()),
            at_start=True,
        ),
        Job(
            WHATSAPP_BACKLOG, recovery, lambda: context.resubmit_whatsapp(graces[WHATSAPP_BACKLOG]()),
            at_start=True,
        ),
        Job(REFUND_CHECK, recovery, lambda: resolve_uncertain_refunds(deps), at_start=True),
        Job(SENDER_RELEASE, recovery, context.release_stale_sends, at_start=True),
        Job(HOLD_RELEASE, provider, lambda: holds.release_expired_holds(deps)),
        Job(INVOICE_PASS, provider, lambda: invoices.issue_invoices(deps, backoff=backoff)),
        Job(IPN_BACKLOG, provider, lambda: callbacks.process_callback_backlog(deps)),
        Job(GUARANTEES, provider, lambda: guarantee_sweep.sweep_guarantees(deps)),
        Job(PRODUCT_SYNC, settings.product_sync_seconds, lambda: products.sync_products(deps)),
        Job(CLIENT_SYNC, settings.client_sync_seconds, lambda: sync_due_customers(deps, client_backoff)),
    ]  # fmt: skip
    if context.send_emails is not None:
        # At start too: what a stopped process had queued goes out at once.
        jobs.append(Job(EMAIL_OUTBOX, settings.email_outbox_seconds, context.send_emails, at_start=True))
    return jobs
