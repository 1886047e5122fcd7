"""Who wrote, and which handler answers: admins get vendor commands and the payment flow, everyone
else is a customer."""

from __future__ import annotations

import logging

from bot.domain.channel import Channel
from bot.domain.errors import DomainError
from bot.handlers import callbacks, card_flow, customer, guarantee_flow, payment_flow, refund_flow, vendor
from bot.handlers.context import ChatDeps, Inbound
from bot.handlers.replies import to_admin
from bot.rendering import explain
from bot.services.chat import AdminActor, CustomerActor, identify, identify_on_channel

log = logging.getLogger(__name__)
# The taps of ``carte N`` and ``telephone N``.
_CARD_FLOW = (
    callbacks.ViaChoice,
    callbacks.ViaAmount,
    callbacks.ViaOther,
    callbacks.ConfirmCardCharge,
    callbacks.PhoneSave,
)


async def on_inbound(deps: ChatDeps, inbound: Inbound) -> None:
    actor: AdminActor | CustomerActor | None
    if inbound.channel is Channel.WHATSAPP:
        actor = await identify(
            deps.payments.uow,
            inbound.phone_number_id,
            deps.default_phone_id,
            inbound.sender,
            inbound.at,
            inbound.name,
        )
    else:
        # Another channel is the customers' only: vendor commands come from an admin's WhatsApp.
        actor = await identify_on_channel(
            deps.payments.uow,
            inbound.channel,
            inbound.sender,
            deps.default_phone_id,
            inbound.at,
            inbound.name,
        )
    if isinstance(actor, AdminActor):
        if inbound.interrupted:
            # Its effects may be committed already: doing it again could record a payment twice, so the
            # vendor checks and repeats it if needed (at most once, never twice).
            said = inbound.text or inbound.choice or ""
            await deps.queue([to_admin(actor, "interrupted", said=said)])
            return
        try:
            if inbound.choice is None:
                await vendor.on_text(deps, actor, inbound)
                return
            choice = callbacks.decode(inbound.choice)
            if isinstance(choice, callbacks.ConfirmRefund | callbacks.CancelRefund):
                await refund_flow.on_choice(deps, actor, choice)
            elif isinstance(choice, callbacks.ConfirmCapture | callbacks.CancelCapture):
                await guarantee_flow.on_choice(deps, actor, choice)
            elif isinstance(choice, _CARD_FLOW):
                await card_flow.on_choice(deps, actor, choice)
            elif choice is not None:
                await payment_flow.on_choice(deps, actor, choice)
            else:
                await deps.queue([to_admin(actor, "help")])
        except DomainError as error:
            await deps.queue([to_admin(actor, "refused", problem=explain(error, actor.vendor.locale))])
    elif isinstance(actor, CustomerActor):
        await customer.on_message(deps, actor, inbound)
