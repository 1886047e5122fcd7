"""iCount API v3's saved-card methods, typed (mixed into ``IcountApi``): ``cc/bill`` of a token,
``cc/j5_status``, ``cc_storage/token_info`` and ``cc_storage/delete``. Only ever a card's token
(``cc_token_id``) goes out, never a card number, expiry or security code. No policy here (when a charge
may be asked again, what a J5 status means for a guarantee): that is ``cards.py``'s.

The method index gives these methods' parameter names only; their answers' shapes come from the types
it lists (``iCountCCTokenInfo``, ``iCountJ5Status``) and from third-party clients, none of it confirmed
by a real account of ours: every reading below is marked where it is a guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain.money import Money
from bot.payments.icount import consts
from bot.payments.icount.client import IcountClient

_text = consts.text


@dataclass(frozen=True, slots=True)
class StoredCard:
    """``cc_storage/token_info`` of a saved card (type ``iCountCCTokenInfo``): what may be shown of it.
    The holder's id number and name it also gives are not kept."""

    token: str
    card_type: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True, slots=True)
class J5Status:
    """``cc/j5_status`` of a card (type ``iCountJ5Status``)."""

    available: bool
    total: Money | None
    used: Money | None
    remaining: Money | None
    confirmation_code: str | None
    made_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenCharge:
    """One ``cc/bill`` of a saved card's token."""

    token: str
    amount: Money
    description: str
    client_id: str | None
    # Charge it against the card's J5 pre-approval when there is one (a guarantee's capture).
    use_j5: bool = False


@dataclass(frozen=True, slots=True)
class BillResult:
    """What ``cc/bill`` answered with ``status`` true: made (``confirmation_code``), or refused
    (``error``: ``bad_token``, ``cc_expired``, a decline...)."""

    confirmation_code: str | None
    error: str | None
    cc_bill_log_id: str | None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None


def _record(answer: dict[str, Any], marker: str) -> dict[str, Any]:
    """The answer's record holding ``marker``: the answer itself, or one object in it.
    Unconfirmed by a real account: whether iCount answers these types flat or under a key."""
    if marker in answer:
        return answer
    for value in answer.values():
        if isinstance(value, dict) and marker in value:
            return value
    return answer


def _moment(value: Any) -> datetime | None:
    """A J5's ``ts``. Unconfirmed by a real account: Unix seconds, or an ISO date-time (taken as UTC)."""
    seconds = _int(value)
    if seconds is not None:
        return datetime.fromtimestamp(seconds, UTC)
    text = _text(value)
    try:
        moment = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class CardCalls:
    client: IcountClient

    async def bill_token(self, charge: TokenCharge) -> BillResult:
        """``cc/bill`` with ``cc_token_id``. iCount has no idempotency key for it (iCount support, per
        [GOTCHA]): the caller never sends it twice blindly."""
        params: dict[str, Any] = {
            "cc_token_id": charge.token,
            "sum": consts.amount_text(charge.amount),
            "payment_description": charge.description,
            **consts.currency_params(charge.amount.currency),
        }
        if charge.client_id is not None:
            # Unconfirmed by a real account: per [SIANGO] ("per iCount support") the client id goes with
            # the token.
            params["client_id"] = charge.client_id
        if charge.use_j5:
            # Unconfirmed by a real account: that use_j5_if_available=1 charges the card against its J5
            # pre-approval (releasing the rest of it), and charges it normally when it has none.
            params["use_j5_if_available"] = 1
        answer = await self.client.call(consts.CC_BILL, params)
        # Unconfirmed by a real account: a refusal may also come with status true, ``success`` false and
        # an ``error`` ([SIANGO], [CLIMB]), besides status false with a ``reason``.
        refused = answer.get("success") is False or bool(answer.get("error"))
        return BillResult(
            confirmation_code=None if refused else _text(answer.get("confirmation_code")),
            error=(_text(answer.get("error")) or "refused") if refused else None,
            cc_bill_log_id=_text(answer.get("cc_bill_log_id")),
        )

    async def token_info(self, token: str) -> StoredCard:
        """``cc_storage/token_info``; an unknown or deleted token is an IcountError (unconfirmed by a real
        account: with which reason)."""
        answer = await self.client.call(consts.CC_TOKEN_INFO, {"cc_token_id": token})
        info = _record(answer, "cc_last4")
        month, year = _int(info.get("cc_exp_month")), _int(info.get("cc_exp_year"))
        digits = "".join(c for c in str(info.get("cc_validity") or "") if c.isdigit())
        if (month is None or year is None) and len(digits) == 4:
            # Unconfirmed by a real account: cc_validity as MMYY (or MM/YY).
            month, year = int(digits[:2]), int(digits[2:])
        if year is not None and year < 100:
            year += 2000
        return StoredCard(
            token=token,
            card_type=_text(info.get("cc_type")),
            last4=_text(info.get("cc_last4")),
            exp_month=month if month is not None and 1 <= month <= 12 else None,
            exp_year=year,
        )

    async def delete_token(self, token: str, client_id: str | None = None) -> None:
        params: dict[str, Any] = {"cc_token_id": token}
        if client_id is not None:
            params["client_id"] = client_id
        await self.client.call(consts.CC_TOKEN_DELETE, params)

    async def j5_status(self, token: str, amount: Money | None = None) -> J5Status:
        """``cc/j5_status`` of the card's token; with ``amount``, whether that much can still be charged
        against it (unconfirmed by a real account: what ``sum`` changes in the answer)."""
        params: dict[str, Any] = {"cc_token_id": token}
        if amount is not None:
            params["sum"] = consts.amount_text(amount)
        answer = await self.client.call(consts.CC_J5_STATUS, params)
        info = _record(answer, "j5_available")
        # Unconfirmed by a real account: the amounts are in the pre-approval's (the request's) currency.
        currency = amount.currency if amount is not None else "ILS"
        return J5Status(
            available=consts.flag(info.get("j5_available")),
            total=consts.parse_sum(info.get("total_amount"), currency),
            used=consts.parse_sum(info.get("used_amount"), currency),
            remaining=consts.parse_sum(info.get("remaining_amount"), currency),
            confirmation_code=_text(info.get("confirmation_code")),
            made_at=_moment(info.get("ts")),
        )
