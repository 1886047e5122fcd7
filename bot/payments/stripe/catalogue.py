"""A vendor's products as Stripe Products, each with its current Price as the Product's default_price.

A Product gets an id we choose (``bot_product_<our id>``): asked again after a lost answer, Stripe says it
exists, and it is updated instead. Stripe's Prices cannot change their amount, so a new price (or a change
of VAT, its ``tax_behavior``) makes a new Price, made the Product's default, and only then the old one is
archived (``active=false``: Stripe refuses to archive a product's default price). The new Price's
idempotency key names the old one and the new amount, so a retry finds the Price made the first time.
A disabled product is an archived Product (``active=false``); its Price is kept for the orders made with it.
"""

from __future__ import annotations

from typing import Any

import stripe

from bot.payments.catalogue import ProductIds, ProductSnapshot
from bot.payments.stripe import consts


def catalogue_product_id(product: ProductSnapshot) -> str:
    return f"bot_product_{product.product_id.hex}"


def _tax_behavior(product: ProductSnapshot) -> str:
    return "inclusive" if product.vat_included else "exclusive"


def _metadata(product: ProductSnapshot) -> dict[str, str]:
    return {"sku": product.sku, "product_id": str(product.product_id), "vendor_id": str(product.vendor_id)}


class StripeCatalogue:
    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def sync(self, product: ProductSnapshot) -> ProductIds:
        product_id = product.stripe_product_id
        if product_id is None:
            product_id = await self._create_product(product)
        else:
            await self._update_product(product_id, product)
        price_id = await self._current_price(product, product_id)
        return ProductIds(
            icount_item_id=product.icount_item_id, stripe_product_id=product_id, stripe_price_id=price_id
        )

    async def _create_product(self, product: ProductSnapshot) -> str:
        wanted = catalogue_product_id(product)
        params: dict[str, Any] = {
            "id": wanted,
            "name": product.name,
            "active": product.active,
            "metadata": _metadata(product),
        }
        if product.description:
            params["description"] = product.description
        try:
            await self._client.v1.products.create_async(params)  # type: ignore[arg-type]
        except stripe.InvalidRequestError as error:
            if error.code != consts.RESOURCE_EXISTS:
                raise
            # Made by an attempt whose answer was lost: brought up to date instead.
            await self._update_product(wanted, product)
        return wanted

    async def _update_product(self, product_id: str, product: ProductSnapshot) -> None:
        params: dict[str, Any] = {
            "name": product.name,
            "description": product.description or "",
            "active": product.active,
            "metadata": _metadata(product),
        }
        await self._client.v1.products.update_async(product_id, params)  # type: ignore[arg-type]

    async def _current_price(self, product: ProductSnapshot, product_id: str) -> str:
        amount = consts.stripe_amount(product.unit_price)
        currency = product.unit_price.currency.lower()
        tax = _tax_behavior(product)
        old = product.stripe_price_id
        if old is not None:
            price = await self._client.v1.prices.retrieve_async(old)
            if (price.unit_amount, price.currency, price.tax_behavior, price.active) == (
                amount,
                currency,
                tax,
                True,
            ):
                return old
        params: dict[str, Any] = {
            "product": product_id,
            "currency": currency,
            "unit_amount": amount,
            "tax_behavior": tax,
            "metadata": _metadata(product),
        }
        key = f"catalogue-price-{product.product_id.hex}-{old or 'first'}-{currency}-{amount}-{tax}"
        created = await self._client.v1.prices.create_async(
            params,  # type: ignore[arg-type]
            options={"idempotency_key": key},
        )
        await self._client.v1.products.update_async(product_id, {"default_price": created.id})
        if old is not None:
            await self._client.v1.prices.update_async(old, {"active": False})
        return created.id
