"""Card guarantees from chat: ``garantie 12 [montant|30%]`` sends the customer a link that holds the amount
on their card; ``debiter 12 [montant]`` shows what would be charged of the hold and asks [Débiter X]
[Annuler], then captures it (the rest is released); ``liberer 12`` lets the hold go, or cancels the request
for it. As in the Payé flow, the confirmation lives in ``conversations``: a double tap captures once."""

from __future__ import annotations

from typing import Any

from bot.domain.errors import DomainError
from bot.domain.transaction import TransactionStatus
from bot.handlers import callbacks
from bot.handlers.context import FLOW_LIFETIME, ChatDeps
from bot.handlers.replies import admin_text, to_admin
from bot.rendering import explain
from bot.services import conversations, guarantees
from bot.services.chat import AdminActor

CONFIRM_CAPTURE = "confirm_capture"


async def required_note(deps: ChatDeps, actor: AdminActor, number: int) -> dict[str, Any]:
    """After a payment request: with guarantee_mode=required the guarantee is asked too. What the reply
    says of it (``guarantee``: its amount and link; ``guarantee_problem``: why it could not be asked). The
    request itself was made either way, so a refused guarantee never reads as a refused request."""
    try:
        asked = await guarantees.required_guarantee(deps.payments, actor.vendor, number)
    except DomainError as error:
        return {"guarantee": None, "guarantee_problem": explain(error, actor.vendor.locale)}
    if asked is None:
        return {"guarantee": None, "guarantee_problem": None}
    deps.notify_sender()
    return {
        "guarantee": {"amount": asked.transaction.amount, "url": asked.url},
        "guarantee_problem": None,
    }


async def request(deps: ChatDeps, actor: AdminActor, number: int, typed: str | None) -> None:
    """``garantie 12 [montant|30%]``: the customer gets the link; the vendor hears it was sent and how much
    it holds (whether the card is held or only kept on file is told by the bot's note once authorised)."""
    outcome = await guarantees.request_guarantee(deps.payments, actor.vendor, number, typed)
    deps.notify_sender()
    await deps.queue(
        [
            to_admin(
                actor,
                "guarantee_sent",
                order=outcome.order.reference,
                number=outcome.order.number,
                customer=outcome.customer.contact,
                amount=outcome.transaction.amount,
                url=outcome.url,
                days=actor.vendor.payment.guarantee.release_days,
            )
        ]
    )


async def capture_step(deps: ChatDeps, actor: AdminActor, number: int, typed: str | None) -> None:
    """``debiter 12 [montant]``: checked (a hold there, the amount within it), nothing charged yet."""
    seen = await guarantees.preview_capture(deps.payments, actor.vendor, number, typed)
    amount = f"{seen.amount.amount}"
    await conversations.start(
        deps.payments.uow, actor.vendor.id, actor.phone, CONFIRM_CAPTURE, {"order": number, "amount": amount},
        deps.clock(), FLOW_LIFETIME,
    )  # fmt: skip
    held = seen.guarantee.capturable
    buttons = (
        (
            callbacks.encode(callbacks.ConfirmCapture(number, amount)),
            admin_text(actor.vendor, "button_capture", amount=seen.amount),
        ),
        (callbacks.encode(callbacks.CancelCapture(number)), admin_text(actor.vendor, "button_cancel")),
    )
    rest = held - seen.amount
    await deps.queue(
        [
            to_admin(
                actor,
                "capture_confirm",
                buttons=buttons,
                order=seen.order.reference,
                amount=seen.amount,
                held=held,
                rest=None if rest.is_zero() else rest,
                card_on_file=seen.guarantee.card_on_file,
            )
        ]
    )


async def capture(deps: ChatDeps, actor: AdminActor, number: int, amount_text: str) -> None:
    """[Débiter X]: the capture is made once, whatever the double taps."""
    taken = await conversations.take(
        deps.payments.uow, actor.vendor.id, actor.phone, CONFIRM_CAPTURE, deps.clock(), number
    )
    if taken is None or taken.state != {"order": number, "amount": amount_text}:
        await deps.queue([to_admin(actor, "stale_capture", order=f"#{number}", number=number)])
        return
    outcome = await guarantees.capture_guarantee(deps.payments, actor.vendor, number, amount_text)
    deps.notify_sender()
    held = outcome.guarantee.held or outcome.guarantee.amount
    captured = outcome.guarantee.captured or outcome.payment.amount
    released = held - captured
    ledger = outcome.ledger
    await deps.queue(
        [
            to_admin(
                actor,
                "capture_done",
                order=outcome.order.reference,
                amount=captured,
                released=None if released.is_zero() else released,
                paid=ledger.paid,
                price=ledger.price,
                balance=ledger.balance,
                status=outcome.order.status.value,
            )
        ]
    )


async def release(deps: ChatDeps, actor: AdminActor, number: int) -> None:
    """``liberer 12``: the hold let go (the customer is told), or the request for it cancelled."""
    guarantee = await guarantees.release_guarantee(deps.payments, actor.vendor, number)
    deps.notify_sender()
    await deps.queue(
        [
            to_admin(
                actor,
                "guarantee_released",
                order=f"#{number}",
                amount=guarantee.held or guarantee.amount,
                released=guarantee.status is TransactionStatus.RELEASED,
                status=guarantee.status.value,
            )
        ]
    )


async def on_choice(deps: ChatDeps, actor: AdminActor, choice: callbacks.Callback) -> None:
    """[Débiter X] captures, [Annuler] drops the capture."""
    match choice:
        case callbacks.CancelCapture(number):
            await conversations.clear(deps.payments.uow, actor.vendor.id, actor.phone)
            await deps.queue([to_admin(actor, "capture_cancelled", order=f"#{number}")])
        case callbacks.ConfirmCapture(number, amount):
            await capture(deps, actor, number, amount)
        case _:
            await deps.queue([to_admin(actor, "help")])
