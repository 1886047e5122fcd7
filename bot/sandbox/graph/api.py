"""``FakeGraphAPI``: its routes, the ``/messages`` handler, what it records, who it tells, its faults."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
from aiohttp import web

from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.graph.account import AccountPages, FakeTemplate
from bot.sandbox.graph.records import Json, ReadMark, SentMessage, WebhookDelivery
from bot.sandbox.graph.requests import (
    GraphError,
    error_envelope,
    error_response,
    parse_body,
    parse_content,
    parse_kind,
    parse_read_mark,
    parse_recipient,
    parse_reply_to,
)
from bot.sandbox.graph.webhooks import StatusWebhooks
from bot.sandbox.waiters import Waiters
from bot.services.clock import Clock, system_clock

# The package's logger, as when the fake was one module: log settings and readers keep working.
log = logging.getLogger(__package__)


@dataclass(slots=True)
class _Fault:
    code: int
    times: int
    to: str | None
    http_status: int | None


class FakeGraphAPI:
    """``POST /{version}/{phone_id}/messages`` of Graph, in process, with recording and fault injection.

    ``webhook_url``/``app_secret`` make it post signed status webhooks after each accepted send, one per
    entry of ``auto_statuses``, ``status_delay`` seconds apart; with ``redeliver_for`` > 0, a status the
    bot did not take (down, or 5xx) is posted again for that many seconds, as Meta does.
    ``access_token`` (optional) is the only bearer token accepted; ``phone_ids`` (optional) the only
    business numbers that exist.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        app_secret: str = "",
        auto_statuses: Sequence[str] = ("sent", "delivered", "read"),
        status_delay: float = 0.0,
        redeliver_for: float = 0.0,
        access_token: str | None = None,
        phone_ids: Collection[str] | None = None,
        waba_id: str = payloads.DEFAULT_WABA_ID,
        display_numbers: Mapping[str, str] | None = None,
        clock: Clock = system_clock,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        known_phone_ids = frozenset(phone_ids) if phone_ids is not None else None
        self._webhooks = StatusWebhooks(
            webhook_url=webhook_url,
            app_secret=app_secret,
            auto_statuses=auto_statuses,
            status_delay=status_delay,
            redeliver_for=redeliver_for,
            waba_id=waba_id,
            display_numbers=display_numbers,
            clock=clock,
            http=http,
            on_status=self._notify_status,
        )
        self._access_token = access_token
        self._phone_ids = known_phone_ids
        self._clock = clock
        # The account reads (`bot doctor`): the business number's name and quality, the templates.
        self.account = AccountPages(
            waba_id=lambda: self.waba_id,
            display_number=self.display_number,
            known_phone_ids=lambda: self._phone_ids,
        )
        self.sent: list[SentMessage] = []
        self.read_marks: list[ReadMark] = []
        self._seq = itertools.count(1)
        self.attempts = 0  # every POST to /messages, refused ones included
        self._attempts_to: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._waiters: Waiters[SentMessage] = Waiters()
        self._queues: list[asyncio.Queue[SentMessage]] = []
        self._send_listeners: list[Callable[[SentMessage], None]] = []
        self._status_listeners: list[Callable[[SentMessage, str], None]] = []

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- wiring -------------------------------------------------------------------------------------

    def routes(self, prefix: str = "") -> list[web.AbstractRouteDef]:
        """The fake's routes under ``prefix`` (e.g. ``/sandbox/graph``); point pywa there with
        ``bot.whatsapp.transport.GraphRewriteTransport``. Under a non-empty prefix, any other path answers
        with Graph's "unsupported request" error, so an unmodelled call fails loudly."""
        prefix = prefix.rstrip("/")
        version = prefix + r"/{version:v\d+\.\d+}"
        found: list[web.AbstractRouteDef] = [
            web.post(version + "/{phone_id}/messages", self._handle_messages),
            web.get(version + "/{waba_id}/message_templates", self._handle_templates),
            web.get(version + "/{phone_id}", self._handle_phone_number),
        ]
        if prefix:
            found.append(web.route("*", prefix + "/{tail:.*}", self._handle_unsupported))
        return found

    def add_routes(self, app: web.Application, prefix: str = "") -> None:
        """Mounts the fake on its own app (tests serve it apart from the bot)."""
        app.router.add_routes(self.routes(prefix))

    # -- webhooks to the bot (posted by ``StatusWebhooks``) ------------------------------------------

    @property
    def webhook_url(self) -> str | None:
        return self._webhooks.webhook_url

    def set_webhook(self, url: str | None, app_secret: str) -> None:
        """Where status webhooks go (None: nowhere); the sandbox knows its URL only once it listens."""
        self._webhooks.set_webhook(url, app_secret)

    @property
    def auto_statuses(self) -> tuple[str, ...]:
        return self._webhooks.auto_statuses

    @auto_statuses.setter
    def auto_statuses(self, value: tuple[str, ...]) -> None:
        self._webhooks.auto_statuses = value

    @property
    def redeliver_for(self) -> float:
        return self._webhooks.redeliver_for

    @redeliver_for.setter
    def redeliver_for(self, value: float) -> None:
        self._webhooks.redeliver_for = value

    @property
    def status_delay(self) -> float:
        return self._webhooks.status_delay

    @status_delay.setter
    def status_delay(self, value: float) -> None:
        self._webhooks.status_delay = value

    @property
    def waba_id(self) -> str:
        return self._webhooks.waba_id

    @waba_id.setter
    def waba_id(self, value: str) -> None:
        self._webhooks.waba_id = value

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        return self._webhooks.deliveries

    @deliveries.setter
    def deliveries(self, value: list[WebhookDelivery]) -> None:
        self._webhooks.deliveries = value

    def display_number(self, phone_id: str) -> str:
        return self._webhooks.display_number(phone_id)

    async def deliver(self, payload: Mapping[str, Any]) -> WebhookDelivery:
        """POST a webhook body to the bot, signed with the app secret, as Meta would.

        Also how the sandbox delivers a customer's inbound message (built with ``whatsapp_payloads``).
        """
        return await self._webhooks.deliver(payload)

    async def send_failed_status(self, wamid: str, code: int = 131047) -> WebhookDelivery:
        """Post a ``failed`` status for a recorded message, as Meta does when delivery fails later."""
        message = self.find(wamid)
        if message is None:
            raise KeyError(f"no message {wamid} was sent")
        return await self._webhooks.send_failed_status(message, code)

    async def drain(self) -> None:
        """Wait until every pending status webhook is posted."""
        await self._webhooks.drain()

    async def close(self) -> None:
        await self._webhooks.close()

    # -- reading what was sent ----------------------------------------------------------------------

    def sent_to(self, phone: str) -> list[SentMessage]:
        to = payloads.digits(phone)
        return [m for m in self.sent if m.to == to]

    def attempts_to(self, phone: str) -> int:
        """Send attempts to ``phone`` that got as far as naming it, failed ones included."""
        return self._attempts_to[payloads.digits(phone)]

    def find(self, wamid: str) -> SentMessage | None:
        return next((m for m in self.sent if m.wamid == wamid), None)

    async def wait_for(
        self,
        predicate: Callable[[SentMessage], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - reads better in tests than an asyncio.timeout block
    ) -> SentMessage:
        """The first record matching ``predicate``, already sent or still to come; TimeoutError otherwise."""
        return await self._waiters.wait_for(self.sent, predicate, timeout, "message")

    def subscribe(self) -> asyncio.Queue[SentMessage]:
        """A queue that gets every record from now on (for the sandbox page's server-sent events)."""
        queue: asyncio.Queue[SentMessage] = asyncio.Queue()
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[SentMessage]) -> None:
        if queue in self._queues:
            self._queues.remove(queue)

    def listen(
        self,
        on_send: Callable[[SentMessage], None] | None = None,
        on_status: Callable[[SentMessage, str], None] | None = None,
    ) -> None:
        """Calls ``on_send`` with each accepted send as it is recorded, and ``on_status`` with each status
        ("tick") once it is posted to the bot (the sandbox page shows both as they happen)."""
        if on_send is not None:
            self._send_listeners.append(on_send)
        if on_status is not None:
            self._status_listeners.append(on_status)

    def _notify_status(self, message: SentMessage, status: str) -> None:
        for listener in self._status_listeners:
            try:
                listener(message, status)
            except Exception:  # noqa: BLE001 - a watcher's bug must not stop the ticks
                log.exception("sandbox WhatsApp: a status listener failed")

    # -- fault injection ----------------------------------------------------------------------------

    def fail_next(
        self, code: int, *, times: int = 1, to: str | None = None, http_status: int | None = None
    ) -> None:
        """Refuse the next ``times`` sends (to ``to`` only, if given) with Graph error ``code``.

        The HTTP status is Graph's for that code (400, 429 for throttling, 500/503 for transient errors)
        unless ``http_status`` is given. Faults queue up in the order they were added.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(_Fault(code, times, payloads.digits(to) if to is not None else None, http_status))

    def _take_fault(self, to: str) -> _Fault | None:
        for fault in self._faults:
            if fault.to is None or fault.to == to:
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_response(fault: _Fault) -> web.Response:
        info = payloads.error_info(fault.code)
        body = error_envelope(
            fault.code,
            f"(#{fault.code}) {info.title}",
            details=info.details,
            transient=True if info.transient else None,
        )
        return web.json_response(body, status=fault.http_status or info.http_status)

    # -- the endpoint -------------------------------------------------------------------------------

    def _check_auth(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization")
        if header is None:
            message = "An active access token must be used to query information about the current user."
            return web.json_response(error_envelope(2500, message), status=401)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        valid = scheme.lower() == "bearer" and bool(token)
        if valid and self._access_token is not None:
            valid = hmac.compare_digest(token.encode(), self._access_token.encode())
        if not valid:
            message = "Invalid OAuth access token - Cannot parse access token"
            return web.json_response(error_envelope(190, message), status=401)
        return None

    async def _handle_unsupported(self, request: web.Request) -> web.Response:
        message = (
            f"Unsupported {request.method.lower()} request. Object with ID '{request.match_info['tail']}' "
            "does not exist, cannot be loaded due to missing permissions, or does not support this operation."
        )
        body = error_envelope(100, message, error_type="GraphMethodException")
        body["error"]["error_subcode"] = 33
        return web.json_response(body, status=400)

    @property
    def templates(self) -> list[FakeTemplate]:
        """The business account's message templates (``GET /{waba-id}/message_templates``)."""
        return self.account.templates

    async def _handle_phone_number(self, request: web.Request) -> web.Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        return self.account.phone_number(request.match_info["phone_id"], request)

    async def _handle_templates(self, request: web.Request) -> web.Response:
        if (denied := self._check_auth(request)) is not None:
            return denied
        return self.account.message_templates(request.match_info["waba_id"], request)

    async def _handle_messages(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if (denied := self._check_auth(request)) is not None:
            return denied
        phone_id = request.match_info["phone_id"]
        try:
            if self._phone_ids is not None and phone_id not in self._phone_ids:
                raise GraphError(
                    100, f"Unsupported post request. Object with ID '{phone_id}' does not exist."
                )
            raw = await request.text()
            data = parse_body(raw)
            if "status" in data:
                return self._read_mark(phone_id, data)
            return self._send(phone_id, data, raw)
        except GraphError as error:
            return error_response(error)

    def _read_mark(self, phone_id: str, data: Json) -> web.Response:
        message_id, typing = parse_read_mark(data)
        self.read_marks.append(ReadMark(phone_id, message_id, typing, self._clock()))
        return web.json_response({"success": True})

    def _send(self, phone_id: str, data: Json, raw: str) -> web.Response:
        kind = parse_kind(data)
        to, addressed_by, contact = parse_recipient(data)
        self._attempts_to[to] += 1
        content = parse_content(kind, data)
        if (fault := self._take_fault(to)) is not None:
            return self._fault_response(fault)
        reply_to = parse_reply_to(data)
        message = SentMessage(
            seq=next(self._seq),
            wamid=payloads.new_wamid(),
            phone_id=phone_id,
            to=to,
            kind=kind,
            text=content.text,
            at=self._clock(),
            raw=raw,
            addressed_by=addressed_by,
            buttons=content.buttons,
            interactive_type=content.interactive_type,
            header=content.header,
            footer=content.footer,
            list_button=content.list_button,
            template_name=content.template_name,
            template_language=content.template_language,
            template_params=content.template_params,
            reply_to=reply_to,
            tracker=data.get("biz_opaque_callback_data"),
        )
        self._record(message)
        sent: Json = {"id": message.wamid}
        if kind == "template":
            sent["message_status"] = "accepted"  # Graph's pacing field, templates only
        answer = {"messaging_product": "whatsapp", "contacts": [contact], "messages": [sent]}
        return web.json_response(answer)

    def _record(self, message: SentMessage) -> None:
        self.sent.append(message)
        log.debug("sandbox WhatsApp: %s message %s from %s", message.kind, message.wamid, message.phone_id)
        for queue in self._queues:
            queue.put_nowait(message)
        for listener in self._send_listeners:
            try:
                listener(message)
            except Exception:  # noqa: BLE001 - a watcher's bug must not refuse the send
                log.exception("sandbox WhatsApp: a send listener failed")
        self._waiters.recorded(message)
        self._webhooks.after_send(message)
