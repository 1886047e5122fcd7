"""The guarantee job (the roadmap's CRON): holds released when their order is done, cancelled or paid by
other means, or when guarantee_release_days have passed; the vendor warned a day before a hold lapses;
holds whose webhook never came, captures and saved-card charges without an answer looked up at the
provider; phone payments left open closed; forgotten cards deleted at their provider."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.domain.deposit import Ledger
from bot.domain.errors import ChargeFailed
from bot.domain.guarantee import LAPSE_WARNING
from bot.domain.order import OrderStatus
from bot.domain.transaction import PaymentTransaction
from bot.domain.vendor import Vendor
from bot.payments.port import (
    ChargeAttempt,
    ChargeStatus,
    HoldState,
    PaymentEvent,
    PaymentEventKind,
    ProviderError,
)
from bot.services import (
    guarantee_events,
    guarantee_messages,
    guarantees,
    phone_payments,
    push_notes,
    saved_cards,
)
from bot.services.closing import close_requests, deactivate_at_provider
from bot.services.context import PaymentDeps
from bot.services.guarantees import apply_capture

log = logging.getLogger(__name__)
# A guarantee asked this long ago without news is looked up at its provider (its webhook may be lost).
LOOKUP_AFTER = timedelta(minutes=10)
# A charge or capture without an answer is looked up once it is this old (it may still be in flight).
UNANSWERED_AFTER = timedelta(minutes=2)
_CLOSED = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED})


async def sweep_guarantees(deps: PaymentDeps) -> int:
    """One pass; returns how many guarantees, charges and cards it changed. A provider that cannot be
    reached now is tried again at the next pass."""
    changed = 0
    async with deps.uow() as uow:
        watched = await uow.transactions.guarantees_to_watch()
        unanswered = await uow.transactions.unanswered_charges(deps.clock() - UNANSWERED_AFTER)
    for guarantee in watched:
        try:
            changed += await _look_at(deps, guarantee)
        except (ProviderError, LookupError) as error:
            log.warning("guarantee %s: nothing done this pass: %s", guarantee.id, error)
        except Exception:  # noqa: BLE001 - one guarantee's trouble never stops the others'
            log.exception("guarantee %s could not be looked at", guarantee.id)
    for charge in unanswered:
        try:
            changed += await _resolve(deps, charge)
        except Exception as error:  # noqa: BLE001 - still pending: looked up again next pass
            log.warning("charge %s still without an answer: %s", charge.id, error)
    for tidy in (phone_payments.close_stale_phone_payments, saved_cards.delete_forgotten):
        try:
            changed += await tidy(deps)
        except Exception:  # noqa: BLE001 - the next pass tries again; the guarantees above are done
            log.exception("guarantee job: %s failed this pass", tidy.__name__)
    return changed


async def _look_at(deps: PaymentDeps, guarantee: PaymentTransaction) -> int:
    now = deps.clock()
    async with deps.uow() as uow:
        order = await uow.orders.get(guarantee.commande_id)
        vendor = await uow.vendors.get(guarantee.vendor_id)
        if order is None or vendor is None:  # pragma: no cover
            return 0
        everything = await uow.transactions.for_order(order.id)
        covered = order.price is not None and Ledger.of(order.price, everything).is_covered
        capturing = any(t.guarantee_id == guarantee.id and t.is_open for t in everything)
    if guarantee.is_open:
        return await _watch_request(deps, guarantee, order.status in _CLOSED or covered, vendor)
    if capturing:
        return 0  # a capture is under way: its answer decides
    if order.status in _CLOSED:
        return int(await guarantees.release(deps, guarantee.id, "order_closed"))
    if covered:
        return int(await guarantees.release(deps, guarantee.id, "paid"))
    if guarantee.release_at is not None and guarantee.release_at <= now:
        return int(await guarantees.release(deps, guarantee.id, "days"))
    if guarantee.hold_lapses_at is not None and guarantee.hold_lapses_at <= now:
        return int(await guarantees.record_release(deps, guarantee.id, "lapsed", lapsed=True))
    if (
        guarantee.hold_lapses_at is not None
        and guarantee.lapse_warned_at is None
        and guarantee.hold_lapses_at - LAPSE_WARNING <= now
    ):
        return await _warn(deps, guarantee)
    return 0


async def _warn(deps: PaymentDeps, guarantee: PaymentTransaction) -> int:
    now = deps.clock()
    async with deps.uow() as uow:
        order = await uow.orders.get(guarantee.commande_id, for_update=True)
        fresh = await uow.transactions.get(guarantee.id)
        vendor = await uow.vendors.get(guarantee.vendor_id)
        if order is None or fresh is None or vendor is None or fresh.lapse_warned_at is not None:
            return 0
        fresh.lapse_warned_at = now
        await uow.transactions.update(fresh)
        admins = await uow.vendors.admin_phones(vendor.id)
        for note in guarantee_messages.lapsing_note(vendor, admins, order, fresh):
            await uow.outbox.add(note, now)
        await push_notes.guarantee_lapsing(uow, vendor, order, fresh, now)
        await uow.commit()
    return 1


async def _watch_request(
    deps: PaymentDeps, guarantee: PaymentTransaction, order_over: bool, vendor: Vendor
) -> int:
    """A guarantee asked and not held yet: held at the provider already (its webhook lost), or closed
    when its order is over or the customer let it wait past the release days (its link stops)."""
    now = deps.clock()
    if now - guarantee.created_at < LOOKUP_AFTER:
        return 0
    if await _reconcile_request(deps, guarantee):
        return 1
    waited_too_long = now - guarantee.created_at >= vendor.payment.guarantee.release_after(
        guarantee.provider or ""
    )
    if not (order_over or waited_too_long):
        return 0
    async with deps.uow() as uow:
        sealed = await uow.vendors.credentials(vendor.id)
        links = await uow.transactions.links([guarantee.payment_link_id] if guarantee.payment_link_id else [])
    await deactivate_at_provider(deps, deps.providers.for_vendor(vendor, sealed), links)
    async with deps.uow() as uow:
        await uow.orders.get(guarantee.commande_id, for_update=True)
        fresh = await uow.transactions.get(guarantee.id)
        closed = await close_requests(uow, [fresh] if fresh is not None else [], now, expire=True)
        await uow.commit()
    return len(closed)


async def _reconcile_request(deps: PaymentDeps, guarantee: PaymentTransaction) -> int:
    """A guarantee asked a while ago: the provider may hold it already (its webhook lost)."""
    async with deps.uow() as uow:
        vendor = await uow.vendors.get(guarantee.vendor_id)
        if vendor is None or guarantee.payment_link_id is None:
            return 0
        _provider, holds = guarantees.guarantee_provider(
            deps, vendor, await uow.vendors.credentials(vendor.id)
        )
        hold = await guarantees.card_hold(uow, guarantee)
    found = await holds.check_hold(hold)
    if found.state is not HoldState.HELD:
        return 0
    event = PaymentEvent(
        provider=guarantee.provider or "", event_id=f"reconciled:{guarantee.id}", kind=PaymentEventKind.HELD,
        occurred_at=deps.clock(), transaction_id=guarantee.id, reference=found.reference,
        amount=found.held, hold_lapses_at=found.lapses_at, saved_card=found.saved_card,
    )  # fmt: skip
    outcome = await guarantee_events.record_hold(deps, event)
    if found.saved_card is not None:
        await guarantee_events.remember_card(deps, event)
    log.info("guarantee %s found held at the provider: %s", guarantee.id, outcome)
    return 1


async def _resolve(deps: PaymentDeps, charge: PaymentTransaction) -> int:
    if charge.card_token_id is not None:
        status = await saved_cards.resolve_charge(deps, charge.id)
        return int(status is not ChargeStatus.UNKNOWN)
    if charge.guarantee_id is None:  # pragma: no cover - the query asks for one of the two
        return 0
    async with deps.uow() as uow:
        guarantee = await uow.transactions.get(charge.guarantee_id)
        vendor = await uow.vendors.get(charge.vendor_id)
        if guarantee is None or vendor is None:  # pragma: no cover
            return 0
        _provider, holds = guarantees.guarantee_provider(
            deps, vendor, await uow.vendors.credentials(vendor.id)
        )
        hold = await guarantees.card_hold(uow, guarantee)
    found = await holds.check_hold(hold)
    if found.state is HoldState.CAPTURED:
        attempt = ChargeAttempt(
            ChargeStatus.SUCCEEDED, found.reference or hold.reference, amount=found.captured
        )
    elif found.state is HoldState.HELD:
        attempt = ChargeAttempt(ChargeStatus.FAILED, reason="the provider shows no capture: it was not made")
    else:
        return 0
    try:
        await apply_capture(deps, charge.id, attempt)
    except ChargeFailed:
        log.info("capture %s was not made: closed", charge.id)
    return 1
