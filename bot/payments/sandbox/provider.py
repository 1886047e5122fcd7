from __future__ import annotations

import hashlib

from bot.domain.money import Money
from bot.payments.port import Capability, LinkRequest, PaymentLink, RefundResult

NAME = "sandbox"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class SandboxProvider:
    """Links to ``/sandbox/checkout/{id}``. Stateless: the link id is derived from the idempotency key,
    so creating the same link twice gives the same link; the page reads its amount from our store."""

    name = NAME
    capabilities = Capability.REFUND | Capability.PARTIAL_REFUND | Capability.LINK_DEACTIVATION

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    async def create_link(self, request: LinkRequest) -> PaymentLink:
        link_id = f"sbx_{_digest(request.idempotency_key)}"
        return PaymentLink(NAME, link_id, f"{self._base_url}/sandbox/checkout/{link_id}")

    async def deactivate_link(self, provider_link_id: str) -> None:
        """Nothing to tell: the checkout page refuses links that our store marks inactive."""

    async def refund(self, reference: str, amount: Money, idempotency_key: str) -> RefundResult:
        return RefundResult(f"sbx_re_{_digest(idempotency_key)}", amount)

    async def close(self) -> None:
        return None
