"""What ``bot doctor`` asks of the WhatsApp account (a port, implemented by ``bot.whatsapp.graph_account``):
the business number a token opens, and the message templates of the business account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Graph's error codes that say what to fix: the token, or the id asked for.
TOKEN_ERROR_CODES = frozenset({190, 102, 463, 467})
PERMISSION_ERROR_CODES = frozenset({10, 200, 294})
UNKNOWN_OBJECT_CODE = 100


class GraphReadError(Exception):
    """A Graph API read that failed: its error code (None: Graph was not reached) and a short message that
    never holds the token."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    id: str
    display_phone_number: str | None
    verified_name: str | None
    quality_rating: str | None


@dataclass(frozen=True, slots=True)
class TemplateState:
    name: str
    language: str
    status: str


class WhatsAppAccount(Protocol):
    async def phone_number(self, phone_id: str) -> PhoneNumber: ...

    async def templates(self, waba_id: str) -> list[TemplateState]: ...
