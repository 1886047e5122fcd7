"""The sandbox's built-in WhatsApp: a fake of the WhatsApp Cloud (Graph) API's send endpoint.

It takes exactly what pywa_async 4.5 posts for text, reply buttons, lists, URL buttons, templates and read
marks, answers with Graph's shapes and error envelopes, records each accepted send, and posts the status
webhooks ("ticks") back to the bot, signed like Meta. Payload shapes it does not model are refused with a
Graph error, so a test never passes because the fake ignored something. Faults can be injected per code.
"""

from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import secrets
from collections import Counter
from collections.abc import Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

import httpx
from aiohttp import web

from bot.sandbox import whatsapp_payloads as payloads
from bot.services.clock import Clock, system_clock

log = logging.getLogger(__name__)

Json = dict[str, Any]
Kind = Literal["text", "interactive", "template"]
MODELLED_TYPES: tuple[Kind, ...] = ("text", "interactive", "template")
_TOP_LEVEL_KEYS = frozenset(
    {
        "messaging_product",
        "recipient_type",
        "to",
        "recipient",
        "type",
        "context",
        "biz_opaque_callback_data",
        "recipient_identity_key_hash",
        *MODELLED_TYPES,
    }
)


@dataclass(frozen=True, slots=True)
class Choice:
    """A reply button, a list row, a URL button (``id`` is then the URL) or a template button parameter."""

    id: str
    title: str
    description: str | None = None
    section: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One send the fake accepted (not pywa's ``SentMessage``): what the customer's phone would show."""

    seq: int
    wamid: str
    phone_id: str
    to: str  # digits only
    kind: Kind
    text: str  # the body, or for a template its name and parameters
    at: datetime
    raw: str  # the JSON body exactly as posted
    addressed_by: Literal["to", "recipient"] = "to"
    buttons: tuple[Choice, ...] = ()
    interactive_type: str | None = None  # "button", "list" or "cta_url"
    header: str | None = None
    footer: str | None = None
    list_button: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()
    reply_to: str | None = None
    tracker: str | None = None

    def body(self) -> Json:
        """A fresh copy of the posted JSON."""
        data: Json = json.loads(self.raw)
        return data


@dataclass(frozen=True, slots=True)
class ReadMark:
    """A ``mark_message_as_read`` (with ``typing``: ``indicate_typing``) call."""

    phone_id: str
    message_id: str
    typing: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One webhook the fake posted to the bot, and how the bot answered (``error`` if it did not)."""

    body: bytes
    status_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(slots=True)
class _Fault:
    code: int
    times: int
    to: str | None
    http_status: int | None


class _GraphError(Exception):
    """A request Graph would refuse; becomes the error envelope."""

    def __init__(self, code: int, message: str, http_status: int = 400, details: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.details = details


def _invalid(details: str) -> _GraphError:
    return _GraphError(131009, "(#131009) Parameter value is not valid", details=details)


def _missing(name: str) -> _GraphError:
    return _GraphError(
        131008, "(#131008) Required parameter is missing", details=f"Parameter '{name}' is required."
    )


def _unmodelled(details: str) -> _GraphError:
    return _GraphError(100, "(#100) Invalid parameter", details=f"{details} (not modelled by the sandbox)")


def error_envelope(
    code: int,
    message: str,
    *,
    details: str | None = None,
    error_type: str = "OAuthException",
    transient: bool | None = None,
) -> Json:
    """Graph's ``{"error": {...}}`` body."""
    error: Json = {"message": message, "type": error_type, "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if transient is not None:
        error["is_transient"] = transient
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return {"error": error}


def _error_response(error: _GraphError) -> web.Response:
    body = error_envelope(error.code, error.message, details=error.details)
    return web.json_response(body, status=error.http_status)


def _text(value: Any, name: str, limit: int, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise _missing(name)
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{name} must be a string")
    if len(value) > limit:
        raise _invalid(f"{name} is longer than {limit} characters")
    return value


def _object(value: Any, name: str) -> Json:
    if value is None:
        raise _missing(name)
    if not isinstance(value, dict):
        raise _invalid(f"{name} must be an object")
    return value


def _array(value: Any, name: str, low: int, high: int) -> list[Any]:
    if value is None:
        raise _missing(name)
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise _invalid(f"{name} must be an array of {low} to {high} items")
    return value


def _unique(choices: Sequence[Choice], what: str) -> None:
    ids = [c.id for c in choices]
    if len(set(ids)) != len(ids):
        raise _invalid(f"{what} ids must be unique")


@dataclass(slots=True)
class _Content:
    """The kind-specific part of a send, parsed."""

    text: str
    buttons: tuple[Choice, ...] = ()
    interactive_type: str | None = None
    header: str | None = None
    footer: str | None = None
    list_button: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()


def _parse_text(data: Json) -> _Content:
    text = _object(data.get("text"), "text")
    if set(text) - {"body", "preview_url"}:
        raise _unmodelled(f"text fields {sorted(set(text) - {'body', 'preview_url'})}")
    return _Content(text=_text(text.get("body"), "text.body", 4096))


def _parse_reply_buttons(action: Json) -> tuple[Choice, ...]:
    choices: list[Choice] = []
    for i, item in enumerate(_array(action.get("buttons"), "action.buttons", 1, 3)):
        button = _object(item, f"action.buttons[{i}]")
        if button.get("type") != "reply":
            raise _invalid(f"action.buttons[{i}].type must be 'reply'")
        reply = _object(button.get("reply"), f"action.buttons[{i}].reply")
        button_id = _text(reply.get("id"), f"action.buttons[{i}].reply.id", 256)
        choices.append(Choice(button_id, _text(reply.get("title"), f"action.buttons[{i}].reply.title", 20)))
    _unique(choices, "Button")
    if len({c.title for c in choices}) != len(choices):
        raise _invalid("Button titles must be unique")
    return tuple(choices)


def _parse_list(action: Json) -> tuple[str, tuple[Choice, ...]]:
    button = _text(action.get("button"), "action.button", 20)
    sections = _array(action.get("sections"), "action.sections", 1, 10)
    choices: list[Choice] = []
    for i, item in enumerate(sections):
        section = _object(item, f"action.sections[{i}]")
        title = _text(section.get("title"), f"action.sections[{i}].title", 24, required=len(sections) > 1)
        for j, row_item in enumerate(_array(section.get("rows"), f"action.sections[{i}].rows", 1, 10)):
            name = f"action.sections[{i}].rows[{j}]"
            row = _object(row_item, name)
            description = _text(row.get("description"), f"{name}.description", 72, required=False)
            choices.append(
                Choice(
                    _text(row.get("id"), f"{name}.id", 200),
                    _text(row.get("title"), f"{name}.title", 24),
                    description=description or None,
                    section=title or None,
                )
            )
    if len(choices) > 10:
        raise _invalid("a list has at most 10 rows in all")
    _unique(choices, "Row")
    return button, tuple(choices)


def _parse_url_button(action: Json) -> Choice:
    if action.get("name") != "cta_url":
        raise _invalid("action.name must be 'cta_url'")
    parameters = _object(action.get("parameters"), "action.parameters")
    url = _text(parameters.get("url"), "action.parameters.url", 2000)
    if not url.startswith(("https://", "http://")):
        raise _invalid("action.parameters.url must be an http(s) URL")
    return Choice(url, _text(parameters.get("display_text"), "action.parameters.display_text", 20), url=url)


def _parse_interactive(data: Json) -> _Content:
    interactive = _object(data.get("interactive"), "interactive")
    kind = interactive.get("type")
    action = _object(interactive.get("action"), "interactive.action")
    body = _object(interactive.get("body"), "interactive.body")
    content = _Content(text=_text(body.get("text"), "interactive.body.text", 1024), interactive_type=kind)
    if kind == "button":
        content.buttons = _parse_reply_buttons(action)
    elif kind == "list":
        content.list_button, content.buttons = _parse_list(action)
    elif kind == "cta_url":
        content.buttons = (_parse_url_button(action),)
    else:
        raise _unmodelled(f"interactive type {kind!r}")
    if (header := interactive.get("header")) is not None:
        header = _object(header, "interactive.header")
        if header.get("type") != "text":
            raise _unmodelled(f"interactive header type {header.get('type')!r}")
        content.header = _text(header.get("text"), "interactive.header.text", 60)
    if (footer := interactive.get("footer")) is not None:
        content.footer = _text(
            _object(footer, "interactive.footer").get("text"), "interactive.footer.text", 60
        )
    return content


def _parameter_text(parameter: Any, name: str) -> str:
    item = _object(parameter, name)
    kind = item.get("type")
    if kind == "text":
        return _text(item.get("text"), f"{name}.text", 32768)
    if kind == "payload":
        return _text(item.get("payload"), f"{name}.payload", 256)
    if kind in ("currency", "date_time"):
        return _text(
            _object(item.get(kind), f"{name}.{kind}").get("fallback_value"), f"{name}.fallback_value", 1024
        )
    raise _unmodelled(f"template parameter type {kind!r}")


def _parse_template(data: Json) -> _Content:
    template = _object(data.get("template"), "template")
    name = _text(template.get("name"), "template.name", 512)
    language = _text(_object(template.get("language"), "template.language").get("code"), "language.code", 15)
    params: list[str] = []
    header: str | None = None
    buttons: list[Choice] = []
    for i, item in enumerate(template.get("components") or []):
        component = _object(item, f"template.components[{i}]")
        kind = str(component.get("type", "")).lower()
        values = [
            _parameter_text(p, f"template.components[{i}].parameters[{j}]")
            for j, p in enumerate(component.get("parameters") or [])
        ]
        if kind == "body":
            params.extend(values)
        elif kind == "header":
            header = " ".join(values) or None
        elif kind == "button":
            index = str(component.get("index", ""))
            sub_type = str(component.get("sub_type", "")).lower()
            buttons.extend(
                Choice(f"{sub_type}:{index}", value, url=value if sub_type == "url" else None)
                for value in values
            )
        else:
            raise _unmodelled(f"template component type {component.get('type')!r}")
    shown = f"[template {name} ({language})]" + "".join(f" {{{{{n}}}}}={p}" for n, p in enumerate(params, 1))
    return _Content(
        text=shown,
        buttons=tuple(buttons),
        header=header,
        template_name=name,
        template_language=language,
        template_params=tuple(params),
    )


_PARSERS: Mapping[str, Callable[[Json], _Content]] = {
    "text": _parse_text,
    "interactive": _parse_interactive,
    "template": _parse_template,
}


class FakeGraphAPI:
    """``POST /{version}/{phone_id}/messages`` of Graph, in process, with recording and fault injection.

    ``webhook_url``/``app_secret`` make it post signed status webhooks after each accepted send, one per
    entry of ``auto_statuses``, ``status_delay`` seconds apart. ``access_token`` (optional) is the only
    bearer token accepted; ``phone_ids`` (optional) the only business numbers that exist.
    """

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        app_secret: str = "",
        auto_statuses: Sequence[str] = ("sent", "delivered", "read"),
        status_delay: float = 0.0,
        access_token: str | None = None,
        phone_ids: Collection[str] | None = None,
        waba_id: str = payloads.DEFAULT_WABA_ID,
        display_numbers: Mapping[str, str] | None = None,
        clock: Clock = system_clock,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._webhook_url: str | None = None
        self._app_secret = ""
        if webhook_url is not None:
            self.set_webhook(webhook_url, app_secret)
        self.auto_statuses = tuple(auto_statuses)
        self.status_delay = status_delay
        self._access_token = access_token
        self._phone_ids = frozenset(phone_ids) if phone_ids is not None else None
        self.waba_id = waba_id
        self._display_numbers = dict(display_numbers or {})
        self._clock = clock
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(timeout=10.0)
        self.sent: list[SentMessage] = []
        self.read_marks: list[ReadMark] = []
        self.deliveries: list[WebhookDelivery] = []
        self._seq = itertools.count(1)
        self.attempts = 0  # every POST to /messages, refused ones included
        self._attempts_to: Counter[str] = Counter()
        self._faults: list[_Fault] = []
        self._waiters: list[tuple[Callable[[SentMessage], bool], asyncio.Future[SentMessage]]] = []
        self._queues: list[asyncio.Queue[SentMessage]] = []
        self._send_listeners: list[Callable[[SentMessage], None]] = []
        self._status_listeners: list[Callable[[SentMessage, str], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

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
        found: list[web.AbstractRouteDef] = [
            web.post(prefix + r"/{version:v\d+\.\d+}/{phone_id}/messages", self._handle_messages)
        ]
        if prefix:
            found.append(web.route("*", prefix + "/{tail:.*}", self._handle_unsupported))
        return found

    def add_routes(self, app: web.Application, prefix: str = "") -> None:
        """Mounts the fake on its own app (tests serve it apart from the bot)."""
        app.router.add_routes(self.routes(prefix))

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
        for message in self.sent:
            if predicate(message):
                return message
        future: asyncio.Future[SentMessage] = asyncio.get_running_loop().create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise TimeoutError(f"no matching message sent within {timeout} s") from None
        finally:
            self._waiters.remove(waiter)

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

    async def _handle_messages(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if (denied := self._check_auth(request)) is not None:
            return denied
        phone_id = request.match_info["phone_id"]
        try:
            if self._phone_ids is not None and phone_id not in self._phone_ids:
                raise _GraphError(
                    100, f"Unsupported post request. Object with ID '{phone_id}' does not exist."
                )
            raw = await request.text()
            try:
                data = json.loads(raw)
            except json.JSONDecodeError:
                raise _invalid("the body is not JSON") from None
            if not isinstance(data, dict):
                raise _invalid("the body is not a JSON object")
            if data.get("messaging_product") != "whatsapp":
                raise _missing("messaging_product")
            if "status" in data:
                return self._read_mark(phone_id, data)
            return self._send(phone_id, data, raw)
        except _GraphError as error:
            return _error_response(error)

    def _read_mark(self, phone_id: str, data: Json) -> web.Response:
        if data.get("status") != "read":
            raise _invalid("status must be 'read'")
        if set(data) - {"messaging_product", "status", "message_id", "typing_indicator"}:
            raise _unmodelled("read mark fields")
        message_id = _text(data.get("message_id"), "message_id", 256)
        self.read_marks.append(ReadMark(phone_id, message_id, "typing_indicator" in data, self._clock()))
        return web.json_response({"success": True})

    def _recipient(self, data: Json) -> tuple[str, Literal["to", "recipient"], Json]:
        """The phone digits, how they were addressed, and Graph's ``contacts`` item for the answer."""
        if data.get("recipient_type", "individual") != "individual":
            raise _unmodelled(f"recipient_type {data.get('recipient_type')!r}")
        if (to := data.get("to")) is not None:
            phone = payloads.digits(_text(to, "to", 32))
            if not 6 <= len(phone) <= 15:
                raise _invalid(f"'{to}' is not a valid phone number")
            return phone, "to", {"input": to, "wa_id": phone}
        user_id = _text(data.get("recipient"), "to", 64)
        if (phone_for := payloads.phone_for_user_id(user_id)) is None:
            raise _invalid(f"unknown recipient '{user_id}'")
        return phone_for, "recipient", {"input": user_id, "user_id": user_id}

    def _send(self, phone_id: str, data: Json, raw: str) -> web.Response:
        if unknown := set(data) - _TOP_LEVEL_KEYS:
            raise _unmodelled(f"fields {sorted(unknown)}")
        kind = data.get("type", "text")
        if kind not in _PARSERS:
            raise _unmodelled(f"message type {kind!r}")
        to, addressed_by, contact = self._recipient(data)
        self._attempts_to[to] += 1
        content = _PARSERS[kind](data)
        if (fault := self._take_fault(to)) is not None:
            return self._fault_response(fault)
        context = data.get("context")
        reply_to = _object(context, "context").get("message_id") if context is not None else None
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
        for predicate, future in self._waiters:
            if future.done():
                continue
            try:
                if predicate(message):
                    future.set_result(message)
            except Exception as error:  # noqa: BLE001 - the waiting caller should see its predicate's bug
                future.set_exception(error)
        if self._webhook_url is not None and self.auto_statuses:
            self._spawn(self._post_statuses(message))

    # -- webhooks to the bot ------------------------------------------------------------------------

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
            await self.deliver(self._status_payload(message, status))
            self._notify_status(message, status)

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

    async def send_failed_status(self, wamid: str, code: int = 131047) -> WebhookDelivery:
        """Post a ``failed`` status for a recorded message, as Meta does when delivery fails later."""
        message = self.find(wamid)
        if message is None:
            raise KeyError(f"no message {wamid} was sent")
        delivery = await self.deliver(self._status_payload(message, "failed", [payloads.status_error(code)]))
        self._notify_status(message, "failed")
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
