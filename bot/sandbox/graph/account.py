"""The fake Graph API's reads of the account: ``GET /{phone-number-id}`` and
``GET /{waba-id}/message_templates`` (paged by ``limit`` and the ``after`` cursor), in Graph's shapes."""

from __future__ import annotations

import base64
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from aiohttp import web

from bot.sandbox.graph.records import Json
from bot.sandbox.graph.requests import error_envelope

DEFAULT_VERIFIED_NAME = "Sandbox Bakery"
MAX_LIMIT = 1000
FIRST_TEMPLATE_ID = 594425479261596


@dataclass
class FakeTemplate:
    name: str
    language: str = "fr"
    status: str = "APPROVED"
    category: str = "UTILITY"

    def as_json(self, index: int, fields: Collection[str]) -> Json:
        row: Json = {"name": self.name, "language": self.language, "status": self.status,
                     "category": self.category, "id": str(FIRST_TEMPLATE_ID + index)}  # fmt: skip
        return {k: v for k, v in row.items() if k in fields or k == "id"}


@dataclass
class AccountPages:
    """What the account reads answer: the business numbers' names and quality, the templates."""

    waba_id: Callable[[], str]
    display_number: Callable[[str], str]
    known_phone_ids: Callable[[], frozenset[str] | None]
    verified_name: str = DEFAULT_VERIFIED_NAME
    quality_rating: str = "GREEN"
    templates: list[FakeTemplate] = field(default_factory=list)

    def phone_number(self, phone_id: str, request: web.Request) -> web.Response:
        fields = _fields(request)
        known = self.known_phone_ids()
        if known is not None and phone_id not in known:
            return unsupported_get(phone_id)
        row: Json = {
            "verified_name": self.verified_name,
            "code_verification_status": "VERIFIED",
            "display_phone_number": _shown(self.display_number(phone_id)),
            "quality_rating": self.quality_rating,
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "id": phone_id,
        }
        if fields:
            row = {k: v for k, v in row.items() if k in fields or k == "id"}
        return web.json_response(row)

    def message_templates(self, waba_id: str, request: web.Request) -> web.Response:
        if waba_id != self.waba_id():
            return unsupported_get(f"{waba_id}/message_templates")
        fields = _fields(request) or {"name", "language", "status", "category", "components"}
        try:
            limit = min(int(request.query.get("limit", "25")), MAX_LIMIT)
            start = _decode(request.query["after"]) if "after" in request.query else 0
        except ValueError:
            body = error_envelope(100, "(#100) Invalid parameter", error_type="OAuthException")
            return web.json_response(body, status=400)
        page = self.templates[start : start + max(limit, 1)]
        answer: Json = {"data": [t.as_json(start + i, fields) for i, t in enumerate(page)]}
        if page:
            end = start + len(page)
            paging: Json = {"cursors": {"before": _encode(start), "after": _encode(end)}}
            if end < len(self.templates):
                paging["next"] = str(request.url.update_query({"after": _encode(end)}))
            answer["paging"] = paging
        return web.json_response(answer)


def unsupported_get(object_id: str) -> web.Response:
    message = (
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation."
    )
    body = error_envelope(100, message, error_type="GraphMethodException")
    body["error"]["error_subcode"] = 33
    return web.json_response(body, status=400)


def _fields(request: web.Request) -> set[str]:
    return {f.strip() for f in request.query.get("fields", "").split(",") if f.strip()}


def _shown(digits: str) -> str:
    """Graph shows the number with a plus and spaces; close enough for the fake: "+15550783881"."""
    return f"+{digits}"


def _encode(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return max(int(base64.urlsafe_b64decode(padded.encode()).decode()), 0)
    except (ValueError, UnicodeDecodeError):
        raise ValueError(cursor) from None
