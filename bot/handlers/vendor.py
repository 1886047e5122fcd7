"""Vendor commands, from an admin's phone: parse, call one service, reply from a template."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.cards import REDACTION
from bot.domain.deposit import AskKind
from bot.domain.order import ConfirmationRule, OrderStatus
from bot.domain.product import OrderLine
from bot.domain.transaction import PaymentTransaction
from bot.handlers import card_flow, guarantee_flow, payment_flow, refund_flow
from bot.handlers.context import ChatDeps, Inbound
from bot.handlers.parsing import Unparsed, VendorCommand, Verb, parse_vendor_command
from bot.handlers.replies import to_admin
from bot.rendering import explain
from bot.services import (
    acceptance,
    cash as cash_service,
    chat,
    closing,
    conversations,
    customers as customer_service,
    guarantee_messages,
    orders as order_service,
    providers as provider_service,
    reminders as reminder_service,
    reports,
    saved_cards,
)
from bot.services.chat import AdminActor

Command = Callable[[ChatDeps, AdminActor, VendorCommand], Awaitable[None]]
ACTIVE = {OrderStatus.PENDING, OrderStatus.ACCEPTED, OrderStatus.PAID, OrderStatus.IN_DELIVERY}


def _local(actor: AdminActor, at: datetime) -> str:
    return at.astimezone(ZoneInfo(actor.vendor.timezone)).strftime("%d/%m %H:%M")


def _number(command: VendorCommand) -> int:
    if command.order is None:  # pragma: no cover - the parser never gives these verbs without one
        raise ValueError("order number expected")
    return command.order


async def show_help(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    # In the language of the word typed ("help" in English), but a Hebrew vendor, who has no Hebrew
    # keywords, reads it in Hebrew.
    locale = actor.vendor.locale if actor.vendor.locale not in {"fr", "en"} else command.language
    await deps.queue([to_admin(actor, "help", locale=locale)])


async def list_orders(deps: ChatDeps, actor: AdminActor, _command: VendorCommand) -> None:
    orders = await order_service.list_orders(deps.payments.uow, actor.vendor, ACTIVE, limit=20)
    rows = [
        {"order": o.reference, "status": o.status.value, "price": o.price or "", "label": o.label}
        for o in orders
    ]
    await deps.queue([to_admin(actor, "orders", orders=rows)])


async def _sent(deps: ChatDeps, actor: AdminActor, accepted: acceptance.Accepted) -> dict[str, Any]:
    """What the automatic request on acceptance did, for the reply (with guarantee_mode=required, the
    guarantee asked with it)."""
    request = accepted.request
    guarantee = (
        {} if request is None else await guarantee_flow.required_note(deps, actor, accepted.order.number)
    )
    return {
        "request": None
        if request is None
        else {
            "kind": request.transaction.type.value,
            "amount": request.transaction.amount,
            "url": request.url,
        },
        "request_problem": None
        if accepted.problem is None
        else explain(accepted.problem, actor.vendor.locale),
        **guarantee,
    }


async def new_order(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    accept = actor.vendor.payment.confirmation_rule is ConfirmationRule.IMMEDIATE
    accepted = await acceptance.create_order(
        deps.payments, actor.vendor, command.phone or "", command.amount, command.label, accept,
        items=command.items,
    )  # fmt: skip
    order = accepted.order
    await deps.queue(
        [
            to_admin(
                actor,
                "order_created",
                order=order.reference,
                number=order.number,
                customer=command.phone,
                price=order.price,
                label=order.label,
                status=order.status.value,
                lines=_lines(accepted.lines),
                **await _sent(deps, actor, accepted),
            )  # fmt: skip
        ]
    )


def _lines(lines: Sequence[OrderLine]) -> list[dict[str, Any]]:
    """An order's lines as the chat shows them: "2 × Gâteau chocolat (gateau-choc) 18.00 EUR = 36.00 EUR"."""
    return [
        {"quantity": line.quantity, "name": line.name, "sku": line.sku, "unit_price": line.unit_price,
         "total": line.total}
        for line in lines
    ]  # fmt: skip


