"""What the bot's buttons and list rows carry back when tapped: typed, with one encode and one decode.

The ids keep the short ``verb:order:...`` form WhatsApp sends back (at most 256 characters), so buttons
sent before a restart or an upgrade still decode. Anything else decodes to None (a stale or forged tap).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.domain.deposit import AskKind

_AMOUNT = re.compile(r"\d{1,8}(?:\.\d{1,3})?")
PayAction = Literal["full", "deposit", "cancel"]


@dataclass(frozen=True, slots=True)
class PayChoice:
    """[Paiement complet] [Acompte] [Annuler] of ``payé 12``."""

    order: int
    action: PayAction


@dataclass(frozen=True, slots=True)
class AmountPick:
    """A deposit amount picked in the list (30% / 50% / 100% or the default)."""

    order: int
    amount: str


@dataclass(frozen=True, slots=True)
class OtherAmount:
    """ "Autre montant": the vendor types the amount."""

    order: int


@dataclass(frozen=True, slots=True)
class ConfirmRequest:
    """[Confirmer et envoyer] for what the confirmation showed."""

    order: int
    ask: AskKind
    amount: str


@dataclass(frozen=True, slots=True)
class Resend:
    """[Renvoyer le lien]: the open request's link sent again."""

    order: int


@dataclass(frozen=True, slots=True)
class ConfirmRefund:
    order: int
    amount: str


@dataclass(frozen=True, slots=True)
class CancelRefund:
    order: int


Callback = PayChoice | AmountPick | OtherAmount | ConfirmRequest | Resend | ConfirmRefund | CancelRefund


def encode(data: Callback) -> str:
    match data:
        case PayChoice(order, action):
            return f"pay:{order}:{action}"
        case AmountPick(order, amount):
            return f"amt:{order}:{amount}"
        case OtherAmount(order):
            return f"other:{order}"
        case ConfirmRequest(order, ask, amount):
            return f"ok:{order}:{ask.value}:{amount}"
        case Resend(order):
            return f"resend:{order}"
        case ConfirmRefund(order, amount):
            return f"rf:{order}:{amount}"
        case CancelRefund(order):
            return f"rf:{order}:cancel"
    raise AssertionError(data)  # pragma: no cover - every kind is matched above


def _order(text: str) -> int | None:
    return int(text) if text.isdigit() and 0 < len(text) <= 9 and int(text) > 0 else None


def decode(text: str) -> Callback | None:
    verb, _, rest = text.partition(":")
    order_text, _, tail = rest.partition(":")
    order = _order(order_text)
    if order is None:
        return None
    if verb == "pay" and tail in ("full", "deposit", "cancel"):
        action: PayAction = "full" if tail == "full" else "deposit" if tail == "deposit" else "cancel"
        return PayChoice(order, action)
    if verb == "amt" and _AMOUNT.fullmatch(tail):
        return AmountPick(order, tail)
    if verb == "other" and not tail:
        return OtherAmount(order)
    if verb == "resend" and not tail:
        return Resend(order)
    if verb == "ok":
        ask, _, amount = tail.partition(":")
        if ask in {a.value for a in AskKind} and _AMOUNT.fullmatch(amount):
            return ConfirmRequest(order, AskKind(ask), amount)
        return None
    if verb == "rf":
        if tail == "cancel":
            return CancelRefund(order)
        return ConfirmRefund(order, tail) if _AMOUNT.fullmatch(tail) else None
    return None
