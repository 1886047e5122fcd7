"""The fake Stripe's catalogue: Products updated (``POST /v1/products/{id}``), Prices created, retrieved
and archived (``POST /v1/prices``, ``GET``/``POST /v1/prices/{id}``), in Stripe's shapes.

As at Stripe: a Price's amount and currency never change (only ``active``, ``metadata``, ``nickname``,
``lookup_key``, and ``tax_behavior`` while it is unspecified), amounts are integers in minor units,
currencies lower case, and a Product's default price cannot be archived.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import datetime

from tests.fakes.stripe.state import FakeStripeState
from tests.fakes.stripe.wire import (
    FakeError,
    Json,
    Schema,
    boolean,
    integer,
    metadata_param,
    missing,
    new_id,
    no_such,
    reject_unknown,
)

PRODUCT_UPDATE: Schema = dict.fromkeys(
    ["name", "description", "active", "metadata", "default_price", "expand"]
)
PRICE_CREATE: Schema = dict.fromkeys(
    ["product", "currency", "unit_amount", "tax_behavior", "metadata", "nickname", "lookup_key", "expand"]
)
PRICE_UPDATE: Schema = dict.fromkeys(
    ["active", "metadata", "nickname", "lookup_key", "tax_behavior", "expand"]
)
TAX_BEHAVIORS = ("inclusive", "exclusive", "unspecified")


def _tax_behavior(value: object, name: str = "tax_behavior") -> str:
    if value not in TAX_BEHAVIORS:
        raise FakeError(400, f"Invalid tax_behavior: must be one of {', '.join(TAX_BEHAVIORS)}", param=name)
    return str(value)


class CatalogueApi(FakeStripeState):
    def __init__(self, api_key: str, webhook_secret: str, clock: Callable[[], datetime]) -> None:
        super().__init__(api_key, webhook_secret, clock)
        self.prices: dict[str, Json] = {}

    def _update_product(self, params: Json, product_id: str) -> Json:
        if product_id not in self.products:
            raise no_such("product", product_id, "id")
        reject_unknown(params, PRODUCT_UPDATE)
        product = copy.deepcopy(self.products[product_id])  # validate everything before changing anything
        if "name" in params:
            if not params["name"]:
                raise FakeError(400, "You must provide a name for the product.", param="name")
            product["name"] = params["name"]
        if "description" in params:
            product["description"] = params["description"] or None
        if "active" in params:
            product["active"] = boolean(params["active"], "active")
        if "metadata" in params:
            product["metadata"] = metadata_param(params["metadata"], "metadata", product["metadata"])
        if "default_price" in params:
            price = self.prices.get(params["default_price"])
            if price is None:
                raise no_such("price", str(params["default_price"]), "default_price", status=400)
            if price["product"] != product_id or not price["active"]:
                raise FakeError(
                    400, "The default price must be an active price of this product.", param="default_price"
                )
            product["default_price"] = price["id"]
        product["updated"] = self.timestamp()
        self.products[product_id] = product
        return copy.deepcopy(product)

    def _create_price(self, params: Json) -> Json:
        reject_unknown(params, PRICE_CREATE)
        product = params.get("product")
        if not product:
            raise missing("product")
        if product not in self.products:
            raise no_such("product", str(product), "product", status=400)
        currency = str(params.get("currency") or "")
        if not currency:
            raise missing("currency")
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise FakeError(400, f"Invalid currency: {currency}", param="currency")
        unit_amount = integer(params.get("unit_amount"), "unit_amount")
        price_id = new_id("price_")
        self.prices[price_id] = {
            "id": price_id,
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": self.timestamp(),
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": params.get("lookup_key"),
            "metadata": metadata_param(params.get("metadata"), "metadata"),
            "nickname": params.get("nickname"),
            "product": product,
            "recurring": None,
            "tax_behavior": _tax_behavior(params.get("tax_behavior", "unspecified")),
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        }
        self.created["price"] += 1
        return copy.deepcopy(self.prices[price_id])

    def _update_price(self, params: Json, price_id: str) -> Json:
        if price_id not in self.prices:
            raise no_such("price", price_id, "id")
        reject_unknown(params, PRICE_UPDATE)
        price = copy.deepcopy(self.prices[price_id])
        if "active" in params:
            active = boolean(params["active"], "active")
            if not active and self.products[price["product"]]["default_price"] == price_id:
                raise FakeError(
                    400, "This price cannot be archived because it is the default price of its product."
                )
            price["active"] = active
        if "metadata" in params:
            price["metadata"] = metadata_param(params["metadata"], "metadata", price["metadata"])
        for name in ("nickname", "lookup_key"):
            if name in params:
                price[name] = params[name] or None
        if "tax_behavior" in params:
            if price["tax_behavior"] != "unspecified":
                raise FakeError(
                    400, "The tax_behavior of a price cannot be changed once set.", param="tax_behavior"
                )
            price["tax_behavior"] = _tax_behavior(params["tax_behavior"])
        self.prices[price_id] = price
        return copy.deepcopy(price)

    def prices_of(self, product_id: str) -> list[Json]:
        """The product's prices, oldest first (for tests)."""
        return sorted(
            (p for p in self.prices.values() if p["product"] == product_id), key=lambda p: p["created"]
        )
