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
# A payment taken another way than a link sent: on the customer's saved card, or by the vendor on their
# own device while the customer reads their card out on the phone.
Via = Literal["card", "phone"]
ViaAction = Literal["full", "deposit", "balance", "guarantee", "cancel"]
_VIAS: dict[str, Via] = {"card": "card", "phone": "phone"}
_VIA_ACTIONS: dict[str, ViaAction] = {
    "full": "full", "deposit": "deposit", "balance": "balance", "guarantee": "guarantee", "cancel": "cancel",
}  # fmt: skip
_GUARANTEE = "guarantee"


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


@dataclass(frozen=True, slots=True)
class ConfirmCapture:
    """[Débiter 20.00 EUR] of ``debiter 12 20``: that much of the held guarantee is charged."""

    order: int
    amount: str


@dataclass(frozen=True, slots=True)
class CancelCapture:
    order: int


@dataclass(frozen=True, slots=True)
class ViaChoice:
    """A row of ``carte 12`` (``via="card"``) or ``telephone 12`` (``via="phone"``): what to take."""

    via: Via
    order: int
    action: ViaAction


@dataclass(frozen=True, slots=True)
class ViaAmount:
    """A deposit amount picked in the card's or the phone payment's list."""

    via: Via
    order: int
    amount: str


@dataclass(frozen=True, slots=True)
class ViaOther:
    """ "Autre montant" in the card's or the phone payment's list: the vendor types it."""

    via: Via
    order: int


@dataclass(frozen=True, slots=True)
class ConfirmCardCharge:
    """[Débiter la carte] for what the saved card's confirmation showed."""

    order: int
    ask: AskKind
    amount: str


@dataclass(frozen=True, slots=True)
class PhoneSave:
    """The customer's answer, said out loud, to "save the card?": the phone payment's link is then made.
    ``ask`` None is a guarantee."""

    order: int
    ask: AskKind | None
    amount: str
    save: bool


Callback = (
    PayChoice | AmountPick | OtherAmount | ConfirmRequest | Resend | ConfirmRefund | CancelRefund
    | ConfirmCapture | CancelCapture | ViaChoice | ViaAmount | ViaOther | ConfirmCardCharge | PhoneSave
)  # fmt: skip


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
        case ConfirmCapture(order, amount):
            return f"cap:{order}:{amount}"
        case CancelCapture(order):
            return f"cap:{order}:cancel"
        case ViaChoice(via, order, action):
            return f"{via}:{order}:{action}"
        case ViaAmount(via, order, amount):
            return f"{via}:{order}:amt:{amount}"
        case ViaOther(via, order):
            return f"{via}:{order}:other"
        case ConfirmCardCharge(order, ask, amount):
            return f"card:{order}:ok:{ask.value}:{amount}"
        case PhoneSave(order, ask, amount, save):
            what = _GUARANTEE if ask is None else ask.value
            return f"phone:{order}:save:{what}:{amount}:{int(save)}"
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
    if verb == "cap":
        if tail == "cancel":
            return CancelCapture(order)
        return ConfirmCapture(order, tail) if _AMOUNT.fullmatch(tail) else None
    via = _VIAS.get(verb)
    return None if via is None else _decode_via(via, order, tail)


_ASKS = {a.value: a for a in AskKind}


def _decode_via(via: Via, order: int, tail: str) -> Callback | None:
    action = _VIA_ACTIONS.get(tail)
    if action is not None:
        return ViaChoice(via, order, action)
    if tail == "other":
        return ViaOther(via, order)
    step, _, rest = tail.partition(":")
    if step == "amt" and _AMOUNT.fullmatch(rest):
        return ViaAmount(via, order, rest)
    if via == "card" and step == "ok":
        ask, _, amount = rest.partition(":")
        if ask in _ASKS and _AMOUNT.fullmatch(amount):
            return ConfirmCardCharge(order, _ASKS[ask], amount)
        return None
    if via == "phone" and step == "save":
        parts = rest.split(":")
        if len(parts) != 3 or not _AMOUNT.fullmatch(parts[1]) or parts[2] not in ("0", "1"):
            return None
        what, amount, save = parts
        if what == _GUARANTEE:
            return PhoneSave(order, None, amount, save == "1")
        return PhoneSave(order, _ASKS[what], amount, save == "1") if what in _ASKS else None
    return None
