"""Graph API reads for ``bot doctor``: ``GET /{phone-number-id}`` and ``GET /{waba-id}/message_templates``.

Plain httpx, not pywa: two read-only calls with their errors kept as Graph's codes. The token goes only to
the configured Graph address: the next page is asked for with the ``after`` cursor, never by following
the ``next`` URL a response gives.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.services.whatsapp_account import GraphReadError, PhoneNumber, TemplateState
from bot.whatsapp.clients import GRAPH_API_VERSION

TIMEOUT_SECONDS = 10.0
PAGE_SIZE = 100
MAX_PAGES = 20
MAX_MESSAGE = 200


class GraphAccount:
    def __init__(self, graph_url: str, token: str, http: httpx.AsyncClient | None = None) -> None:
        self._base = f"{graph_url.rstrip('/')}/v{GRAPH_API_VERSION}"
        self._token = token
        self._http = http or httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        self._own_http = http is None

    async def close(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def phone_number(self, phone_id: str) -> PhoneNumber:
        data = await self._get(
            _node(phone_id), {"fields": "display_phone_number,verified_name,quality_rating"}
        )
        return PhoneNumber(
            id=str(data.get("id") or phone_id),
            display_phone_number=_text(data.get("display_phone_number")),
            verified_name=_text(data.get("verified_name")),
            quality_rating=_text(data.get("quality_rating")),
        )

    async def templates(self, waba_id: str) -> list[TemplateState]:
        found: list[TemplateState] = []
        params = {"fields": "name,language,status", "limit": str(PAGE_SIZE)}
        for _ in range(MAX_PAGES):
            data = await self._get(f"{_node(waba_id)}/message_templates", params)
            rows = data.get("data")
            found.extend(_template(row) for row in (rows if isinstance(rows, list) else []) if _named(row))
            after = _after_cursor(data)
            if after is None:
                break
            params = {**params, "after": after}
        return found

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            response = await self._http.get(f"{self._base}/{path}", params=params, headers=headers)
        except httpx.HTTPError as error:
            raise GraphReadError(None, f"cannot reach the Graph API ({type(error).__name__})") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise GraphReadError(None, f"the Graph API answered HTTP {response.status_code} without JSON")
        problem = body.get("error")
        if response.is_error or isinstance(problem, dict):
            details: dict[str, Any] = problem if isinstance(problem, dict) else {}
            code = details.get("code")
            message = self._scrub(str(details.get("message") or f"HTTP {response.status_code}"))
            raise GraphReadError(code if isinstance(code, int) else None, message)
        return body

    def _scrub(self, message: str) -> str:
        """Graph's messages do not repeat the token; this makes sure of it."""
        if self._token:
            message = message.replace(self._token, "***")
        return message[:MAX_MESSAGE]


def _node(object_id: str) -> str:
    """Graph ids are digits: anything else would change the path the token is sent to."""
    cleaned = object_id.strip()
    if not cleaned.isascii() or not cleaned.isdigit():
        raise GraphReadError(None, f"{cleaned[:40]!r} is not a Graph id (digits only)")
    return cleaned


def _named(row: Any) -> bool:
    return isinstance(row, dict) and isinstance(row.get("name"), str)


def _template(row: dict[str, Any]) -> TemplateState:
    return TemplateState(row["name"], str(row.get("language") or ""), str(row.get("status") or ""))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _after_cursor(data: dict[str, Any]) -> str | None:
    paging = data.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return after if isinstance(after, str) and after else None