async def accept(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    accepted = await acceptance.accept_order(deps.payments, actor.vendor, _number(command))
    order = accepted.order
    await deps.queue(
        [
            to_admin(
                actor,
                "order_moved",
                order=order.reference,
                status=order.status.value,
                **await _sent(deps, actor, accepted),
            )
        ]
    )


async def pay(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await payment_flow.start(deps, actor, _number(command))


async def deposit(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    if command.amount is None:
        await payment_flow.deposit_menu(deps, actor, _number(command))
    else:
        await payment_flow.confirm_step(deps, actor, _number(command), AskKind.DEPOSIT, command.amount)


async def full(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await payment_flow.confirm_step(deps, actor, _number(command), AskKind.FULL, None)


async def balance(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await payment_flow.confirm_step(deps, actor, _number(command), AskKind.BALANCE, None)


async def cash(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    cash = await cash_service.record_cash_payment(
        deps.payments, actor.vendor, _number(command), command.amount
    )
    ledger = cash.ledger
    cancelled = [{"kind": t.type.value, "amount": t.amount} for t in cash.cancelled]
    await deps.queue(
        [
            to_admin(
                actor,
                "cash_recorded",
                order=cash.order.reference,
                amount=cash.transaction.amount,
                paid=ledger.paid,
                price=ledger.price,
                balance=ledger.balance,
                status=cash.order.status.value,
                cancelled=cancelled,
                left=not ledger.balance.is_zero(),
            )  # fmt: skip
        ]
    )


def _invoice(view: order_service.OrderView, transaction_id: uuid.UUID) -> dict[str, Any] | None:
    invoice = view.invoices.get(transaction_id)
    if invoice is None:
        return None
    return {"number": invoice.docnum, "type": invoice.doctype, "url": invoice.url, "status": invoice.status}


def _guarantee(actor: AdminActor, t: PaymentTransaction) -> dict[str, Any]:
    """A guarantee as ``statut`` shows it: its state, what it holds and what was captured, and when it
    is released by us (or lapses at the provider)."""
    locale = actor.vendor.locale
    return {
        "amount": t.held or t.amount,
        "status": t.status.value,
        "captured": t.captured,
        "card_on_file": t.card_on_file,
        "release_on": None
        if t.release_at is None
        else guarantee_messages.when(t.release_at, actor.vendor, locale),
        "lapses_on": None
        if t.hold_lapses_at is None
        else guarantee_messages.when(t.hold_lapses_at, actor.vendor, locale),
    }


async def _card_labels(
    deps: ChatDeps, actor: AdminActor, view: order_service.OrderView
) -> dict[uuid.UUID, str]:
    """The labels of the customer's saved cards that paid something on this order."""
    if not any(t.card_token_id is not None for t in view.transactions):
        return {}
    _customer, cards = await saved_cards.customer_cards(deps.payments, actor.vendor, view.customer.contact)
    return {card.id: card.label for card in cards}


async def status(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    view = await order_service.show_order(deps.payments.uow, actor.vendor, _number(command))
    ledger = view.ledger
    labels = await _card_labels(deps, actor, view)
    transactions = []
    for t in view.transactions:
        if t.is_guarantee:
            continue
        link = view.links.get(t.payment_link_id) if t.payment_link_id else None
        transactions.append(
            {
                "kind": t.type.value,
                "amount": t.amount,
                "status": t.status.value,
                "url": link.url if link is not None and link.active else None,
                "paid_at": t.paid_at,
                "refunded": None if t.refunded_total.is_zero() else t.refunded_total,
                "invoice": _invoice(view, t.id),
                # How it was taken without a link: a guarantee's capture, or the customer's saved card.
                "capture": t.guarantee_id is not None,
                "saved_card": None if t.card_token_id is None else labels.get(t.card_token_id, ""),
                "reminders": [
                    {
                        "sequence": r.sequence,
                        "status": r.status,
                        "delivery": r.delivery,
                        "at": _local(actor, r.sent_at or r.due_at),
                    }
                    for r in view.reminders.get(t.id, [])
                ],
            }
        )
    await deps.queue(
        [
            to_admin(
                actor,
                "order_status",
                order=view.order.reference,
                label=view.order.label,
                status=view.order.status.value,
                customer=view.customer.contact,
                price=view.order.price or "",
                lines=_lines(view.lines),
                paid=None if ledger is None else ledger.paid,
                refunded=None if ledger is None or ledger.refunded.is_zero() else ledger.refunded,
                balance=None if ledger is None else ledger.balance,
                transactions=transactions,
                guarantees=[_guarantee(actor, t) for t in view.transactions if t.is_guarantee],
                reminders_on=view.order.reminders_enabled,
            )
        ]
    )


async def cancel(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    cancelled = await closing.cancel_requests(deps.payments, actor.vendor, _number(command))
    items = [{"kind": t.type.value, "amount": t.amount} for t in cancelled]
    await deps.queue([to_admin(actor, "requests_cancelled", order=f"#{_number(command)}", requests=items)])


async def ship(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    order = await order_service.advance_order(
        deps.payments.uow, actor.vendor, _number(command), "ship", deps.clock()
    )
    await deps.queue([to_admin(actor, "order_moved", order=order.reference, status=order.status.value)])


async def done(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    order = await order_service.advance_order(
        deps.payments.uow, actor.vendor, _number(command), "complete", deps.clock()
    )
    await deps.queue([to_admin(actor, "order_moved", order=order.reference, status=order.status.value)])


async def remind(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    sent = await reminder_service.remind_now(deps.payments.uow, actor.vendor, _number(command), deps.clock())
    await deps.queue([to_admin(actor, "reminder_sent", order=f"#{_number(command)}", count=sent)])


async def reminders(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    on = bool(command.switch)
    await reminder_service.switch_reminders(
        deps.payments.uow, actor.vendor, _number(command), on, deps.clock()
    )
    await deps.queue([to_admin(actor, "reminders_switched", order=f"#{_number(command)}", on=on)])


async def refund(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await refund_flow.confirm_step(deps, actor, _number(command), command.amount)


async def guarantee(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await guarantee_flow.request(deps, actor, _number(command), command.amount)


async def capture(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await guarantee_flow.capture_step(deps, actor, _number(command), command.amount)


async def release(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await guarantee_flow.release(deps, actor, _number(command))


async def card(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await card_flow.start_card(deps, actor, _number(command))


async def phone(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    await card_flow.start_phone(deps, actor, _number(command))


async def set_language(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    customer = await customer_service.set_customer(
        deps.payments.uow,
        actor.vendor,
        command.phone or "",
        [("locale", command.locale or "")],
        deps.clock(),
    )
    await deps.queue([to_admin(actor, "language_set", customer=customer.contact, language=customer.locale)])


async def report(deps: ChatDeps, actor: AdminActor, command: VendorCommand) -> None:
    span: reports.Span = "today"
    for known in reports.SPANS:
        if command.span == known:
            span = known
    found = await reports.summary(deps.payments.uow, actor.vendor, span, deps.clock())
    await deps.queue(
        [
            to_admin(
                actor,
                "report",
                span=found.span,
                first_day=found.first_day.strftime("%d/%m"),
                last_day=found.last_day.strftime("%d/%m"),
                collected=found.collected,
                refunded=found.refunded,
                net=found.net,
                open_requests=found.open_requests,
                open_total=found.open_requests_total,
                unpaid_orders=found.unpaid_orders,
                unpaid=found.unpaid_balances,
            )  # fmt: skip
        ]
    )


async def check_connection(deps: ChatDeps, actor: AdminActor, _command: VendorCommand) -> None:
    check = await provider_service.check_provider(deps.payments, actor.vendor)
    await deps.queue(
        [
            to_admin(
                actor,
                "provider_check",
                provider=check.provider,
                ok=check.ok,
                company=check.company,
                detail=check.detail,
            )
        ]
    )


COMMANDS: dict[Verb, Command] = {
    Verb.HELP: show_help,
    Verb.ORDERS: list_orders,
    Verb.NEW: new_order,
    Verb.ACCEPT: accept,
    Verb.PAY: pay,
    Verb.DEPOSIT: deposit,
    Verb.FULL: full,
    Verb.BALANCE: balance,
    Verb.CASH: cash,
    Verb.STATUS: status,
    Verb.CANCEL: cancel,
    Verb.SHIP: ship,
    Verb.DONE: done,
    Verb.REMIND: remind,
    Verb.REMINDERS: reminders,
    Verb.CHECK: check_connection,
    Verb.REFUND: refund,
    Verb.LANGUAGE: set_language,
    Verb.GUARANTEE: guarantee,
    Verb.CAPTURE: capture,
    Verb.RELEASE: release,
    Verb.CARD: card,
    Verb.PHONE: phone,
    Verb.REPORT: report,
}


def with_customer(text: str, contact: str) -> str:
    """``contact`` put after the command's first word."""
    verb, _, rest = text.strip().partition(" ")
    return f"{verb} {contact} {rest}".strip()


async def on_text(deps: ChatDeps, actor: AdminActor, inbound: Inbound) -> None:
    text = inbound.text or ""
    if REDACTION in text:
        await deps.queue([to_admin(actor, "card_refused")])
        return
    parsed = parse_vendor_command(text)
    if isinstance(parsed, Unparsed) and parsed.problem == "missing_phone" and inbound.reply_to:
        # A reply to a forwarded customer message names that customer: "nouvelle 150 Gâteau" in answer
        # to it is "nouvelle <their phone or ig:name> 150 Gâteau".
        about = await chat.customer_of_note(deps.payments.uow, actor.vendor, inbound.reply_to)
        if about is not None:
            parsed = parse_vendor_command(with_customer(text, about.contact))
    if isinstance(parsed, Unparsed):
        flow = await conversations.current(deps.payments.uow, actor.vendor.id, actor.phone, deps.clock())
        if flow is not None and flow.flow == payment_flow.TYPED_AMOUNT:
            await payment_flow.typed_amount(deps, actor, int(flow.state["order"]), text)
            return
        if flow is not None and flow.flow in card_flow.TYPED_AMOUNT:
            await card_flow.typed_amount(deps, actor, flow.flow, int(flow.state["order"]), text)
            return
        verb = None if parsed.verb is None else parsed.verb.value
        await deps.queue([to_admin(actor, "usage", verb=verb, problem=parsed.problem)])
        return
    handler = COMMANDS.get(parsed.verb)
    if handler is None:
        await deps.queue([to_admin(actor, "usage", verb=parsed.verb.value)])
        return
    await handler(deps, actor, parsed)
