"""The sandbox's Instagram: a fake Graph API Send API and the customer's side of Instagram Direct.

What the sandbox's Instagram customer types goes to the bot as a signed webhook in Instagram's own shape
(``object: instagram``, ``entry[].messaging[]``) through the real inbound path (``/webhooks/instagram``);
what the bot sends reaches ``POST /sandbox/instagram/{ig-user-id}/messages`` as it would reach Meta, and
is recorded here (the sandbox page and the tests read it). Its User Profile API knows the usernames it
was given. Tests use it as the wire fake of the Send API, faults included.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.waiters import Waiters
from bot.services.clock import Clock

log = logging.getLogger(__name__)
OUTSIDE_WINDOW = {
    "message": "This message is sent outside of allowed window.",
    "type": "IGApiException",
    "code": 10,
    "error_subcode": 2534022,
}


@dataclass(frozen=True, slots=True)
class InstagramSent:
    seq: int
    account_id: str
    to: str
    text: str
    mid: str


@dataclass(frozen=True, slots=True)
class InstagramDelivery:
    status: int
    body: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(slots=True)
class _Fault:
    status: int
    error: dict[str, Any]
    times: int


@dataclass
class FakeInstagramAPI:
    webhook_url: str
    app_secret: str
    token: str
    clock: Clock
    usernames: dict[str, str] = field(default_factory=dict)
    sent: list[InstagramSent] = field(default_factory=list)
    deliveries: list[InstagramDelivery] = field(default_factory=list)
    attempts: int = 0
    # The body of every Send API call, as it came (tests check its shape).
    requests: list[dict[str, Any]] = field(default_factory=list)
    _faults: list[_Fault] = field(default_factory=list)
    _waiters: Waiters[InstagramSent] = field(default_factory=Waiters)
    _listeners: list[Callable[[InstagramSent], None]] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _http: httpx.AsyncClient | None = None

    def routes(self, prefix: str) -> list[web.AbstractRouteDef]:
        return [
            web.post(prefix + "/{account}/messages", self._messages),
            web.get(prefix + "/{user}", self._profile),
        ]

    # -- the customer's side ------------------------------------------------------------------------

    def text_message(
        self, account_id: str, sender: str, text: str, *, reply_to: str | None = None
    ) -> dict[str, Any]:
        """A customer's message as Meta posts it (one entry, one messaging item)."""
        stamp = int(self.clock().timestamp() * 1000)
        message: dict[str, Any] = {"mid": "aWdfZAG1faXRlbToxOklH" + secrets.token_hex(12), "text": text}
        if reply_to is not None:
            message["reply_to"] = {"mid": reply_to}
        return {
            "object": "instagram",
            "entry": [
                {
                    "id": account_id,
                    "time": stamp,
                    "messaging": [
                        {
                            "sender": {"id": sender},
                            "recipient": {"id": account_id},
                            "timestamp": stamp,
                            "message": message,
                        }
                    ],
                }
            ],
        }

    async def deliver(self, payload: dict[str, Any]) -> InstagramDelivery:
        """POSTs ``payload`` to the bot, signed with the app's secret as Meta does."""
        body = payloads.encode(payload)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        headers = {
            "X-Hub-Signature-256": payloads.sign(body, self.app_secret),
            "Content-Type": "application/json",
        }
        try:
            response = await self._http.post(self.webhook_url, content=body, headers=headers)
            delivery = InstagramDelivery(response.status_code, response.text)
        except httpx.HTTPError as error:
            delivery = InstagramDelivery(0, type(error).__name__)
        self.deliveries.append(delivery)
        return delivery

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- what the bot sent --------------------------------------------------------------------------

    def sent_to(self, user_id: str) -> list[InstagramSent]:
        return [m for m in self.sent if m.to == user_id]

    def listen(self, listener: Callable[[InstagramSent], None]) -> None:
        self._listeners.append(listener)

    async def wait_for(
        self,
        predicate: Callable[[InstagramSent], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - reads better in tests than an asyncio.timeout block
    ) -> InstagramSent:
        return await self._waiters.wait_for(self.sent, predicate, timeout, "Instagram message")

    def fail_next(self, status: int, error: dict[str, Any], times: int = 1) -> None:
        """The next ``times`` sends answer ``status`` with Meta's ``{"error": ...}``."""
        self._faults.append(_Fault(status, error, times))

    # -- the Graph API ------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _profile(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(
                401, {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
            )
        user = request.match_info["user"]
        found = self.usernames.get(user)
        if found is None:
            return _error(
                400, {"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100}
            )
        return web.json_response({"username": found, "id": user})

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(
                401, {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}
            )
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, {"message": "Invalid JSON", "type": "OAuthException", "code": 100})
        self.requests.append(data if isinstance(data, dict) else {"body": data})
        recipient = data.get("recipient") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        to = recipient.get("id") if isinstance(recipient, dict) else None
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(to, str) or not isinstance(text, str) or not text or len(text) > 1000:
            return _error(400, {"message": "(#100) Invalid parameter", "type": "IGApiException", "code": 100})
        self.attempts += 1
        if self._faults:
            fault = self._faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._faults.pop(0)
            return _error(fault.status, fault.error)
        sent = InstagramSent(
            next(self._seq), request.match_info["account"], to, text, "m_" + secrets.token_hex(16)
        )
        self.sent.append(sent)
        self._waiters.recorded(sent)
        for listener in self._listeners:
            listener(sent)
        return web.json_response({"recipient_id": to, "message_id": sent.mid})


def _error(status: int, error: dict[str, Any]) -> web.Response:
    return web.json_response({"error": {**error, "fbtrace_id": "A" + secrets.token_hex(8)}}, status=status)
