"""``rembourser 12 [montant]`` / ``refund 12 [amount]``: what was paid and already refunded, the amount to
give back, [Confirmer le remboursement] [Annuler], then the refund. Like the Payé flow, the step lives in
``conversations``, so a double tap or a restart never refunds twice."""

from __future__ import annotations

from bot.handlers import callbacks
from bot.handlers.context import FLOW_LIFETIME, ChatDeps
from bot.handlers.replies import admin_text, to_admin
from bot.services import conversations, refunds
from bot.services.chat import AdminActor

CONFIRM_REFUND = "confirm_refund"


async def confirm_step(deps: ChatDeps, actor: AdminActor, number: int, amount_text: str | None) -> None:
    seen = await refunds.preview(deps.payments, actor.vendor, number, amount_text)
    amount = f"{seen.amount.amount}"
    await conversations.start(
        deps.payments.uow, actor.vendor.id, actor.phone, CONFIRM_REFUND, {"order": number, "amount": amount},
        deps.clock(), FLOW_LIFETIME,
    )  # fmt: skip
    buttons = (
        (
            callbacks.encode(callbacks.ConfirmRefund(number, amount)),
            admin_text(actor.vendor, "button_refund"),
        ),
        (callbacks.encode(callbacks.CancelRefund(number)), admin_text(actor.vendor, "button_cancel")),
    )
    parts = [
        {"kind": t.type.value, "amount": share, "method": t.payment_method, "provider": t.provider}
        for t, share in seen.plan.parts
    ]
    await deps.queue(
        [
            to_admin(
                actor,
                "refund_confirm",
                buttons=buttons,
                order=seen.order.reference,
                amount=seen.amount,
                paid=seen.paid,
                refunded=seen.refunded,
                available=seen.available,
                parts=parts,
            )  # fmt: skip
        ]
    )


async def confirm(deps: ChatDeps, actor: AdminActor, number: int, amount_text: str) -> None:
    """[Confirmer le remboursement]: the refund is made once, whatever the double taps."""
    taken = await conversations.take(
        deps.payments.uow, actor.vendor.id, actor.phone, CONFIRM_REFUND, deps.clock(), number
    )
    if taken is None or taken.state != {"order": number, "amount": amount_text}:
        await deps.queue([to_admin(actor, "stale_refund", order=f"#{number}")])
        return
    outcome = await refunds.refund(
        deps.payments, actor.vendor, number, amount_text, requested_by=f"+{actor.phone}"
    )
    ledger = outcome.ledger
    await deps.queue(
        [
            to_admin(
                actor,
                "refund_done",
                order=outcome.order.reference,
                amount=outcome.amount,
                paid=ledger.received,
                refunded=ledger.refunded,
                net=ledger.paid,
                status=outcome.order.status.value,
            )  # fmt: skip
        ]
    )


async def on_choice(deps: ChatDeps, actor: AdminActor, choice: callbacks.Callback) -> None:
    """[Oui, rembourser] confirms, [Annuler] drops the refund."""
    match choice:
        case callbacks.CancelRefund(number):
            await conversations.clear(deps.payments.uow, actor.vendor.id, actor.phone)
            await deps.queue([to_admin(actor, "refund_cancelled", order=f"#{number}")])
        case callbacks.ConfirmRefund(number, amount):
            await confirm(deps, actor, number, amount)
        case _:
            await deps.queue([to_admin(actor, "help")])
