"""The webhooks the fake Graph API posts to the bot, signed like Meta: status "ticks" and inbound messages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import httpx

from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.graph.records import Json, SentMessage, WebhookDelivery
from bot.services.clock import Clock

# The package's logger, as when the fake was one module: log settings and readers keep working.
log = logging.getLogger(__package__)
REDELIVER_FIRST_WAIT = 0.2
REDELIVER_MAX_WAIT = 3.0


class StatusWebhooks:
    """Posts signed webhooks to ``webhook_url``: after each send, one status per entry of ``auto_statuses``,
    ``status_delay`` seconds apart, reported to ``on_status`` once posted."""

    def __init__(
        self,
        *,
        webhook_url: str | None,
        app_secret: str,
        auto_statuses: Sequence[str],
        status_delay: float,
        redeliver_for: float,
        waba_id: str,
        display_numbers: Mapping[str, str] | None,
        clock: Clock,
        http: httpx.AsyncClient | None,
        on_status: Callable[[SentMessage, str], None],
    ) -> None:
        self._webhook_url: str | None = None
        self._app_secret = ""
        if webhook_url is not None:
            self.set_webhook(webhook_url, app_secret)
        self.auto_statuses = tuple(auto_statuses)
        self.status_delay = status_delay
        self.redeliver_for = redeliver_for
        self.waba_id = waba_id
        self._display_numbers = dict(display_numbers or {})
        self._clock = clock
        self._on_status = on_status
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=10.0)
        self.deliveries: list[WebhookDelivery] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def webhook_url(self) -> str | None:
        return self._webhook_url

    def set_webhook(self, url: str | None, app_secret: str) -> None:
        """Where status webhooks go (None: nowhere); the sandbox knows its URL only once it listens."""
        if url is not None and not app_secret:
            raise ValueError("an app secret is needed to sign webhooks")
        self._webhook_url = url
        self._app_secret = app_secret

    def display_number(self, phone_id: str) -> str:
        return self._display_numbers.get(phone_id, payloads.DEFAULT_DISPLAY_NUMBER)

    def after_send(self, message: SentMessage) -> None:
        """Schedules the automatic statuses of an accepted send, if there is a webhook to post them to."""
        if self._webhook_url is not None and self.auto_statuses:
            self._spawn(self._post_statuses(message))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._tasks.add(task)  # a bare task may be garbage-collected mid-flight
        task.add_done_callback(self._tasks.discard)

    def _status_payload(
        self, message: SentMessage, status: str, errors: Sequence[Json] | None = None
    ) -> Json:
        return payloads.status(
            message.phone_id,
            message.wamid,
            status,
            message.to,
            errors=errors,
            category="utility" if message.kind == "template" else "service",
            timestamp=self._clock().timestamp(),
            tracker=message.tracker,
            waba_id=self.waba_id,
            display_phone_number=self.display_number(message.phone_id),
        )

    async def _post_statuses(self, message: SentMessage) -> None:
        for status in self.auto_statuses:
            await asyncio.sleep(self.status_delay)
            await self._deliver_until_answered(self._status_payload(message, status))
            self._on_status(message, status)

    async def _deliver_until_answered(self, payload: Mapping[str, Any]) -> None:
        """As Meta does: a status the bot did not take (down, or 5xx) is posted again, less and less often
        (here for ``redeliver_for`` seconds, not Meta's 7 days)."""
        wait, deadline = REDELIVER_FIRST_WAIT, self._clock_monotonic() + self.redeliver_for
        while True:
            delivery = await self.deliver(payload)
            if delivery.status_code is not None and delivery.status_code < 500:
                return
            if self._clock_monotonic() + wait > deadline or self._webhook_url is None:
                return
            await asyncio.sleep(wait)
            wait = min(wait * 2, REDELIVER_MAX_WAIT)

    @staticmethod
    def _clock_monotonic() -> float:
        return asyncio.get_running_loop().time()

    async def deliver(self, payload: Mapping[str, Any]) -> WebhookDelivery:
        """POST a webhook body to the bot, signed with the app secret, as Meta would.

        Also how the sandbox delivers a customer's inbound message (built with ``whatsapp_payloads``).
        """
        if self._webhook_url is None:
            raise RuntimeError("no webhook URL: call set_webhook() first")
        body = payloads.encode(payload)
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": payloads.sign(body, self._app_secret),
        }
        try:
            response = await self._http.post(self._webhook_url, content=body, headers=headers)
        except httpx.HTTPError as error:
            log.warning("sandbox WhatsApp: webhook not delivered: %s", type(error).__name__)
            delivery = WebhookDelivery(body, None, f"{type(error).__name__}: {error}")
        else:
            delivery = WebhookDelivery(body, response.status_code)
            if not delivery.ok:
                log.warning("sandbox WhatsApp: webhook answered HTTP %s", response.status_code)
        self.deliveries.append(delivery)
        return delivery

    async def send_failed_status(self, message: SentMessage, code: int) -> WebhookDelivery:
        """Post a ``failed`` status for ``message``, as Meta does when delivery fails later."""
        delivery = await self.deliver(self._status_payload(message, "failed", [payloads.status_error(code)]))
        self._on_status(message, "failed")
        return delivery

    async def drain(self) -> None:
        """Wait until every pending status webhook is posted."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.drain()
        if self._owns_http:
            await self._http.aclose()
