"""Payments without a link sent: ``carte 12`` charges the card the customer saved (full, deposit, balance;
a guarantee needs the customer and is not taken this way), ``telephone 12`` gives the vendor a one-time link
to open on their own device and type the card the customer reads out (full, deposit or guarantee, the card
saved if the customer agrees out loud). Like the Payé flow, a deposit picks 30 / 50 / 100 % or another
amount, and the last step lives in ``conversations``, so a double tap charges or makes a link once.

No card number is ever asked for, shown or typed here: the saved card is shown by its label only, and a
phone payment's card goes straight to the provider's page.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.domain.card_token import CardToken
from bot.domain.deposit import AskKind, Ledger
from bot.domain.errors import DomainError, NoSavedCard, RequestAlreadyOpen
from bot.domain.guarantee import GuaranteeMode
from bot.domain.money import Money, parse_amount, parse_amount_or_percent
from bot.domain.vendor import Vendor
from bot.handlers import callbacks, guarantee_flow, payment_flow
from bot.handlers.context import FLOW_LIFETIME, ChatDeps
from bot.handlers.replies import admin_text, to_admin
from bot.rendering import explain
from bot.services import conversations, orders as order_service, phone_payments, saved_cards
from bot.services.chat import AdminActor

CONFIRM_CARD = "confirm_card"
PHONE_SAVE = "phone_save"
# "Autre montant" typed for the saved card or the phone payment: the flow awaiting it, and for which.
TYPED_AMOUNT: dict[str, callbacks.Via] = {"card_amount": "card", "phone_amount": "phone"}
_TYPED_FLOW: dict[callbacks.Via, str] = {via: flow for flow, via in TYPED_AMOUNT.items()}
_GUARANTEE = "guarantee"


Row = tuple[str, str, str | None]


def _row(
    via: callbacks.Via, number: int, action: callbacks.ViaAction, title: str, note: str | None = None
) -> Row:
    return callbacks.encode(callbacks.ViaChoice(via, number, action)), title, note


def _payment_rows(vendor: Vendor, via: callbacks.Via, number: int, ledger: Ledger) -> list[Row]:
    """All that is left to pay in one go (the full price when nothing is paid or asked yet, else the
    balance), then a deposit; nothing when nothing more may be requested."""
    if ledger.requestable.is_zero():
        return []
    if ledger.paid.is_zero() and ledger.pending.is_zero():
        note = admin_text(vendor, "row_amount", amount=ledger.balance)
        whole = _row(via, number, "full", admin_text(vendor, "button_full"), note)
    else:
        note = admin_text(vendor, "row_amount", amount=ledger.requestable)
        whole = _row(via, number, "balance", admin_text(vendor, "row_balance"), note)
    return [whole, _row(via, number, "deposit", admin_text(vendor, "button_deposit"))]


async def _card(deps: ChatDeps, actor: AdminActor, view: order_service.OrderView) -> CardToken:
    """The card a charge would use: saved with consent, not expired, at the vendor's provider."""
    _customer, cards = await saved_cards.customer_cards(deps.payments, actor.vendor, view.customer.contact)
    now = deps.clock()
    provider = actor.vendor.payment.provider.value
    usable = [card for card in cards if not card.expired(now) and card.provider == provider]
    if not usable:
        raise NoSavedCard(customer=view.customer.contact, order=view.order.reference)
    return usable[0]


# The saved card -------------------------------------------------------------------------------------------


async def start_card(deps: ChatDeps, actor: AdminActor, number: int) -> None:
    """``carte 12``: the card's label, then full / deposit / balance / guarantee / cancel."""
    view, ledger = await payment_flow.payable(deps, actor, number)
    card = await _card(deps, actor, view)
    try:
        ledger.check_request(ledger.requestable)
    except RequestAlreadyOpen as error:
        await payment_flow.offer_resend(deps, actor, number, error)
        return
    vendor = actor.vendor
    rows = [*_payment_rows(vendor, "card", number, ledger)]
    guarantee_note = admin_text(vendor, "row_guarantee_link")
    rows.append(_row("card", number, "guarantee", admin_text(vendor, "row_guarantee"), guarantee_note))
    rows.append(_row("card", number, "cancel", admin_text(vendor, "button_cancel")))
    menu = (admin_text(vendor, "button_choose"), admin_text(vendor, "row_saved_card"), tuple(rows))
    await deps.queue(
        [
            to_admin(
                actor,
                "card_choice",
                menu=menu,
                order=view.order.reference,
                label=view.order.label,
                customer=view.customer.contact,
                card=card.label,
                price=ledger.price,
                paid=ledger.paid,
                requestable=ledger.requestable,
            )
        ]
    )


