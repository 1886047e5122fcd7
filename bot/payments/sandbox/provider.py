"""The sandbox provider: payment pages served by the bot itself (``/sandbox/checkout/{id}``), for demos
and tests. Stateless: the link id is derived from the idempotency key, so creating the same link twice
gives the same link; the page reads its amount from our store, and refunds always succeed."""

from __future__ import annotations

import hashlib
from datetime import datetime

from bot.domain.money import Money
from bot.domain.refund import RefundStatus
from bot.payments.port import AccountInfo, LinkRequest, PaidPayment, PaymentLink, RefundAttempt
from bot.payments.sandbox.consts import NAME


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class SandboxProvider:
    name = NAME

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

    async def close(self) -> None:
        return None
