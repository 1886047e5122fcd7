"""A vendor's products as iCount inventory items (``inventory/add_item``, ``update_item``, ``get_items``).

``add_item`` has no idempotency key: a product without an item id is first looked up by its SKU
(``get_items``), so a retry after a lost answer, or an item the vendor made by hand in iCount with the same
SKU, is updated instead of made twice. A disabled product keeps its item: iCount items have no "active"
flag, and ``delete_item`` would take it from under the documents that name it (``inventory_item_id``).
Prices are sent as they are typed, with ``unit_price_includes_vat`` saying whether VAT is in them.
"""

from __future__ import annotations

from typing import Any

from bot.payments.catalogue import ProductIds, ProductSnapshot
from bot.payments.icount import consts
from bot.payments.icount.client import IcountClient, IcountError

_text = consts.text


def item_params(product: ProductSnapshot) -> dict[str, Any]:
    params: dict[str, Any] = {
        "sku": product.sku,
        "description": product.name,
        "long_description": product.description or "",
        "unitprice": consts.amount_text(product.unit_price),
        "unit_price_includes_vat": 1 if product.vat_included else 0,
    }
    currency = product.unit_price.currency
    if currency in consts.CURRENCY_IDS:
        # add_item takes no currency_code: a currency iCount has no known id for is left to the account's.
        params["currency_id"] = consts.CURRENCY_IDS[currency]
    return params


def _items(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """``get_items``' list, whichever way it comes (undocumented: a list or a map by id)."""
    found = answer.get("items", answer.get("results_list", []))
    if isinstance(found, dict):
        found = list(found.values())
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


class IcountInventory:
    def __init__(self, client: IcountClient) -> None:
        self.client = client

    async def item_with_sku(self, sku: str) -> str | None:
        """The id of the account's item with exactly this SKU, if there is one."""
        answer = await self.client.call(consts.INVENTORY_GET_ITEMS, {"sku": sku})
        for item in _items(answer):
            if _text(item.get("sku")) == sku and _text(item.get("inventory_item_id")):
                return _text(item.get("inventory_item_id"))
        return None

    async def sync(self, product: ProductSnapshot) -> ProductIds:
        item_id = product.icount_item_id or await self.item_with_sku(product.sku)
        params = item_params(product)
        if item_id is None:
            answer = await self.client.call(consts.INVENTORY_ADD_ITEM, params)
            item_id = _text(answer.get("inventory_item_id")) or _text(answer.get("item_id"))
            if item_id is None:
                raise IcountError(
                    "icount inventory/add_item: no inventory_item_id", reason="bad_answer", transient=False
                )
        else:
            await self.client.call(consts.INVENTORY_UPDATE_ITEM, {"inventory_item_id": item_id, **params})
        return ProductIds(
            icount_item_id=item_id,
            stripe_product_id=product.stripe_product_id,
            stripe_price_id=product.stripe_price_id,
        )
