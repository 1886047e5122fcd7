"""From a stored inbox event to our handlers, through pywa.

pywa parses the one-update body we stored and calls the callbacks registered here; they turn its types
into our ``Inbound`` and hand it to the router. pywa logs and swallows callback errors, so failures are
collected in a context variable and the event stays in the inbox to be tried again.
"""

from __future__ import annotations

import contextvars
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pywa.types.callback import CallbackButton, CallbackSelection
from pywa.types.message import Message
from pywa_async.client import WhatsApp
from pywa_async.handlers import (
    CallbackButtonHandler,
    CallbackSelectionHandler,
    MessageHandler,
)

from bot.failures import OncePerKind, quiet_library_tracebacks
from bot.handlers import router
from bot.handlers.context import ChatDeps, Inbound
from bot.services.clock import Clock
from bot.services.delivery import DeliveryStatus, apply_statuses
from bot.services.inbox import run_claimed, run_held
from bot.store.repositories.inbox import InboundEvent
from bot.store.uow import UnitOfWorkFactory
from bot.whatsapp.clients import WhatsAppClients
from bot.whatsapp.webhook_events import SOURCE

log = logging.getLogger(__name__)
_handler_failures = OncePerKind(log)
_failures: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "failures", default=None
)
_interrupted: contextvars.ContextVar[bool] = contextvars.ContextVar("interrupted", default=False)


def _guarded(work: Callable[[Any], Awaitable[None]]) -> Callable[[Any, Any], Awaitable[None]]:
    async def callback(_client: Any, update: Any) -> None:
        try:
            await work(update)
        except Exception as error:  # noqa: BLE001 - recorded: the inbox retries or rejects the event
            _handler_failures.failed(
                ("whatsapp", type(update).__name__), error,
                "handling WhatsApp update %s failed", getattr(update, "id", "?"),
            )  # fmt: skip
            failures = _failures.get()
            if failures is not None:
                failures.append(error)

    return callback


def _inbound(
    update: Message | CallbackButton[Any] | CallbackSelection[Any],
    *,
    text: str | None = None,
    choice: str | None = None,
) -> Inbound:
    user = update.from_user
    replied = update.reply_to_message if isinstance(update, Message) else None
    return Inbound(
        phone_number_id=update.metadata.phone_number_id,
        sender=str(user.wa_id or user.bsuid),
        wamid=update.id,
        at=update.timestamp,
        name=user.name,
        interrupted=_interrupted.get(),
        text=text,
        choice=choice,
        # The message this one answers: a vendor's reply to a forwarded customer message names them.
        reply_to=replied.id if replied is not None else None,
    )


def handlers_installer(deps: Callable[[], ChatDeps]) -> Callable[[WhatsApp], None]:
    """Registers our callbacks on a pywa client; ``deps`` is read when an update arrives."""

    async def message(update: Message) -> None:
        await router.on_inbound(deps(), _inbound(update, text=update.text or ""))

    async def click(update: CallbackButton[Any] | CallbackSelection[Any]) -> None:
        await router.on_inbound(deps(), _inbound(update, choice=str(update.data), text=update.title))

    def install(client: WhatsApp) -> None:
        quiet_library_tracebacks("pywa.server", "pywa_async.server")  # an unparsable update: once per kind
        client.add_handlers(
            MessageHandler(_guarded(message)),
            CallbackButtonHandler(_guarded(click)),
            CallbackSelectionHandler(_guarded(click)),
        )

    return install


def parse_status(payload: str) -> DeliveryStatus | None:
    """Our own reading of a stored one-status body: cheap, and needs none of pywa's contact fields."""
    try:
        status = json.loads(payload)["entry"][0]["changes"][0]["value"]["statuses"][0]
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    errors = status.get("errors") or []
    code = errors[0].get("code") if errors and isinstance(errors[0], dict) else None
    tracker, recipient = status.get("biz_opaque_callback_data"), status.get("recipient_id")
    return DeliveryStatus(
        str(status["id"]),
        str(status.get("status", "")).lower(),
        code if isinstance(code, int) else None,
        tracker if isinstance(tracker, str) else None,
        recipient if isinstance(recipient, str) else None,
    )


async def process_status_events(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    notify_sender: Callable[[], None],
    events: list[tuple[int, str]],
) -> None:
    """Applies a webhook's delivery statuses in one transaction. Applying one twice changes nothing."""
    if not events:
        return
    now = clock()
    async with uow_factory() as uow:
        # Claimed first, in the same transaction: a status applied by someone else is not applied again.
        claimed = await uow.inbox.claim_many_processed([event_id for event_id, _ in events], now)
        statuses = [
            found
            for event_id, payload in events
            if event_id in claimed and (found := parse_status(payload)) is not None
        ]
        outcomes = await apply_statuses(uow, statuses, now)
        await uow.commit()
    if "resend_as_template" in outcomes:
        notify_sender()


def _phone_number_id(payload: str) -> str | None:
    try:
        value = json.loads(payload)["entry"][0]["changes"][0]["value"]
        return str(value["metadata"]["phone_number_id"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


class HandlerFailed(Exception):
    """A chat handler raised (pywa reports it to us, it does not raise it): the event is tried again."""


def _handler(
    uow_factory: UnitOfWorkFactory, clients: WhatsAppClients, clock: Clock
) -> Callable[[InboundEvent], Awaitable[None]]:
    async def handle(stored: InboundEvent) -> None:
        if stored.event_type == "status":
            await process_status_events(uow_factory, clock, lambda: None, [(stored.id, stored.payload)])
            return
        failures: list[BaseException] = []
        token = _failures.set(failures)
        # A lease that ran out without a result: an earlier processor stopped while handling this event.
        interrupted = _interrupted.set(stored.locked_until is not None)
        try:
            if stored.event_type != "other":
                client = clients.for_number(_phone_number_id(stored.payload))
                await client.webhook_update_handler(stored.payload.encode("utf-8"))
        finally:
            _interrupted.reset(interrupted)
            _failures.reset(token)
        if failures:
            # Chained: a failure trying again cannot cure (a KeyError, ...) rejects the event.
            raise HandlerFailed(f"{type(failures[0]).__name__}: {failures[0]}") from failures[0]

    return handle


async def process_whatsapp_event(
    uow_factory: UnitOfWorkFactory, clients: WhatsAppClients, clock: Clock, event_id: int
) -> bool:
    """Handles one stored WhatsApp event; True when it is done (now or before)."""
    handle = _handler(uow_factory, clients, clock)
    done, _ = await run_claimed(
        uow_factory, clock, event_id, handle, expected=(HandlerFailed,), source=SOURCE
    )
    return done


async def process_held_event(
    uow_factory: UnitOfWorkFactory, clients: WhatsAppClients, clock: Clock, stored: InboundEvent
) -> bool:
    """Handles one WhatsApp event the caller claimed (a worker's batch); True when it is done."""
    handle = _handler(uow_factory, clients, clock)
    done, _ = await run_held(uow_factory, clock, stored, handle, expected=(HandlerFailed,))
    return done
