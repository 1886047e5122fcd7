"""What a customer can write: lien/link, solde/balance, payé/paid, STOP/START, mes cartes/my cards and
oublier ma carte/forget my card; the rest goes to the vendor's admins."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.cards import REDACTION
from bot.handlers.context import ChatDeps, Inbound
from bot.handlers.parsing import CustomerIntent, parse_customer_reply
from bot.handlers.replies import to_admins, to_customer
from bot.services import chat, messages as payment_messages, saved_cards
from bot.services.chat import CustomerActor

CUSTOMER_REPLY = "customer_reply"


async def resend_links(deps: ChatDeps, actor: CustomerActor) -> None:
    waiting = [
        r for r in await chat.open_requests(deps.payments.uow, actor) if r.link is not None and r.link.active
    ]
    if not waiting:
        await deps.queue([to_customer(actor, CUSTOMER_REPLY, "no_open_request")])
        return
    resent = []
    for request in waiting:
        assert request.link is not None
        message = payment_messages.payment_request(
            actor.vendor, actor.customer, request.order, request.transaction, request.link.url
        )
        # The same message again, on purpose: not deduplicated against the first sending.
        resent.append(replace(message, dedupe_key=None))
    await deps.queue(resent)


async def tell_balance(deps: ChatDeps, actor: CustomerActor) -> None:
    found = await chat.balances(deps.payments.uow, actor)
    orders = [
        {"order": b.order.reference, "price": b.ledger.price, "paid": b.ledger.paid,
         "balance": b.ledger.balance}
        for b in found
    ]  # fmt: skip
    await deps.queue([to_customer(actor, CUSTOMER_REPLY, "balance_info", orders=orders)])


async def check_paid(deps: ChatDeps, actor: CustomerActor) -> None:
    paid = await chat.recent_payments(deps.payments.uow, actor)
    waiting = [
        r for r in await chat.open_requests(deps.payments.uow, actor) if r.link is not None and r.link.active
    ]
    await deps.queue(
        [
            to_customer(
                actor,
                CUSTOMER_REPLY,
                "paid_check",
                paid=[{"amount": t.amount, "label": t.label} for t in paid],
                waiting=[
                    {"amount": r.transaction.amount, "url": r.link.url if r.link else ""} for r in waiting
                ],
            )
        ]
    )


async def list_cards(deps: ChatDeps, actor: CustomerActor) -> None:
    """``mes cartes``: what the customer saved with this vendor, by label only."""
    _customer, cards = await saved_cards.customer_cards(deps.payments, actor.vendor, actor.customer.contact)
    labels = [card.label for card in cards]
    await deps.queue([to_customer(actor, CUSTOMER_REPLY, "my_cards", cards=labels)])


async def forget_cards(deps: ChatDeps, actor: CustomerActor) -> None:
    """``oublier ma carte``: never charged again from now on, and deleted at the provider."""
    forgotten = await saved_cards.forget_cards(deps.payments, actor.vendor, actor.customer.contact)
    labels = [card.label for card in forgotten]
    await deps.queue([to_customer(actor, CUSTOMER_REPLY, "cards_forgotten", cards=labels)])


async def on_message(deps: ChatDeps, actor: CustomerActor, inbound: Inbound) -> None:
    text = inbound.text or ""
    if REDACTION in text:
        await deps.queue([to_customer(actor, CUSTOMER_REPLY, "card_refused")])
        return
    intent = parse_customer_reply(text) if text else CustomerIntent.OTHER
    if intent is CustomerIntent.LINK:
        await resend_links(deps, actor)
    elif intent is CustomerIntent.BALANCE:
        await tell_balance(deps, actor)
    elif intent is CustomerIntent.PAID:
        await check_paid(deps, actor)
    elif intent is CustomerIntent.CARDS:
        await list_cards(deps, actor)
    elif intent is CustomerIntent.FORGET_CARD:
        await forget_cards(deps, actor)
    elif intent in {CustomerIntent.STOP, CustomerIntent.START}:
        stop = intent is CustomerIntent.STOP
        await chat.set_reminders_opt_out(deps.payments.uow, actor, stop, deps.clock())
        await deps.queue([to_customer(actor, CUSTOMER_REPLY, "opted_out" if stop else "opted_in")])
    else:
        name = actor.customer.name or inbound.name
        if name is not None and name == actor.customer.handle:
            name = None  # ig:<username> says it already
        notes = to_admins(
            actor, "vendor_customer_message", "customer_message",
            customer=actor.customer.contact, name=name, text=text or inbound.choice or "",
        )  # fmt: skip
        await deps.queue([to_customer(actor, CUSTOMER_REPLY, "forwarded"), *notes])
