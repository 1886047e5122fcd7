"""The Graph API's Send API for Instagram, with httpx (pywa covers only WhatsApp).

``POST {graph}/{ig-user-id}/messages`` with ``{"recipient": {"id": IGSID}, "message": {"text": ...}}``;
the token goes in the Authorization header, never in a URL that could be logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bot.channels.instagram.config import InstagramConfig

log = logging.getLogger(__name__)
HTTP_TIMEOUT_SECONDS = 30.0
# Instagram refuses a text of more than 1000 characters: a longer one goes in several messages.
MAX_TEXT = 1000
# Meta's answer to a message outside the 24-hour window (code 10, IGApiException).
OUTSIDE_WINDOW_SUBCODE = 2534022
THROTTLING_CODES = frozenset({4, 17, 32, 613})
TRANSIENT_CODES = frozenset({1, 2})


@dataclass(eq=False)
class InstagramError(Exception):
    """A refusal of the Send API, or an answer we cannot read."""

    status: int
    code: int | None
    subcode: int | None
    message: str
    transient: bool = False

    def __str__(self) -> str:
        return f"{self.code or self.status}: {self.message}"

    @property
    def outside_window(self) -> bool:
        return self.code == 10 and self.subcode == OUTSIDE_WINDOW_SUBCODE

    @property
    def throttled(self) -> bool:
        return self.status == 429 or self.code in THROTTLING_CODES

    @property
    def retryable(self) -> bool:
        return self.transient or self.status >= 500 or self.code in TRANSIENT_CODES


def _error(response: httpx.Response) -> InstagramError:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return InstagramError(response.status_code, None, None, f"HTTP {response.status_code}")
    code, subcode = error.get("code"), error.get("error_subcode")
    return InstagramError(
        response.status_code,
        code if isinstance(code, int) else None,
        subcode if isinstance(subcode, int) else None,
        str(error.get("message", ""))[:300],
        bool(error.get("is_transient", False)),
    )


def text_parts(text: str) -> list[str]:
    """``text`` cut into messages Instagram takes, at line ends where it can."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > MAX_TEXT:
        cut = rest.rfind("\n", 0, MAX_TEXT)
        if cut <= 0:
            cut = MAX_TEXT
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


class InstagramClient:
    def __init__(self, config: InstagramConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._http = httpx.AsyncClient(
            timeout=HTTP_TIMEOUT_SECONDS,
            transport=transport,
            headers={"Authorization": f"Bearer {config.token}"},
        )

    async def send_text(self, recipient_id: str, text: str) -> str:
        """Sends ``text`` to the customer; the message id of the (last) message sent. InstagramError on a
        refusal; httpx's errors when Meta cannot be reached."""
        url = f"{self.config.graph_url}/{self.config.account_id}/messages"
        message_id = ""
        for part in text_parts(text):
            body = {"recipient": {"id": recipient_id}, "message": {"text": part}}
            response = await self._http.post(url, json=body)
            if response.status_code >= 400:
                raise _error(response)
            try:
                answer: Any = response.json()
            except ValueError:
                answer = None
            if not isinstance(answer, dict) or not isinstance(answer.get("message_id"), str):
                raise InstagramError(response.status_code, None, None, "no message_id in the answer", True)
            message_id = answer["message_id"]
        return message_id

    async def username(self, user_id: str) -> str | None:
        """The customer's username (the User Profile API), or None when Meta does not give it."""
        try:
            response = await self._http.get(
                f"{self.config.graph_url}/{user_id}", params={"fields": "username,name"}
            )
        except httpx.HTTPError as error:
            log.info("no Instagram profile for a customer now: %s", type(error).__name__)
            return None
        if response.status_code >= 400:
            return None
        try:
            found: Any = response.json()
        except ValueError:
            return None
        name = found.get("username") if isinstance(found, dict) else None
        return name if isinstance(name, str) and name else None

    async def close(self) -> None:
        await self._http.aclose()
