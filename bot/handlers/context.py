"""What chat handlers need: the store, the payment use cases, and a way to queue replies."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.channel import Channel
from bot.domain.outgoing import OutgoingMessage
from bot.services.clock import Clock
from bot.services.context import PaymentDeps
from bot.services.messages import queue
from bot.services.payments import HandOver

FLOW_LIFETIME = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message or click from WhatsApp (or a message on Instagram), in our terms."""

    phone_number_id: str | None
    sender: str
    wamid: str
    at: datetime
    name: str | None = None
    text: str | None = None
    choice: str | None = None  # the id of the button or list row clicked
    # Handling this very message was cut off before (a crash or restart): what it did is unknown.
    interrupted: bool = False
    # Instagram Direct: ``sender`` is then the customer's Instagram-scoped id, ``phone_number_id`` the
    # professional account's id.
    channel: Channel = Channel.WHATSAPP
    # The id of the message this one answers (the vendor replying to a forwarded customer message).
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class ChatDeps:
    # The use cases' dependencies (its ``uow`` is what handlers pass on to services).
    payments: PaymentDeps
    default_phone_id: str
    clock: Clock
    notify_sender: Callable[[], None]
    # This process's running sender, taking rows written already claimed for it (None: no sender here;
    # messages are queued for whichever sender claims them).
    send_claimed: HandOver | None = None

    async def queue(self, messages: Sequence[OutgoingMessage]) -> None:
        """Commits the replies to the outbox; the sender sends them at once."""
        if not messages:
            return
        await queue(self.payments.uow, list(messages), self.clock())
        self.notify_sender()
