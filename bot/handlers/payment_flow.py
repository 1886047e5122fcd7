"""The source's "Payé" flow as chat: full payment or deposit, the deposit amount (30% / 50% / 100% or
another amount), the confirmation, then the request. Button ids carry the order and the action; the
step the admin is at lives in ``conversations`` so a restart loses nothing and a confirmation counts once.
"""

from __future__ import annotations

from bot.domain.deposit import AskKind, Ledger
from bot.domain.errors import DomainError, OrderNotFound, RequestAlreadyOpen
from bot.domain.money import parse_amount, parse_amount_or_percent
from bot.handlers import callbacks, guarantee_flow
from bot.handlers.context import FLOW_LIFETIME, ChatDeps
from bot.handlers.replies import admin_text, to_admin
from bot.rendering import explain
from bot.services import (
    conversations,
    orders as order_service,
    payments as payment_service,
    reminders as reminder_service,
)
from bot.services.chat import AdminActor

CONFIRM = "confirm"
TYPED_AMOUNT = "deposit_amount"


async def payable(deps: ChatDeps, actor: AdminActor, number: int) -> tuple[order_service.OrderView, Ledger]:
    """The order, checked payable, and where it stands."""
    view = await order_service.show_order(deps.payments.uow, actor.vendor, number)
    view.order.check_payable(actor.vendor.payment.confirmation_rule)
    ledger = view.ledger
    if ledger is None:  # pragma: no cover - check_payable refuses orders without a price
        raise OrderNotFound(order=f"#{number}")
    return view, ledger


async def offer_resend(deps: ChatDeps, actor: AdminActor, number: int, error: RequestAlreadyOpen) -> None:
    """Everything left is already asked by an open link: say so, and offer to send that link again."""
    buttons = ((callbacks.encode(callbacks.Resend(number)), admin_text(actor.vendor, "button_resend")),)
    await deps.queue([to_admin(actor, "request_open", buttons=buttons, order=f"#{number}", **error.params)])


async def resend(deps: ChatDeps, actor: AdminActor, number: int) -> None:
    sent = await reminder_service.remind_now(deps.payments.uow, actor.vendor, number, deps.clock())
    await deps.queue([to_admin(actor, "reminder_sent", order=f"#{number}", count=sent)])


async def start(deps: ChatDeps, actor: AdminActor, number: int) -> None:
    """``payé 12``: [Paiement complet] [Acompte] [Annuler]."""
    view, ledger = await payable(deps, actor, number)
    try:
        ledger.check_request(ledger.requestable)
    except RequestAlreadyOpen as error:
        await offer_resend(deps, actor, number, error)
        return
    buttons = (
        (callbacks.encode(callbacks.PayChoice(number, "full")), admin_text(actor.vendor, "button_full")),
        (
            callbacks.encode(callbacks.PayChoice(number, "deposit")),
            admin_text(actor.vendor, "button_deposit"),
        ),
        (callbacks.encode(callbacks.PayChoice(number, "cancel")), admin_text(actor.vendor, "button_cancel")),
    )
    await deps.queue(
        [
            to_admin(
                actor,
                "pay_choice",
                buttons=buttons,
                order=view.order.reference,
                label=view.order.label,
                price=ledger.price,
                paid=ledger.paid,
                requestable=ledger.requestable,
            )
        ]
    )


def _pick(number: int, amount: str, via: callbacks.Via | None) -> str:
    data = callbacks.AmountPick(number, amount) if via is None else callbacks.ViaAmount(via, number, amount)
    return callbacks.encode(data)


async def deposit_menu(
    deps: ChatDeps, actor: AdminActor, number: int, via: callbacks.Via | None = None
) -> None:
    """The quick picks with their amounts, the vendor's default first, and "Autre montant". ``via``: the
    deposit is for the saved card or a phone payment rather than a link."""
    view, ledger = await payable(deps, actor, number)
    default = actor.vendor.payment.deposit_policy.suggested_deposit(ledger)
    rows: list[tuple[str, str, str | None]] = []
    picks = ledger.quick_picks()
    if all(amount != default for _, amount in picks):
        title = admin_text(actor.vendor, "row_amount", amount=default)
        rows.append((_pick(number, f"{default.amount}", via), title, admin_text(actor.vendor, "row_default")))
    for percent, amount in picks:
        note = admin_text(actor.vendor, "row_default") if amount == default else None
        title = admin_text(actor.vendor, "row_amount", percent=str(percent), amount=amount)
        rows.append((_pick(number, f"{amount.amount}", via), title, note))
    other = callbacks.OtherAmount(number) if via is None else callbacks.ViaOther(via, number)
    rows.append((callbacks.encode(other), admin_text(actor.vendor, "row_other"), None))
    menu = (
        admin_text(actor.vendor, "button_choose"),
        admin_text(actor.vendor, "button_deposit"),
        tuple(rows),
    )
    message = to_admin(
        actor,
        "deposit_choice",
        menu=menu,
        order=view.order.reference,
        price=ledger.price,
        default=default,
        requestable=ledger.requestable,
    )
    await deps.queue([message])


