"""The Stripe provider: one single-use Payment Link per request, refunds by payment intent with our
own key (kept in the refund's metadata, so a refund without an answer is found again)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import stripe

from bot.domain.money import Money
from bot.domain.refund import RefundStatus
from bot.payments.port import (
    LinkRequest,
    PaidPayment,
    PaymentLink,
    ProviderError,
    RefundAttempt,
    RefundResult,
)
from bot.payments.stripe import consts
from bot.payments.stripe.client import TIMEOUT_SECONDS, stripe_client

log = logging.getLogger(__name__)
# A refund in these states has given (or is giving) the money back.
MADE_REFUNDS = ("succeeded", "pending", "requires_action")


def _provider_error(error: stripe.StripeError) -> ProviderError:
    transient = isinstance(error, stripe.APIConnectionError | stripe.RateLimitError | stripe.APIError)
    # Stripe's message names the problem but never the key; the request id helps support.
    return ProviderError(f"stripe {type(error).__name__}: {error.user_message or error}", transient=transient)


class StripeProvider:
    name = consts.NAME

    def __init__(self, api_key: str, api_base: str | None = None, timeout: float = TIMEOUT_SECONDS) -> None:
        self._client, self._http = stripe_client(api_key, api_base, timeout)
        self._products: set[str] = set()

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
        try:
            product = await self._ensure_product(request.vendor_id, request.vendor_name)
            params: dict[str, Any] = {
                "line_items": [
                    {
                        "price_data": {
                            "currency": request.amount.currency.lower(),
                            "unit_amount": consts.stripe_amount(request.amount),
                            "product": product,
                        },
                        "quantity": 1,
                    }
                ],
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

    async def deactivate_link(self, provider_link_id: str) -> None:
        try:
            await self._client.v1.payment_links.update_async(provider_link_id, {"active": False})
        except stripe.StripeError as error:
            raise _provider_error(error) from error

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
