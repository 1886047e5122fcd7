"""The sandbox provider: payment pages served by the bot itself (``/sandbox/checkout/{id}``), for demos
and tests. Stateless: the link id is derived from the idempotency key, so creating the same link twice
gives the same link; the page reads its amount from our store, and refunds always succeed.

Cards work like a real provider's, without one: a guarantee's page authorises a hold, captures and
releases always succeed, and a saved card's token says how it behaves when charged (``consts``: a card
that needs the customer's authentication, one that is declined, or one that pays)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from bot.domain.money import Money
from bot.domain.refund import RefundStatus
from bot.payments.port import (
    AccountInfo,
    CardHold,
    ChargeAttempt,
    ChargeStatus,
    HoldCheck,
    HoldState,
    LinkRequest,
    PaidPayment,
    PaymentLink,
    ProductIds,
    ProductSnapshot,
    RefundAttempt,
    SavedCard,
    SavedCardRequest,
)
from bot.payments.sandbox.consts import DECLINED_CARD, NAME, THREE_DS_CARD


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class SandboxProvider:
    name = NAME
    # A guarantee's card is kept for later only with consent: its page's "save my card" box.
    guarantee_pages_ask_consent = True
    hold_window = timedelta(days=7)

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    async def create_link(self, request: LinkRequest) -> PaymentLink:
        link_id = f"sbx_{_digest(request.idempotency_key)}"
        return PaymentLink(NAME, link_id, f"{self._base_url}/sandbox/checkout/{link_id}")

    async def deactivate_link(self, provider_link_id: str) -> None:
        """Nothing to tell: the checkout page refuses links that our store marks inactive."""

    async def refund_payment(self, payment: PaidPayment, amount: Money, key: str) -> RefundAttempt:
        return RefundAttempt(RefundStatus.SUCCEEDED, f"sbx_re_{_digest(key)}")

    async def check_refund(
        self, payment: PaidPayment, amount: Money, key: str, asked_at: datetime, now: datetime
    ) -> RefundAttempt:
        # The same key is the same refund: asking again is the answer.
        return await self.refund_payment(payment, amount, key)

    async def check_connection(self) -> AccountInfo:
        return AccountInfo(name=None, account_id=None)

    # ProductCatalogue: no remote catalogue, so a product is synced as soon as it is saved.

    async def sync_product(self, product: ProductSnapshot) -> ProductIds:
        return ProductIds(product.icount_item_id, product.stripe_product_id, product.stripe_price_id)

    # CardGuarantee: the checkout page's "authorise" is the hold.

    async def capture_hold(self, hold: CardHold, amount: Money, key: str) -> ChargeAttempt:
        return ChargeAttempt(ChargeStatus.SUCCEEDED, f"sbx_cap_{_digest(key)}", amount=amount)

    async def release_hold(self, hold: CardHold) -> None:
        """Nothing is held anywhere: the page's authorisation was the whole of it."""

    async def check_hold(self, hold: CardHold) -> HoldCheck:
        # Stateless: the sandbox knows only what its page told the inbox.
        return HoldCheck(HoldState.UNKNOWN)

    # SavedCardCharge: the token says how the card behaves.

    async def charge_saved_card(self, charge: SavedCardRequest) -> ChargeAttempt:
        if charge.card.token.startswith(THREE_DS_CARD):
            return ChargeAttempt(ChargeStatus.AUTHENTICATION_REQUIRED, reason="authentication_required")
        if charge.card.token.startswith(DECLINED_CARD):
            return ChargeAttempt(ChargeStatus.FAILED, reason="card declined (sandbox)")
        return ChargeAttempt(ChargeStatus.SUCCEEDED, f"sbx_pay_{_digest(charge.key)}", amount=charge.amount)

    async def find_saved_card_charge(self, charge: SavedCardRequest) -> ChargeAttempt:
        # The same key is the same charge: asking again is the answer.
        return await self.charge_saved_card(charge)

    async def forget_card(self, card: SavedCard) -> None:
        """Nothing is kept anywhere but in our store."""

    async def card_details(self, card: SavedCard) -> SavedCard | None:
        # The page sends a card only when its "save my card" box was ticked: that is the consent.
        return card

    async def close(self) -> None:
        return None
