"""iCount's card guarantees and saved-card charges, on top of ``IcountApi`` (``IcountProvider``
delegates to ``IcountCards``).

A guarantee is a sale on the pay page the vendor set up in iCount to keep the card and pre-approve (J5)
the sum instead of charging it. Its IPN names the card's token (``cc_token_id``); ``cc/j5_status`` then
tells whether money is held: then it is a hold, captured later by ``cc/bill`` of the token with
``use_j5_if_available``; on an account without J5 the card is only kept on file (no money held).

Charges of a token (a capture, a saved-card charge) have no idempotency key at iCount, so ``cc/bill`` is
never sent twice blindly: the charges listed before it are noted first; an unanswered charge is UNKNOWN,
and asked again it is looked up in ``cc/transactions`` (same client, sum and card, not one listed
before, not one already taken for another charge) before anything is charged again; it counts as not
made only once iCount still lists nothing ``CHARGE_SETTLING`` after it was asked.

What this process asked and when is kept in memory: a charge asked again after a restart is looked up
from its own ``asked_at`` (a saved-card charge) before any new ``cc/bill``; a capture by its J5 (its
used amount). Only a card's token ever goes to iCount, never a card number.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.money import Money
from bot.payments.icount.api import CardPayment, IcountApi
from bot.payments.icount.card_calls import J5Status, TokenCharge
from bot.payments.icount.client import IcountAuthError, IcountError
from bot.payments.port import (
    CallbackNotice,
    CardHold,
    ChargeAttempt,
    ChargeStatus,
    ConfirmedPayment,
    HoldCheck,
    HoldState,
    ProviderError,
    SavedCard,
    SavedCardRequest,
)

log = logging.getLogger(__name__)
# Unconfirmed by a real account: iCount does not document how long a J5 pre-approval stays valid (card
# schemes and Israeli acquirers commonly keep one for a few days to a week). Five days, to be safe: the
# bot never promises a guarantee for longer than this.
HOLD_WINDOW = timedelta(days=5)
# A charge iCount did not answer counts as not made only once cc/transactions still lists nothing this
# long after it was asked (its lists may lag behind the call), as REFUND_SETTLING for refunds.
CHARGE_SETTLING = timedelta(minutes=15)
# A saved-card charge asked longer ago than this, and not asked by this process, was asked by an earlier
# one (before a restart): it is looked up before anything is charged.
FRESH_ASK = timedelta(minutes=2)
# cc/transactions is searched by day; iCount's days are Israel's, ours UTC: a day either side.
DAY_MARGIN = timedelta(days=1)
# How long this process remembers a charge it asked.
MEMORY = timedelta(days=2)
# Answers that were not iCount's envelope: the charge may have been made all the same.
AMBIGUOUS_REASONS = frozenset({"not_json", "bad_answer"})


@dataclass(slots=True)
class _Asked:
    """A charge this process sent: when, the charges iCount listed just before, and its answer."""

    at: datetime
    baseline: frozenset[str]
    result: ChargeAttempt | None = None


@dataclass(frozen=True, slots=True)
class _Charge:
    key: str
    bill: TokenCharge
    last4: str | None
    # What the bot already counts for other payments: never this charge's.
    known: frozenset[str] = frozenset()


def _failed(reason: str) -> ChargeAttempt:
    return ChargeAttempt(ChargeStatus.FAILED, reason=reason)


def _unknown(reason: str) -> ChargeAttempt:
    return ChargeAttempt(ChargeStatus.UNKNOWN, reason=reason)


class IcountCards:
    def __init__(self, api: IcountApi, clock: Callable[[], datetime]) -> None:
        self.api = api
        self._clock = clock
        self._asked: dict[str, _Asked] = {}
        # Confirmation codes already taken as some charge's, by its key: never taken for another one.
        self._claimed: dict[str, str] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        # The capture this process asked of each held card (by token): check_hold reads it back.
        self._captures: dict[str, _Charge] = {}

    # Saved cards

    async def card_details(self, card: SavedCard) -> SavedCard | None:
        """The card as ``cc_storage/token_info`` shows it; None when iCount does not know the token."""
        try:
            stored = await self.api.token_info(card.token)
        except IcountError as error:
            if error.transient:
                raise
            if isinstance(error, IcountAuthError):
                # A refusal naming a "token" reads as an auth error: are our credentials the problem,
                # or the card's token? (Unconfirmed by a real account: the reason for an unknown token.)
                await self.api.company_info()
            return None
        if stored.last4 is None and stored.card_type is None:
            return None
        return SavedCard(
            card.token,
            brand=stored.card_type,
            last4=stored.last4,
            exp_month=stored.exp_month,
            exp_year=stored.exp_year,
            provider_customer_id=card.provider_customer_id,
        )

    async def saved_card(self, notice: CallbackNotice, client_id: str | None) -> SavedCard | None:
        """The card an IPN says was saved (its ``cc_token_id``), as iCount keeps it."""
        token = notice.fields.get("cc_token_id")
        if not token:
            return None
        # Unconfirmed by a real account: that the IPN's customer_id is the iCount client id.
        customer = client_id or notice.fields.get("customer_id") or None
        return await self.card_details(SavedCard(token, provider_customer_id=customer))

    async def forget_card(self, card: SavedCard) -> None:
        """``cc_storage/delete``; a token iCount no longer knows is not an error."""
        try:
            await self.api.delete_token(card.token)
        except IcountError as error:
            if error.transient or await self.card_details(card) is not None:
                raise

    # Guarantees

    async def _j5(self, token: str, amount: Money | None) -> J5Status | None:
        """The card's J5 status; None when iCount refuses the question (an account without J5, a card
        without one: unconfirmed by a real account which reason it gives)."""
        try:
            return await self.api.j5_status(token, amount)
        except IcountError as error:
            if error.transient:
                raise
            log.info("icount cc/j5_status refused (%s): no money held on the card", error.reason)
            return None

    async def confirm_hold(self, notice: CallbackNotice, held: Money) -> ConfirmedPayment | None:
        token = notice.fields.get("cc_token_id")
        if not token:
            return None
        card = await self.saved_card(notice, None)
        if card is None:
            return None
        status = await self._j5(token, held)
        if status is not None and status.available:
            made = min(status.made_at or self._clock(), self._clock())
            reference = (
                status.confirmation_code
                or notice.fields.get("confirmation_code")
                or f"j5-{notice.transaction_id.hex}"
            )
            return ConfirmedPayment(
                held, reference, saved_card=card, held=True, hold_lapses_at=made + HOLD_WINDOW
            )
        # The card is kept, no money is held: the bot tells the vendor so.
        reference = hold_reference(notice.transaction_id)
        return ConfirmedPayment(held, reference, saved_card=card, held=True, card_on_file=True)

    async def capture_hold(self, hold: CardHold, amount: Money, key: str) -> ChargeAttempt:
        if hold.token is None:
            return _failed("no saved card for this guarantee")
        if not amount.is_positive() or amount.currency != hold.held.currency or amount > hold.held:
            return _failed(f"{amount} cannot be captured of a {hold.held} guarantee")
        bill = TokenCharge(
            hold.token,
            amount,
            f"Guarantee {hold.transaction_id.hex[:8]}",
            hold.provider_client_id,
            use_j5=True,
        )
        charge = _Charge(key, bill, None, hold.known_references)
        async with self._lock(key):
            if key not in self._asked and not hold.card_on_file:
                # Not asked by this process: a capture made before a restart shows in the J5's use.
                done = await self._captured_before(charge, hold)
                if done is not None:
                    return done
            self._captures[hold.token] = charge
            return await self._charge_once(charge, None)

    async def _captured_before(self, charge: _Charge, hold: CardHold) -> ChargeAttempt | None:
        try:
            status = await self._j5(charge.bill.token, None)
        except ProviderError as error:
            return _failed(f"iCount could not be asked before the capture, nothing was charged: {error}")
        if status is None or status.used is None or not status.used.is_positive():
            return None
        return await self._look_up(charge, hold.created_at, frozenset(), settled_is_failed=False)

    async def release_hold(self, hold: CardHold) -> None:
        """Nothing to call: iCount documents no call to cancel a J5 pre-approval (none in the method
        index), which lapses by itself within HOLD_WINDOW; a card kept on file stays until forgotten."""

    async def check_hold(self, hold: CardHold) -> HoldCheck:
        """The hold now: its card gone (released), a capture made (this process's, else the one charge
        iCount lists on the card since the hold), its J5 still there (held), used (captured) or gone.
        A capture without an answer is UNKNOWN until it plainly was, or was not, made."""
        if hold.token is None:
            # No IPN yet, and iCount has no lookup of a sale: nothing to see but a request.
            return HoldCheck(HoldState.REQUESTED)
        try:
            kept = SavedCard(hold.token, provider_customer_id=hold.provider_client_id)
            card = await self.card_details(kept)
            if card is None:
                return HoldCheck(HoldState.RELEASED, reference=hold.reference)
            captured = await self._capture_of(hold, card)
            if captured is not None and captured.status is ChargeStatus.SUCCEEDED:
                return HoldCheck(
                    HoldState.CAPTURED, captured.reference, captured=captured.amount, saved_card=card
                )
            if captured is not None and captured.status is ChargeStatus.UNKNOWN:
                return HoldCheck(HoldState.UNKNOWN, hold.reference, saved_card=card)
            if hold.card_on_file:
                return HoldCheck(HoldState.HELD, hold.reference, held=hold.held, saved_card=card)
            status = await self._j5(hold.token, None)
            if status is not None and status.used is not None and status.used.is_positive():
                # Captured before this process (or by hand at iCount): named by its charge when listed.
                found = await self._charges_since(hold, card, exactly=status.used)
                reference = found[0].confirmation_code if len(found) == 1 else hold.reference
                return HoldCheck(HoldState.CAPTURED, reference, captured=status.used, saved_card=card)
        except ProviderError:
            return HoldCheck(HoldState.UNKNOWN, hold.reference)
        if status is None:
            return HoldCheck(HoldState.UNKNOWN, hold.reference, saved_card=card)
        if status.available:
            lapses = hold.lapses_at or (status.made_at or hold.created_at) + HOLD_WINDOW
            held = status.remaining or hold.held
            return HoldCheck(HoldState.HELD, hold.reference, held=held, lapses_at=lapses, saved_card=card)
        # Unconfirmed by a real account: a J5 that lapsed shows as no longer available.
        return HoldCheck(HoldState.RELEASED, hold.reference, saved_card=card)

    async def _capture_of(self, hold: CardHold, card: SavedCard) -> ChargeAttempt | None:
        """The hold's capture: this process's (made, unknown, or None when refused or plainly not made);
        else, for a card kept on file (no J5 to tell), the one charge iCount lists on it since."""
        charge = self._captures.get(hold.token or "")
        if charge is not None:
            async with self._lock(charge.key):
                asked = self._asked.get(charge.key)
                if asked is None:
                    return None
                if asked.result is not None:
                    return asked.result
                attempt = await self._look_up(charge, asked.at, asked.baseline)
            return None if attempt.status is ChargeStatus.FAILED else attempt
        if not hold.card_on_file:
            return None
        # Unconfirmed by a real account, and a guess: any charge of at most the held sum on this card
        # and client since the guarantee is taken as its capture (never charging twice comes first).
        found = await self._charges_since(hold, card)
        if len(found) > 1:
            return _unknown("iCount lists several charges on the card since the guarantee")
        if found:
            return ChargeAttempt(ChargeStatus.SUCCEEDED, found[0].confirmation_code, amount=found[0].amount)
        return None

    async def _charges_since(
        self, hold: CardHold, card: SavedCard, exactly: Money | None = None
    ) -> list[CardPayment]:
        listed = await self.api.card_transactions(
            (hold.created_at - DAY_MARGIN).date(),
            (self._clock() + DAY_MARGIN).date(),
            hold.held.currency,
            client_id=hold.provider_client_id,
        )
        return [
            t
            for t in listed
            if t.amount is not None
            and t.amount.currency == hold.held.currency
            and (t.amount == exactly if exactly is not None else t.amount <= hold.held)
            and (card.last4 is None or t.last4 is None or t.last4 == card.last4)
            and t.confirmation_code not in self._claimed
            and t.confirmation_code not in hold.known_references
        ]

    # Saved-card charges

    def _saved_charge(self, request: SavedCardRequest) -> _Charge:
        client = request.provider_client_id or request.card.provider_customer_id
        bill = TokenCharge(request.card.token, request.amount, request.description, client)
        return _Charge(request.key, bill, request.card.last4, request.known_references)

    async def charge_saved_card(self, request: SavedCardRequest) -> ChargeAttempt:
        charge = self._saved_charge(request)
        async with self._lock(charge.key):
            if charge.key not in self._asked and self._clock() - request.asked_at > FRESH_ASK:
                # Asked before this process: iCount may have made it; looked up first.
                found = await self._look_up(charge, request.asked_at, frozenset())
                if found.status is not ChargeStatus.FAILED:
                    return found
            return await self._charge_once(charge, request.asked_at)

    async def find_saved_card_charge(self, request: SavedCardRequest) -> ChargeAttempt:
        charge = self._saved_charge(request)
        async with self._lock(charge.key):
            asked = self._asked.get(charge.key)
            if asked is None:
                return await self._look_up(charge, request.asked_at, frozenset())
            if asked.result is not None:
                return asked.result
            return await self._look_up(charge, min(asked.at, request.asked_at), asked.baseline)

    # Charging once

    def _lock(self, key: str) -> asyncio.Lock:
        now = self._clock()
        for old in [k for k, asked in self._asked.items() if now - asked.at > MEMORY]:
            del self._asked[old]
            if old in self._locks and not self._locks[old].locked():
                del self._locks[old]
        return self._locks.setdefault(key, asyncio.Lock())

    async def _charge_once(self, charge: _Charge, asked_at: datetime | None) -> ChargeAttempt:
        """``cc/bill`` unless this process already sent it for the key: then it is looked up, and sent
        again only once iCount plainly did not make it."""
        asked = self._asked.get(charge.key)
        if asked is not None:
            if asked.result is not None:
                return asked.result
            found = await self._look_up(charge, asked.at, asked.baseline)
            if found.status is not ChargeStatus.FAILED:
                return found
        now = self._clock()
        try:
            baseline = frozenset(t.confirmation_code for t in await self._matching(charge, asked_at or now))
        except ProviderError as error:
            return _failed(f"iCount could not be asked before the charge, nothing was charged: {error}")
        self._asked[charge.key] = _Asked(now, baseline)
        try:
            result = await self.api.bill_token(charge.bill)
        except ProviderError as error:
            reason = error.reason if isinstance(error, IcountError) else ""
            if error.transient or reason in AMBIGUOUS_REASONS:
                return _unknown(f"iCount did not answer the charge: {error}")
            del self._asked[charge.key]
            return _failed(reason or str(error))
        if result.error is not None:
            del self._asked[charge.key]
            return _failed(result.error)
        if result.confirmation_code is None:
            return _unknown("iCount answered the charge without a confirmation code")
        return self._made(charge, result.confirmation_code)

    def _made(self, charge: _Charge, code: str) -> ChargeAttempt:
        attempt = ChargeAttempt(ChargeStatus.SUCCEEDED, reference=code, amount=charge.bill.amount)
        self._claimed[code] = charge.key
        if charge.key in self._asked:
            self._asked[charge.key].result = attempt
        return attempt

    async def _matching(self, charge: _Charge, since: datetime) -> list[CardPayment]:
        """The charges iCount lists since ``since`` (by day) of this client, sum and card, not taken for
        another charge."""
        listed = await self.api.card_transactions(
            (since - DAY_MARGIN).date(),
            (self._clock() + DAY_MARGIN).date(),
            charge.bill.amount.currency,
            client_id=charge.bill.client_id,
        )
        return [
            t
            for t in listed
            if t.amount == charge.bill.amount
            and (charge.last4 is None or t.last4 is None or t.last4 == charge.last4)
            and self._claimed.get(t.confirmation_code, charge.key) == charge.key
            and t.confirmation_code not in charge.known
        ]

    async def _look_up(
        self, charge: _Charge, since: datetime, baseline: frozenset[str], settled_is_failed: bool = True
    ) -> ChargeAttempt:
        """Made (the one new charge listed), not made (nothing listed well after ``since``), or unknown."""
        try:
            found = [t for t in await self._matching(charge, since) if t.confirmation_code not in baseline]
        except ProviderError as error:
            return _unknown(f"iCount's card transactions could not be read: {error}")
        if len(found) == 1:
            return self._made(charge, found[0].confirmation_code)
        if found:
            return _unknown("iCount lists several charges of this sum on this card: check which one it is")
        if settled_is_failed and self._clock() - since >= CHARGE_SETTLING:
            return _failed("iCount lists no such charge: it was not made")
        return _unknown("iCount does not list the charge (yet)")


def hold_reference(transaction_id: uuid.UUID) -> str:
    """The reference of a guarantee whose card is only kept on file (no J5 to name it): stable over the
    IPN's repeats, and no ``doctype:docnum`` (the provider reads a colon as a document)."""
    return f"card-{transaction_id.hex}"
