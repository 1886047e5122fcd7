"""Every provider event, to the use case it is for: payments, failures, refunds and invoices
(settlement), holds, captures and releases (guarantee_events); a card the customer saved is kept."""

from __future__ import annotations

import logging

from bot.payments.port import PaymentEvent, PaymentEventKind
from bot.services import guarantee_events, settlement
from bot.services.context import PaymentDeps
from bot.services.settlement import Outcome

log = logging.getLogger(__name__)


async def apply_event(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    outcome = await _apply(deps, event)
    if event.saved_card is not None and outcome is not Outcome.UNKNOWN:
        # After the payment or the hold (the card needs its row); told again, nothing is added.
        await guarantee_events.remember_card(deps, event)
    return outcome


async def _apply(deps: PaymentDeps, event: PaymentEvent) -> Outcome:
    match event.kind:
        case PaymentEventKind.PAID:
            return await settlement.record_payment(deps, event)
        case PaymentEventKind.FAILED:
            return await settlement.record_failure(deps, event)
        case PaymentEventKind.REFUNDED:
            return await settlement.apply_provider_refund(deps, event)
        case PaymentEventKind.INVOICED:
            return await settlement.record_invoice(deps, event)
        case PaymentEventKind.HELD:
            return await guarantee_events.record_hold(deps, event)
        case PaymentEventKind.CAPTURED:
            return await guarantee_events.record_captured(deps, event)
        case PaymentEventKind.RELEASED:
            return await guarantee_events.record_released(deps, event)
    log.info("payment event %s of kind %s needs no action", event.event_id, event.kind)
    return Outcome.DUPLICATE
