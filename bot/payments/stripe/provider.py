"""The Stripe provider: one single-use Payment Link per request, refunds by payment intent with our
own key (kept in the refund's metadata, so a refund without an answer is found again).

A guarantee, a page that offers to save the card, or a phone payment is no Payment Link but our own page
``{base}/pay/stripe/{transaction}``, which sends to a fresh Checkout Session (``checkout``); holds and
saved-card charges are PaymentIntents (``cards``). Customers are made only for pages that may keep a card.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import stripe
from stripe.params import CustomerCreateParams

from bot.domain.money import Money
from bot.domain.refund import RefundStatus
from bot.payments.port import (
    AccountInfo,
    CardHold,
    ChargeAttempt,
    ClientDetails,
    HoldCheck,
    LinkRequest,
    PaidPayment,
    PaymentLink,
    ProductIds,
    ProductSnapshot,
    ProviderError,
    RefundAttempt,
    RefundResult,
    SavedCard,
    SavedCardRequest,
)
from bot.payments.stripe import consts, intents
from bot.payments.stripe.cards import Cards
from bot.payments.stripe.catalogue import StripeCatalogue
from bot.payments.stripe.checkout import (
    Clock,
    HostedSessions,
    hosted_link_id,
    is_hosted,
    line_items,
    transaction_of,
)
from bot.payments.stripe.client import TIMEOUT_SECONDS, stripe_client

log = logging.getLogger(__name__)
# A refund in these states has given (or is giving) the money back.
MADE_REFUNDS = ("succeeded", "pending", "requires_action")


def _provider_error(error: stripe.StripeError) -> ProviderError:
    transient = isinstance(error, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError)
    # Stripe's message names the problem but never the key; the request id helps support.
    return ProviderError(f"stripe {type(error).__name__}: {error.user_message or error}", transient=transient)


def _quoted(value: str) -> str:
    """A value inside a search query's single quotes."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class StripeProvider:
    name = consts.NAME
    # A guarantee's card is kept for later only with consent: Checkout's "save my card" box.
    guarantee_pages_ask_consent = True
    # A Stripe Customer only for a page that may keep the card (LinkRequest.needs_card_customer).
    clients_for_every_link = False
    hold_window = intents.HOLD_WINDOW

    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        timeout: float = TIMEOUT_SECONDS,
        *,
        base_url: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        """``base_url``: the bot's public address, for the links that are our own page; ``clock``: the
        app's, else the wall clock (a session's expiry is written from it: it must agree with Stripe's)."""
        self._client, self._http = stripe_client(api_key, api_base, timeout)
        self._products: set[str] = set()
        self._base = base_url.rstrip("/") if base_url else None
        self._sessions = HostedSessions(self._client, clock or _wall_clock)
        self._cards = Cards(self._client, clock or _wall_clock, self._sessions)

    async def _ensure_product(self, vendor_id: uuid.UUID, vendor_name: str) -> str:
        product = consts.product_id(vendor_id.hex)
        if product in self._products:
            return product
        try:
            await self._client.v1.products.retrieve_async(product)
        except stripe.InvalidRequestError as error:
            if error.code != consts.RESOURCE_MISSING:
                raise
            try:
                await self._client.v1.products.create_async(
                    {"id": product, "name": vendor_name, "metadata": {"vendor_id": str(vendor_id)}},
                    options={"idempotency_key": f"product-{product}"},
                )
            except stripe.InvalidRequestError as race:
                if race.code != consts.RESOURCE_EXISTS:
                    raise
        self._products.add(product)
        return product

    async def create_link(self, request: LinkRequest) -> PaymentLink:
        if is_hosted(request):
            return await self._hosted_link(request)
        try:
            product = await self._ensure_product(request.vendor_id, request.vendor_name)
            params: dict[str, Any] = {
                "line_items": line_items(request, product),
                "metadata": request.metadata,
                "payment_intent_data": {"metadata": request.metadata, "description": request.description},
                "restrictions": {"completed_sessions": {"limit": 1}},
                "after_completion": {"type": "redirect", "redirect": {"url": request.success_url}},
                "invoice_creation": {
                    "enabled": True,
                    "invoice_data": {"metadata": request.metadata, "description": request.description},
                },
            }
            link = await self._client.v1.payment_links.create_async(
                params,  # type: ignore[arg-type]
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.StripeError as error:
            raise _provider_error(error) from error
        return PaymentLink(consts.NAME, link.id, link.url)

    async def _hosted_link(self, request: LinkRequest) -> PaymentLink:
        """Our page, which makes the Checkout Session when opened; the product is made now, so a wrong
        key is told to the vendor at once."""
        if self._base is None:
            raise ProviderError("stripe: no public base url for the checkout page", transient=False)
        try:
            await self._ensure_product(request.vendor_id, request.vendor_name)
        except stripe.StripeError as error:
            raise _provider_error(error) from error
        transaction = request.transaction_id
        return PaymentLink(consts.NAME, hosted_link_id(transaction), f"{self._base}/pay/stripe/{transaction}")

    async def deactivate_link(self, provider_link_id: str) -> None:
        """A Payment Link is deactivated; our page's open Checkout Sessions are expired (the page itself
        stops sending customers once the request is closed)."""
        try:
            transaction = transaction_of(provider_link_id)
            if transaction is not None:
                await self._sessions.expire_open(transaction, None)
            else:
                await self._client.v1.payment_links.update_async(provider_link_id, {"active": False})
        except stripe.StripeError as error:
            raise _provider_error(error) from error

    # HostedCheckout

    async def checkout_url(self, request: LinkRequest) -> str:
        try:
            product = await self._ensure_product(request.vendor_id, request.vendor_name)
            return await self._sessions.url_for(request, product)
        except stripe.StripeError as error:
            raise _provider_error(error) from error

    # ConnectionCheck

    async def check_connection(self) -> AccountInfo:
        """The account the key opens (``GET /v1/account``): its dashboard name, else its business name.
        A refused key is told without Stripe's message, which repeats the key's last characters."""
        try:
            account = await self._client.v1.accounts.retrieve_current_async()
        except stripe.AuthenticationError as error:
            raise ProviderError(
                "stripe: the API key was refused (wrong, revoked or expired key)", transient=False
            ) from error
        except stripe.PermissionError as error:
            raise ProviderError(
                "stripe: the API key may not read the account (a restricted key without that permission)",
                transient=False,
            ) from error
        except stripe.StripeError as error:
            raise _provider_error(error) from error
        data = account.to_dict()
        dashboard = (data.get("settings") or {}).get("dashboard") or {}
        profile = data.get("business_profile") or {}
        name = dashboard.get("display_name") or profile.get("name") or None
        return AccountInfo(name=str(name) if name else None, account_id=account.id)

    # ClientSync

    async def ensure_client(self, client: ClientDetails) -> str:
        """Found by our id in its metadata (search lags up to a minute behind writes), else created with a
        key derived from our id, so a retry within Stripe's 24 hours gives back the same Customer."""
        try:
            query = f"metadata['custom_id']:'{_quoted(client.custom_id)}'"
            try:
                found = await self._client.v1.customers.search_async({"query": query, "limit": 1})
                if found.data:
                    return found.data[0].id
            except stripe.InvalidRequestError as error:
                # Search is not offered everywhere (Stripe: not in India): creating stays safe by its key.
                log.info("stripe customer search refused: %s", error.user_message)
            params: CustomerCreateParams = {
                "name": client.name,
                "phone": client.phone,
                "metadata": {"custom_id": client.custom_id},
            }
            customer = await self._client.v1.customers.create_async(
                params, options={"idempotency_key": f"customer-{client.custom_id}"}
            )
        except stripe.StripeError as error:
            raise _provider_error(error) from error
        return customer.id

    # ProductCatalogue: a Product with its current Price (catalogue.py)

    async def sync_product(self, product: ProductSnapshot) -> ProductIds:
        try:
            return await StripeCatalogue(self._client).sync(product)
        except stripe.StripeError as error:
            raise _provider_error(error) from error

    # CardGuarantee

    async def capture_hold(self, hold: CardHold, amount: Money, key: str) -> ChargeAttempt:
        return await self._cards.capture_hold(hold, amount, key)

    async def release_hold(self, hold: CardHold) -> None:
        await self._cards.release_hold(hold)

    async def check_hold(self, hold: CardHold) -> HoldCheck:
        return await self._cards.check_hold(hold)

    # SavedCardCharge

    async def charge_saved_card(self, charge: SavedCardRequest) -> ChargeAttempt:
        return await self._cards.charge_saved_card(charge)

    async def find_saved_card_charge(self, charge: SavedCardRequest) -> ChargeAttempt:
        return await self._cards.find_saved_card_charge(charge)

    async def forget_card(self, card: SavedCard) -> None:
        await self._cards.forget_card(card)

    async def card_details(self, card: SavedCard) -> SavedCard | None:
        return await self._cards.card_details(card)

    async def refund(self, reference: str, amount: Money, idempotency_key: str) -> RefundResult:
        try:
            refund = await self._client.v1.refunds.create_async(
                {
                    "payment_intent": reference,
                    "amount": consts.stripe_amount(amount),
                    "metadata": {consts.REFUND_KEY: idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            raise _provider_error(error) from error
        return RefundResult(refund.id, consts.from_stripe_amount(refund.amount, refund.currency))

    async def refund_payment(self, payment: PaidPayment, amount: Money, key: str) -> RefundAttempt:
        try:
            result = await self.refund(payment.reference or "", amount, key)
        except ProviderError as error:
            return RefundAttempt(
                RefundStatus.UNKNOWN if error.transient else RefundStatus.FAILED, reason=str(error)
            )
        return RefundAttempt(RefundStatus.SUCCEEDED, result.provider_refund_id)

    async def check_refund(
        self, payment: PaidPayment, amount: Money, key: str, asked_at: datetime, now: datetime
    ) -> RefundAttempt:
        """Found by our key in the payment's refunds; not found, asking again with the same key is safe
        (Stripe keeps keys 24 hours: past them, only the lookup can tell)."""
        try:
            found = await self.find_refund(payment.reference or "", key)
        except ProviderError as error:
            return RefundAttempt(RefundStatus.UNKNOWN, reason=str(error))
        if found is not None:
            return RefundAttempt(RefundStatus.SUCCEEDED, found.provider_refund_id)
        return await self.refund_payment(payment, amount, key)

    async def find_refund(self, reference: str, idempotency_key: str) -> RefundResult | None:
        """The refund of payment ``reference`` we asked with ``idempotency_key`` (our metadata), if made."""
        try:
            found = await self._client.v1.refunds.list_async({"payment_intent": reference, "limit": 100})
        except stripe.StripeError as error:
            raise _provider_error(error) from error
        for refund in found.data:
            metadata: dict[str, Any] = refund.to_dict().get("metadata") or {}
            key = metadata.get(consts.REFUND_KEY)
            if key == idempotency_key and refund.status in MADE_REFUNDS:
                return RefundResult(refund.id, consts.from_stripe_amount(refund.amount, refund.currency))
        return None

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]
