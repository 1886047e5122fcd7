"""Where a payment link of ours leads (``/pay/<provider>/<transaction>``): to a fresh provider page
while the request is open and its link active, else nowhere (the link has ended)."""

from __future__ import annotations

import uuid

from bot.payments.port import HostedCheckout
from bot.services.context import PaymentDeps, with_retries
from bot.services.payments import link_request_for
from bot.services.providers import provider_of


async def checkout_url(deps: PaymentDeps, transaction_id: uuid.UUID, provider_name: str) -> str | None:
    async with deps.uow() as uow:
        transaction = await uow.transactions.get(transaction_id)
        if transaction is None or transaction.provider != provider_name or not transaction.is_open:
            return None
        link = (
            None if transaction.payment_link_id is None else await uow.links.get(transaction.payment_link_id)
        )
        if link is None or not link.active:
            return None
        provider = await provider_of(deps, uow, transaction.vendor_id)
    request = await link_request_for(deps, transaction_id)
    if not isinstance(provider, HostedCheckout) or request is None:
        return None
    return await with_retries(lambda: provider.checkout_url(request), deps.retry_delay)