async def ask_amount(deps: ChatDeps, actor: AdminActor, number: int) -> None:
    _, ledger = await payable(deps, actor, number)
    await conversations.start(
        deps.payments.uow,
        actor.vendor.id,
        actor.phone,
        TYPED_AMOUNT,
        {"order": number},
        deps.clock(),
        FLOW_LIFETIME,
    )
    await deps.queue([to_admin(actor, "ask_amount", order=f"#{number}", requestable=ledger.requestable)])


async def typed_amount(deps: ChatDeps, actor: AdminActor, number: int, text: str) -> None:
    """The amount typed after "Autre montant"; a wrong one is explained and may be typed again."""
    try:
        await confirm_step(deps, actor, number, AskKind.DEPOSIT, text)
    except DomainError as error:
        await conversations.start(
            deps.payments.uow,
            actor.vendor.id,
            actor.phone,
            TYPED_AMOUNT,
            {"order": number},
            deps.clock(),
            FLOW_LIFETIME,
        )
        await deps.queue([to_admin(actor, "try_again", problem=explain(error, actor.vendor.locale))])


async def confirm_step(
    deps: ChatDeps, actor: AdminActor, number: int, ask: AskKind, typed: str | None
) -> None:
    """The source's confirmation: "Un lien de paiement pour Acompte de 45.00 EUR sera envoyé ..."."""
    view, ledger = await payable(deps, actor, number)
    wanted = None if typed is None else parse_amount_or_percent(typed, actor.vendor.currency)
    try:
        amount = ledger.amount_for(ask, wanted, actor.vendor.payment.deposit_policy)
    except RequestAlreadyOpen as error:
        await offer_resend(deps, actor, number, error)
        return
    kind = ledger.request_type(amount)
    state = {"order": number, "ask": ask.value, "amount": f"{amount.amount}"}
    await conversations.start(
        deps.payments.uow, actor.vendor.id, actor.phone, CONFIRM, state, deps.clock(), FLOW_LIFETIME
    )
    buttons = (
        (
            callbacks.encode(callbacks.ConfirmRequest(number, ask, f"{amount.amount}")),
            admin_text(actor.vendor, "button_confirm"),
        ),
        (callbacks.encode(callbacks.PayChoice(number, "cancel")), admin_text(actor.vendor, "button_cancel")),
    )
    # An Instagram customer's link goes there (or to their WhatsApp once Instagram's window is closed).
    instagram = view.customer.on_instagram
    await deps.queue(
        [to_admin(actor, "confirm", buttons=buttons, kind=kind.value, amount=amount, instagram=instagram)]
    )


async def confirm(deps: ChatDeps, actor: AdminActor, number: int, ask: AskKind, amount_text: str) -> None:
    """[Confirmer et envoyer]: the request is made once, whatever the double clicks."""
    step = payment_service.PendingStep(
        actor.phone, CONFIRM, {"order": number, "ask": ask.value, "amount": amount_text}
    )
    typed = parse_amount(amount_text, actor.vendor.currency) if ask is AskKind.DEPOSIT else None
    # The step is taken in the request's own transaction; the customer's message goes to this process's
    # sender with its commit.
    outcome = await payment_service.request_confirmed(
        deps.payments, actor.vendor, step, number, ask, typed, send_claimed=deps.send_claimed
    )
    if outcome is None:
        await deps.queue([to_admin(actor, "stale_confirmation", order=f"#{number}")])
        return
    if deps.send_claimed is None:
        deps.notify_sender()  # the customer's message is committed: it need not wait for the vendor's reply
    # guarantee_mode=required: the guarantee is asked with the order's payment request.
    guarantee = await guarantee_flow.required_note(deps, actor, number)
    await deps.queue(
        [
            to_admin(
                actor,
                "request_sent",
                kind=outcome.transaction.type.value,
                amount=outcome.transaction.amount,
                order=outcome.order.reference,
                customer=outcome.customer.contact,
                url=outcome.url,
                status=outcome.order.status.value,
                **guarantee,
            )
        ]
    )


async def cancel(deps: ChatDeps, actor: AdminActor, number: int) -> None:
    await conversations.clear(deps.payments.uow, actor.vendor.id, actor.phone, number)
    await deps.queue([to_admin(actor, "flow_cancelled", order=f"#{number}")])


async def on_choice(deps: ChatDeps, actor: AdminActor, choice: callbacks.Callback) -> None:
    """A tap on one of this flow's buttons or list rows."""
    match choice:
        case callbacks.PayChoice(number, "full"):
            await confirm_step(deps, actor, number, AskKind.FULL, None)
        case callbacks.PayChoice(number, "deposit"):
            await deposit_menu(deps, actor, number)
        case callbacks.PayChoice(number, _):
            await cancel(deps, actor, number)
        case callbacks.AmountPick(number, amount):
            await confirm_step(deps, actor, number, AskKind.DEPOSIT, amount)
        case callbacks.OtherAmount(number):
            await ask_amount(deps, actor, number)
        case callbacks.Resend(number):
            await resend(deps, actor, number)
        case callbacks.ConfirmRequest(number, ask, amount):
            await confirm(deps, actor, number, ask, amount)
        case _:
            await deps.queue([to_admin(actor, "help")])