async def card_confirm_step(
    deps: ChatDeps, actor: AdminActor, number: int, ask: AskKind, typed: str | None
) -> None:
    """What would be charged on the saved card, with [Débiter la carte] [Annuler]."""
    view, ledger = await payment_flow.payable(deps, actor, number)
    card = await _card(deps, actor, view)
    wanted = None if typed is None else parse_amount_or_percent(typed, actor.vendor.currency)
    try:
        amount = ledger.amount_for(ask, wanted, actor.vendor.payment.deposit_policy)
    except RequestAlreadyOpen as error:
        await payment_flow.offer_resend(deps, actor, number, error)
        return
    state = {"order": number, "ask": ask.value, "amount": f"{amount.amount}"}
    await conversations.start(
        deps.payments.uow, actor.vendor.id, actor.phone, CONFIRM_CARD, state, deps.clock(), FLOW_LIFETIME
    )
    buttons = (
        (
            callbacks.encode(callbacks.ConfirmCardCharge(number, ask, f"{amount.amount}")),
            admin_text(actor.vendor, "button_charge_card"),
        ),
        (
            callbacks.encode(callbacks.ViaChoice("card", number, "cancel")),
            admin_text(actor.vendor, "button_cancel"),
        ),
    )
    await deps.queue(
        [
            to_admin(
                actor,
                "card_confirm",
                buttons=buttons,
                kind=ledger.request_type(amount).value,
                amount=amount,
                order=view.order.reference,
                customer=view.customer.contact,
                card=card.label,
            )
        ]
    )


async def charge(deps: ChatDeps, actor: AdminActor, number: int, ask: AskKind, amount_text: str) -> None:
    """[Débiter la carte]: charged once, whatever the double taps. Paid; or the bank wants the customer
    there and a normal link went to them instead; or an earlier unanswered charge was found made."""
    taken = await conversations.take(
        deps.payments.uow, actor.vendor.id, actor.phone, CONFIRM_CARD, deps.clock(), number
    )
    if taken is None or taken.state != {"order": number, "ask": ask.value, "amount": amount_text}:
        await deps.queue([to_admin(actor, "stale_card", order=f"#{number}", number=number)])
        return
    typed = parse_amount(amount_text, actor.vendor.currency) if ask is AskKind.DEPOSIT else None
    outcome = await saved_cards.charge_saved_card(deps.payments, actor.vendor, number, ask, typed)
    deps.notify_sender()
    guarantee = await guarantee_flow.required_note(deps, actor, number)
    ledger = outcome.ledger
    await deps.queue(
        [
            to_admin(
                actor,
                "card_charged",
                order=outcome.order.reference,
                kind=outcome.transaction.type.value,
                amount=outcome.transaction.amount,
                card=outcome.card.label,
                link=outcome.link_url,
                earlier=outcome.earlier,
                paid=None if ledger is None else ledger.paid,
                balance=None if ledger is None else ledger.balance,
                status=outcome.order.status.value,
                **guarantee,
            )
        ]
    )


# The phone payment ----------------------------------------------------------------------------------------


def _guarantee_amount(vendor: Vendor, ledger: Ledger) -> Money:
    return vendor.payment.guarantee.amount_for(ledger.price, None)


async def start_phone(deps: ChatDeps, actor: AdminActor, number: int) -> None:
    """``telephone 12``: full (or what is left) / deposit / guarantee / cancel."""
    view, ledger = await payment_flow.payable(deps, actor, number)
    vendor = actor.vendor
    guarantees_on = vendor.payment.guarantee.mode is not GuaranteeMode.OFF
    if ledger.requestable.is_zero() and not guarantees_on:
        ledger.check_request(ledger.requestable)  # says why nothing may be asked
    rows = [*_payment_rows(vendor, "phone", number, ledger)]
    if guarantees_on:
        note = admin_text(vendor, "row_amount", amount=_guarantee_amount(vendor, ledger))
        rows.append(_row("phone", number, "guarantee", admin_text(vendor, "row_guarantee"), note))
    rows.append(_row("phone", number, "cancel", admin_text(vendor, "button_cancel")))
    menu = (admin_text(vendor, "button_choose"), admin_text(vendor, "row_phone"), tuple(rows))
    await deps.queue(
        [
            to_admin(
                actor,
                "phone_choice",
                menu=menu,
                order=view.order.reference,
                label=view.order.label,
                price=ledger.price,
                paid=ledger.paid,
                requestable=ledger.requestable,
            )
        ]
    )


async def save_question(
    deps: ChatDeps, actor: AdminActor, number: int, ask: AskKind | None, typed: str | None
) -> None:
    """The amount checked, then: does the customer agree to save the card? [Oui] [Non] [Annuler]."""
    _view, ledger = await payment_flow.payable(deps, actor, number)
    vendor = actor.vendor
    wanted = None if typed is None else parse_amount_or_percent(typed, vendor.currency)
    if ask is None:
        vendor.payment.guarantee.check_enabled()
        amount = vendor.payment.guarantee.amount_for(ledger.price, wanted)
        kind = _GUARANTEE
    else:
        amount = ledger.amount_for(ask, wanted, vendor.payment.deposit_policy)
        kind = ledger.request_type(amount).value
    what = _GUARANTEE if ask is None else ask.value
    state = {"order": number, "ask": what, "amount": f"{amount.amount}"}
    await conversations.start(
        deps.payments.uow, vendor.id, actor.phone, PHONE_SAVE, state, deps.clock(), FLOW_LIFETIME
    )

    def answer(save: bool) -> str:
        return callbacks.encode(callbacks.PhoneSave(number, ask, f"{amount.amount}", save))

    buttons = (
        (answer(True), admin_text(vendor, "button_save_yes")),
        (answer(False), admin_text(vendor, "button_save_no")),
        (
            callbacks.encode(callbacks.ViaChoice("phone", number, "cancel")),
            admin_text(vendor, "button_cancel"),
        ),
    )
    await deps.queue(
        [to_admin(actor, "phone_save", buttons=buttons, order=f"#{number}", kind=kind, amount=amount)]
    )


