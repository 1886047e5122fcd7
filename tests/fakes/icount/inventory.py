"""The fake iCount's inventory: ``inventory/add_item``, ``update_item``, ``get_items`` and ``delete_item``.

Items are kept as iCount's ``iCountInventoryItem`` type lists them, by ``inventory_item_id`` (a number, as
text). Where iCount's answer is not documented the fake picks one and says so: ``add_item`` answers
``{"status": true, "inventory_item_id": ...}``; ``get_items`` answers ``{"items": [...]}`` and matches
``sku`` exactly; an unknown item is ``item_not_found``. ``refuse_items(reason)`` makes the next item writes
refused with that reason (an account without the inventory module answers so, for instance).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal, InvalidOperation

from tests.fakes.icount.wire import CURRENCY_IDS, Json, Refusal


class FakeInventory:
    # Kept by FakeIcount.
    created: Counter[str]

    def _init_inventory(self) -> None:
        self.items: dict[str, Json] = {}
        self.deleted_items: list[str] = []
        self._item_refusals: list[tuple[str, int]] = []
        self._next_item = 500

    def refuse_items(self, reason: str = "inventory_disabled", times: int = 1) -> None:
        """The next ``times`` ``add_item``/``update_item`` calls are refused with ``reason``."""
        self._item_refusals.append((reason, times))

    def _refused_item(self) -> None:
        for index, (reason, times) in enumerate(self._item_refusals):
            if times > 0:
                self._item_refusals[index] = (reason, times - 1)
                raise Refusal(reason, "the item was not saved")

    @staticmethod
    def _item_fields(params: Json, item: Json) -> None:
        for name in ("sku", "description", "long_description"):
            if name in params:
                item[name] = str(params[name])
        if "unitprice" in params:
            try:
                price = Decimal(str(params["unitprice"]))
            except (InvalidOperation, ValueError) as error:
                raise Refusal("bad_unitprice") from error
            if not price.is_finite() or price < 0:
                raise Refusal("bad_unitprice")
            item["unitprice"] = f"{price:.2f}"
        if "unit_price_includes_vat" in params:
            item["unit_price_includes_vat"] = str(params["unit_price_includes_vat"]) in {"1", "true", "True"}
        if "currency_id" in params:
            if str(params["currency_id"]) not in CURRENCY_IDS:
                raise Refusal("bad_currency_id")
            item["currency_id"] = str(params["currency_id"])

    def _inventory_add_item(self, params: Json) -> Json:
        self._refused_item()
        if not params.get("description"):
            raise Refusal("missing_description", "an item needs a description")
        self._next_item += 1
        item_id = str(self._next_item)
        item: Json = {"inventory_item_id": item_id, "currency_id": "5", "unit_price_includes_vat": False}
        self._item_fields(params, item)
        self.items[item_id] = item
        self.created["item"] += 1
        return {"inventory_item_id": item_id}

    def _item(self, params: Json) -> Json:
        item = self.items.get(str(params.get("inventory_item_id", "")))
        if item is None:
            raise Refusal("item_not_found")
        return item

    def _inventory_update_item(self, params: Json) -> Json:
        self._refused_item()
        item = self._item(params)
        if "description" in params and not params["description"]:
            raise Refusal("missing_description", "an item needs a description")
        changed = dict(item)
        self._item_fields(params, changed)  # validated before anything is changed
        item.update(changed)
        return {"inventory_item_id": item["inventory_item_id"]}

    def _inventory_get_items(self, params: Json) -> Json:
        found = [
            dict(item)
            for item in self.items.values()
            if params.get("sku") in (None, item.get("sku"))
            and params.get("inventory_item_id") in (None, item["inventory_item_id"])
        ]
        return {"items": found, "items_count": len(found)}

    def _inventory_delete_item(self, params: Json) -> Json:
        item = self._item(params)
        del self.items[item["inventory_item_id"]]
        self.deleted_items.append(item["inventory_item_id"])
        return {}
