"""Card on file: ``bot guarantee`` (ask, capture, release), ``bot pay --saved-card`` and ``bot pay --phone``,
``bot customer cards`` and ``bot customer forget-card``; and how guarantees show in ``bot order show``.

No card number is ever printed: a saved card is shown by its label ("Visa •••• 4242 (12/28)")."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from bot.cli.common import CLI_LOCALE, _payment_deps, _print_json, _with_store
from bot.config import Settings
from bot.domain.card_token import CardToken
from bot.domain.deposit import AskKind
from bot.domain.errors import DomainError
from bot.domain.money import Money
from bot.domain.transaction import PaymentTransaction, TransactionStatus
from bot.rendering import explain
from bot.services import guarantees, phone_payments, saved_cards
from bot.services.context import PaymentDeps
from bot.services.orders import OrderView
from bot.store.uow import UnitOfWorkFactory


def _utc(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _amount(value: Money | None) -> str | None:
    return None if value is None else f"{value.amount:f}"


async def required_guarantee_lines(deps: PaymentDeps, vendor: str | None, number: int) -> list[str]:
    """After a payment request: the guarantee a vendor with guarantee_mode=required asks with it."""
    try:
        asked = await guarantees.required_guarantee(deps, vendor, number)
    except DomainError as error:
        return [f"no guarantee requested: {explain(error, CLI_LOCALE)}"]
    if asked is None:
        return []
    return [
        f"guarantee requested too (guarantee_mode=required): {asked.transaction.amount}, link {asked.url}"
    ]


def _ask(args: argparse.Namespace) -> tuple[AskKind, str | None]:
    if args.full:
        return AskKind.FULL, None
    if args.balance:
        return AskKind.BALANCE, None
    return AskKind.DEPOSIT, args.deposit


# bot guarantee ---------------------------------------------------------------------------------------------


async def cmd_guarantee(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            if args.release:
                released = await guarantees.release_guarantee(deps, args.vendor, args.number)
                amount = released.held or released.amount
                if released.status is TransactionStatus.RELEASED:
                    print(f"guarantee of {amount} on #{args.number} released: nothing charged")
                else:
                    print(f"guarantee request of {amount} on #{args.number} cancelled (its link stopped)")
                return 0
            if args.capture is not None:
                captured = await guarantees.capture_guarantee(
                    deps, args.vendor, args.number, args.capture or None
                )
                print(_capture_line(captured))
                return 0
            asked = await guarantees.request_guarantee(deps, args.vendor, args.number, args.amount)
            print(
                f"{asked.transaction.label}: {asked.transaction.amount} to hold on the card, link {asked.url}"
            )
            return 0
        finally:
            await deps.providers.close()

    return await _with_store(settings, work)


def _capture_line(outcome: guarantees.CaptureOutcome) -> str:
    guarantee, ledger, order = outcome.guarantee, outcome.ledger, outcome.order
    held = guarantee.held or guarantee.amount
    captured = guarantee.captured or outcome.payment.amount
    released = held - captured
    rest = "" if released.is_zero() else f", {released} released"
    return (
        f"{captured} captured of the {held} guarantee on {order.reference}{rest}: order {order.status}, "
        f"paid {ledger.paid}, balance {ledger.balance}"
    )


# bot pay --saved-card / --phone ----------------------------------------------------------------------------


async def pay_saved_card(deps: PaymentDeps, args: argparse.Namespace) -> list[str]:
    ask, typed = _ask(args)
    outcome = await saved_cards.charge_saved_card(deps, args.vendor, args.number, ask, typed)
    transaction, card = outcome.transaction, outcome.card.label
    if outcome.earlier:
        found = f"an earlier charge of {transaction.amount} on {card} was found made"
        return [f"{transaction.label}: {found}; nothing more was charged"]
    if outcome.link_url is not None:
        asks = f"the bank asks the customer to confirm, nothing was charged on {card}"
        sent = f"a payment link for {transaction.amount} was sent to them instead: {outcome.link_url}"
        return [f"{transaction.label}: {asks}; {sent}"]
    ledger, order = outcome.ledger, outcome.order
    paid = "" if ledger is None else f", paid {ledger.paid}, balance {ledger.balance}"
    return [f"{transaction.label}: {transaction.amount} charged on {card}; order {order.status}{paid}"]


async def pay_by_phone(deps: PaymentDeps, args: argparse.Namespace) -> list[str]:
    ask: AskKind | None
    typed: str | None
    if args.guarantee is not None:
        ask, typed = None, args.guarantee
    else:
        ask, typed = _ask(args)
    outcome = await phone_payments.create_phone_link(
        deps, args.vendor, args.number, ask, typed, save_card=args.save_card
    )
    saved = "; the card will be saved (the customer agreed)" if args.save_card else ""
    return [
        f"{outcome.transaction.label}: {outcome.transaction.amount}, one-time link {outcome.url}",
        f"it works once, until {_utc(outcome.expires_at)}: open it on your own device and type the card the "
        f"customer reads out{saved}",
    ]


# bot customer cards / forget-card --------------------------------------------------------------------------


def card_json(card: CardToken) -> dict[str, Any]:
    return {
        "id": str(card.id),
        "label": card.label,
        "brand": card.brand,
        "last4": card.last4,
        "expiry": card.expiry,
        "provider": card.provider,
        "consent": card.consent_source.value,
        "saved_at": card.consent_at.isoformat(),
    }


async def cmd_customer_cards(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            customer, cards = await saved_cards.customer_cards(deps, args.vendor, args.phone)
        finally:
            await deps.providers.close()
        if args.json:
            _print_json({"phone": customer.contact, "cards": [card_json(c) for c in cards]})
            return 0
        if not cards:
            print(f"no saved card for +{customer.phone}")
        for card in cards:
            print(f"{card.label}  {card.provider}  saved {card.consent_at:%Y-%m-%d} ({card.consent_source})")
        return 0

    return await _with_store(settings, work)


async def cmd_customer_forget_card(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            forgotten = await saved_cards.forget_cards(deps, args.vendor, args.phone)
        finally:
            await deps.providers.close()
        if not forgotten:
            print(f"no saved card for {args.phone}: nothing to forget")
            return 0
        labels = ", ".join(card.label for card in forgotten)
        print(f"forgotten: {labels}; never charged again, and deleted at the provider")
        return 0

    return await _with_store(settings, work)


# bot order show --------------------------------------------------------------------------------------------


def guarantee_json(view: OrderView, t: PaymentTransaction) -> dict[str, Any]:
    link = view.links.get(t.payment_link_id) if t.payment_link_id else None
    return {
        "id": str(t.id),
        "status": t.status.value,
        "amount": _amount(t.amount),
        "held": _amount(t.held),
        "captured": _amount(t.captured),
        "currency": t.amount.currency,
        "card_on_file": t.card_on_file,
        "lapses_at": _iso(t.hold_lapses_at),
        "release_at": _iso(t.release_at),
        "created_at": t.created_at.isoformat(),
        "link": None if link is None else {"url": link.url, "active": link.active, "provider": link.provider},
    }


def guarantee_line(t: PaymentTransaction) -> str:
    held = "" if t.held is None else f", held {t.held}"
    captured = "" if t.captured is None else f", captured {t.captured}"
    on_file = " (card on file, no money held)" if t.card_on_file else ""
    line = f"  guarantee {t.amount}  {t.status}{on_file}{held}{captured}"
    if t.status is TransactionStatus.HELD:
        line += f", released by us {_utc(t.release_at)}, lapses at the provider {_utc(t.hold_lapses_at)}"
    return line


def with_guarantees(view: OrderView, data: dict[str, Any]) -> dict[str, Any]:
    """``order show --json``: each transaction says whether it is a guarantee, a guarantee's capture or a
    saved card's charge, and the order's guarantees are listed with their state and dates."""
    by_id = {str(t.id): t for t in view.transactions}
    for item in data["transactions"]:
        t = by_id[item["id"]]
        item["is_guarantee"] = t.is_guarantee
        item["guarantee_id"] = None if t.guarantee_id is None else str(t.guarantee_id)
        item["saved_card"] = t.card_token_id is not None
    data["guarantees"] = [guarantee_json(view, t) for t in view.transactions if t.is_guarantee]
    return data