async def phone_link(
    deps: ChatDeps, actor: AdminActor, number: int, ask: AskKind | None, amount_text: str, save: bool
) -> None:
    """The customer's answer: the one-time link, made once whatever the double taps."""
    taken = await conversations.take(
        deps.payments.uow, actor.vendor.id, actor.phone, PHONE_SAVE, deps.clock(), number
    )
    what = _GUARANTEE if ask is None else ask.value
    if taken is None or taken.state != {"order": number, "ask": what, "amount": amount_text}:
        await deps.queue([to_admin(actor, "stale_phone", order=f"#{number}", number=number)])
        return
    vendor = actor.vendor
    typed = parse_amount(amount_text, vendor.currency) if ask in (None, AskKind.DEPOSIT) else None
    outcome = await phone_payments.create_phone_link(
        deps.payments, vendor, number, ask, typed, save_card=save
    )
    until = outcome.expires_at.astimezone(ZoneInfo(vendor.timezone)).strftime("%H:%M")
    await deps.queue(
        [
            to_admin(
                actor,
                "phone_link",
                order=outcome.order.reference,
                kind=_GUARANTEE if outcome.transaction.is_guarantee else outcome.transaction.type.value,
                amount=outcome.transaction.amount,
                url=outcome.url,
                until=until,
                save=save,
            )
        ]
    )


# Typed amounts and taps -----------------------------------------------------------------------------------


async def ask_amount(deps: ChatDeps, actor: AdminActor, via: callbacks.Via, number: int) -> None:
    """ "Autre montant": the next message is the deposit's amount."""
    _, ledger = await payment_flow.payable(deps, actor, number)
    await conversations.start(
        deps.payments.uow, actor.vendor.id, actor.phone, _TYPED_FLOW[via], {"order": number},
        deps.clock(), FLOW_LIFETIME,
    )  # fmt: skip
    await deps.queue([to_admin(actor, "ask_amount", order=f"#{number}", requestable=ledger.requestable)])


async def _deposit(deps: ChatDeps, actor: AdminActor, via: callbacks.Via, number: int, typed: str) -> None:
    if via == "card":
        await card_confirm_step(deps, actor, number, AskKind.DEPOSIT, typed)
    else:
        await save_question(deps, actor, number, AskKind.DEPOSIT, typed)


async def typed_amount(deps: ChatDeps, actor: AdminActor, flow: str, number: int, text: str) -> None:
    """The amount typed after "Autre montant"; a wrong one is explained and may be typed again."""
    via = TYPED_AMOUNT[flow]
    try:
        await _deposit(deps, actor, via, number, text)
    except DomainError as error:
        await conversations.start(
            deps.payments.uow, actor.vendor.id, actor.phone, flow, {"order": number}, deps.clock(),
            FLOW_LIFETIME,
        )  # fmt: skip
        await deps.queue([to_admin(actor, "try_again", problem=explain(error, actor.vendor.locale))])


async def _choice(deps: ChatDeps, actor: AdminActor, via: callbacks.Via, number: int, action: str) -> None:
    if action == "cancel":
        await payment_flow.cancel(deps, actor, number)
    elif action == "deposit":
        await payment_flow.deposit_menu(deps, actor, number, via)
    elif via == "card" and action == _GUARANTEE:
        # A hold needs the customer's own authorisation at their bank: not on a card charged without them.
        await deps.queue([to_admin(actor, "card_guarantee", order=f"#{number}", number=number)])
    elif via == "card":
        await card_confirm_step(deps, actor, number, AskKind(action), None)
    else:
        await save_question(deps, actor, number, None if action == _GUARANTEE else AskKind(action), None)


async def on_choice(deps: ChatDeps, actor: AdminActor, choice: callbacks.Callback) -> None:
    """A tap on one of these flows' buttons or list rows."""
    match choice:
        case callbacks.ViaChoice(via, number, action):
            await _choice(deps, actor, via, number, action)
        case callbacks.ViaAmount(via, number, amount):
            await _deposit(deps, actor, via, number, amount)
        case callbacks.ViaOther(via, number):
            await ask_amount(deps, actor, via, number)
        case callbacks.ConfirmCardCharge(number, ask, amount):
            await charge(deps, actor, number, ask, amount)
        case callbacks.PhoneSave(number, ask, amount, save):
            await phone_link(deps, actor, number, ask, amount, save)
        case _:
            await deps.queue([to_admin(actor, "help")])
