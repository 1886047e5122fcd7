"""Guarantees (manual-capture PaymentIntents made by Checkout) and saved cards (off-session charges).

Every charge and capture carries our key as its Idempotency-Key: asked again within Stripe's 24 hours, it
gives back the first answer (a decline included) and never charges twice. A charge with no answer is
found again among its customer's PaymentIntents by our metadata (a list, read-after-write consistent,
unlike the search API). Stripe's messages name the card's brand or the reason, never the card number.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Mapping
from datetime import datetime, timedelta
from typing import Any

import stripe
from stripe.params import PaymentIntentCreateParams, PaymentIntentListParams

from bot.domain.money import Money
from bot.payments.port import (
    PURPOSE_GUARANTEE,
    PURPOSE_SAVED_CARD,
    CardHold,
    ChargeAttempt,
    ChargeStatus,
    HoldCheck,
    HoldState,
    ProviderError,
    SavedCard,
    SavedCardRequest,
)
from bot.payments.stripe import consts, intents
from bot.payments.stripe.checkout import Clock, HostedSessions, collect

log = logging.getLogger(__name__)
# Stripe keeps idempotency keys at least 24 hours: a charge first asked longer ago than this is looked
# up before it is asked again, since its key may be gone.
KEY_KEPT = timedelta(hours=23)
# Lists start a little before the request was made (our clock and Stripe's may differ).
CLOCK_SLACK = timedelta(minutes=10)


def transient(error: stripe.StripeError) -> bool:
    """No answer we can trust: the request may have been done. IdempotencyError: the key was used with
    other parameters, so something was done with it."""
    return isinstance(
        error, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError | stripe.IdempotencyError
    )


def reason_of(error: stripe.StripeError) -> str:
    """A decline's code and Stripe's message (made to be shown to customers: no card number)."""
    code = error.code or type(error).__name__
    decline = getattr(error.error, "decline_code", None) if error.error is not None else None
    text = error.user_message or str(error)
    return f"{code}{f' ({decline})' if decline and decline != code else ''}: {text}"[:300]


def _card_error_intent(error: stripe.StripeError) -> str | None:
    """The PaymentIntent Stripe puts in a card error (``error.payment_intent``)."""
    body = error.json_body
    detail = body.get("error") if isinstance(body, dict) else None
    return intents.object_id(detail.get("payment_intent")) if isinstance(detail, dict) else None


class Cards:
    def __init__(self, client: stripe.StripeClient, clock: Clock, sessions: HostedSessions) -> None:
        self._client = client
        self._clock = clock
        self._sessions = sessions

    async def _intents(
        self, customer: str | None, since: datetime, transaction: uuid.UUID, purpose: str
    ) -> list[Mapping[str, Any]]:
        """The transaction's PaymentIntents (newest first), from its customer's (or else all recent) ones."""
        gte = int((since - CLOCK_SLACK).timestamp())

        def fetch(after: str | None) -> Awaitable[stripe.ListObject[Any]]:
            params: PaymentIntentListParams = {
                "created": {"gte": gte},
                "limit": 100,
                "expand": ["data.latest_charge"],
            }
            if customer:
                params["customer"] = customer
            if after:
                params["starting_after"] = after
            return self._client.v1.payment_intents.list_async(params)

        return intents.of_transaction(await collect(fetch), transaction, purpose)

    # CardGuarantee

    async def _hold_intent(self, hold: CardHold) -> Mapping[str, Any] | None:
        if hold.reference:
            intent = await self._client.v1.payment_intents.retrieve_async(
                hold.reference, {"expand": ["latest_charge"]}
            )
            return intent.to_dict()
        found = await self._intents(
            hold.provider_client_id, hold.created_at, hold.transaction_id, PURPOSE_GUARANTEE
        )
        return intents.telling(found)

    async def capture_hold(self, hold: CardHold, amount: Money, key: str) -> ChargeAttempt:
        try:
            intent = await self._hold_intent(hold)
            if intent is None:
                return ChargeAttempt(ChargeStatus.FAILED, reason="no authorised hold at Stripe")
            reference = str(intent["id"])
            try:
                captured = await self._client.v1.payment_intents.capture_async(
                    # amount_to_capture: at most amount_capturable; the rest is released by the capture.
                    reference,
                    {"amount_to_capture": consts.stripe_amount(amount)},
                    options={"idempotency_key": key},
                )
            except stripe.InvalidRequestError as error:
                if error.code != consts.INTENT_UNEXPECTED_STATE:
                    raise
                # Captured before (another key, the Dashboard) or let go: the PaymentIntent tells which.
                again = await self._client.v1.payment_intents.retrieve_async(reference)
                if again.status != consts.INTENT_SUCCEEDED_STATUS:
                    return ChargeAttempt(ChargeStatus.FAILED, reference=reference, reason=reason_of(error))
                captured = again
        except stripe.StripeError as error:
            status = ChargeStatus.UNKNOWN if transient(error) else ChargeStatus.FAILED
            return ChargeAttempt(status, reference=hold.reference, reason=reason_of(error))
        received = intents.money(captured.amount_received, captured.currency)
        return ChargeAttempt(ChargeStatus.SUCCEEDED, reference=captured.id, amount=received)

    async def release_hold(self, hold: CardHold) -> None:
        """Expires the transaction's open pages first (none can authorise again), then cancels what is
        still held or on its way. Raises ProviderError (transient) when Stripe does not answer."""
        try:
            await self._sessions.expire_open(hold.transaction_id, hold.provider_client_id)
            if hold.reference:
                targets = [hold.reference]
            else:
                found = await self._intents(
                    hold.provider_client_id, hold.created_at, hold.transaction_id, PURPOSE_GUARANTEE
                )
                targets = [str(i["id"]) for i in found if i.get("status") in consts.INTENT_CANCELABLE]
            for reference in targets:
                await self._cancel(reference)
        except stripe.StripeError as error:
            message = f"stripe: hold not released: {reason_of(error)}"
            raise ProviderError(message, transient=transient(error)) from error

    async def _cancel(self, reference: str) -> None:
        """Cancels a PaymentIntent; one already captured, cancelled or gone is left as it is."""
        try:
            await self._client.v1.payment_intents.cancel_async(reference)
        except stripe.InvalidRequestError as error:
            if error.code not in (consts.INTENT_UNEXPECTED_STATE, consts.RESOURCE_MISSING):
                raise
            log.info("stripe payment intent %s not cancelled: %s", reference, error.user_message)

    async def check_hold(self, hold: CardHold) -> HoldCheck:
        try:
            intent = await self._hold_intent(hold)
        except stripe.StripeError as error:
            log.warning("stripe hold of %s not read: %s", hold.transaction_id, reason_of(error))
            return HoldCheck(HoldState.UNKNOWN, hold.reference)
        if intent is None:
            return HoldCheck(HoldState.REQUESTED)
        return intents.hold_check(intent)

    # SavedCardCharge

    async def charge_saved_card(self, charge: SavedCardRequest) -> ChargeAttempt:
        if self._clock() - charge.asked_at > KEY_KEPT:
            # The key may be gone at Stripe: asking again with it could charge a second time.
            found = await self.find_saved_card_charge(charge)
            if found.status is not ChargeStatus.FAILED:
                return found
        customer = charge.card.provider_customer_id or charge.provider_client_id
        params: PaymentIntentCreateParams = {
            "amount": consts.stripe_amount(charge.amount),
            "currency": charge.amount.currency.lower(),
            "payment_method": charge.card.token,
            # The customer is not there: Stripe declines with authentication_required rather than
            # waiting for a 3-D Secure challenge nobody would answer.
            "off_session": True,
            "confirm": True,
            # No redirecting method: a confirm without a return_url is refused otherwise (the typed params'
            # allow_redirects docstring; the saved card never redirects anyway).
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "metadata": charge.metadata,
            "description": charge.description,
        }
        if customer:
            params["customer"] = customer
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params, options={"idempotency_key": charge.key}
            )
        except stripe.CardError as error:
            intent_id = _card_error_intent(error)
            if error.code == consts.AUTHENTICATION_REQUIRED:
                if intent_id is not None:
                    # Nobody may complete it later with its client secret: the customer gets a new link.
                    await self._cancel_quietly(intent_id)
                return ChargeAttempt(ChargeStatus.AUTHENTICATION_REQUIRED, reason=reason_of(error))
            return ChargeAttempt(ChargeStatus.FAILED, reason=reason_of(error))
        except stripe.StripeError as error:
            status = ChargeStatus.UNKNOWN if transient(error) else ChargeStatus.FAILED
            return ChargeAttempt(status, reason=reason_of(error))
        return self._attempt(intent.to_dict())

    async def _cancel_quietly(self, reference: str) -> None:
        try:
            await self._cancel(reference)
        except stripe.StripeError as error:
            log.warning("stripe payment intent %s left uncancelled: %s", reference, reason_of(error))

    @staticmethod
    def _attempt(intent: Mapping[str, Any]) -> ChargeAttempt:
        status, reference = intent.get("status"), intents.object_id(intent.get("id"))
        if status == consts.INTENT_SUCCEEDED_STATUS:
            received = intents.money(intent.get("amount_received"), intent.get("currency"))
            return ChargeAttempt(ChargeStatus.SUCCEEDED, reference=reference, amount=received)
        if status == consts.INTENT_PROCESSING:
            return ChargeAttempt(ChargeStatus.UNKNOWN, reference=reference, reason="processing at Stripe")
        if status == "requires_action":  # pragma: no cover - off_session declines instead
            return ChargeAttempt(ChargeStatus.AUTHENTICATION_REQUIRED, reason="requires_action")
        return ChargeAttempt(ChargeStatus.FAILED, reason=f"payment intent {status}")

    async def find_saved_card_charge(self, charge: SavedCardRequest) -> ChargeAttempt:
        customer = charge.card.provider_customer_id or charge.provider_client_id
        try:
            found = await self._intents(customer, charge.asked_at, charge.transaction_id, PURPOSE_SAVED_CARD)
        except stripe.StripeError as error:
            return ChargeAttempt(ChargeStatus.UNKNOWN, reason=reason_of(error))
        telling = intents.telling(found)
        if telling is None:
            return ChargeAttempt(ChargeStatus.FAILED, reason="no charge made at Stripe")
        return self._attempt(telling)

    async def forget_card(self, card: SavedCard) -> None:
        try:
            try:
                await self._client.v1.payment_methods.detach_async(card.token)
            except stripe.InvalidRequestError as error:
                # Already detached (Stripe: "not attached to a customer") or gone: forgotten all the same.
                if error.code != consts.RESOURCE_MISSING and await self._attached(card.token):
                    raise
        except stripe.StripeError as error:
            message = f"stripe: card not detached: {reason_of(error)}"
            raise ProviderError(message, transient=transient(error)) from error

    async def _attached(self, token: str) -> bool:
        try:
            method = await self._client.v1.payment_methods.retrieve_async(token)
        except stripe.InvalidRequestError as error:
            if error.code == consts.RESOURCE_MISSING:
                return False
            raise
        return method.customer is not None

    async def card_details(self, card: SavedCard) -> SavedCard | None:
        """Brand, last 4 and expiry of a card its customer agreed to keep: attached to them with
        allow_redisplay=always (Checkout's "save my card" box ticked). Raises ProviderError when unread."""
        try:
            method = (await self._client.v1.payment_methods.retrieve_async(card.token)).to_dict()
        except stripe.InvalidRequestError as error:
            if error.code == consts.RESOURCE_MISSING:
                return None
            raise ProviderError(f"stripe: card not read: {reason_of(error)}", transient=False) from error
        except stripe.StripeError as error:
            raise ProviderError(f"stripe: card not read: {reason_of(error)}", transient=True) from error
        customer = intents.object_id(method.get("customer"))
        details = method.get("card")
        if customer is None or method.get("allow_redisplay") != consts.REDISPLAY_ALWAYS:
            return None
        if card.provider_customer_id not in (None, customer) or not isinstance(details, dict):
            return None
        return SavedCard(
            token=str(method["id"]),
            brand=_text(details.get("brand")),
            last4=_text(details.get("last4")),
            exp_month=_number(details.get("exp_month")),
            exp_year=_number(details.get("exp_year")),
            provider_customer_id=customer,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
