"""The fake iCount's wire: the parameter names it accepts, recorded calls, refusals, injected faults, and
PHP's bracket form encoding read back."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

Json = dict[str, Any]
AUTH_PARAMS = frozenset({"sid", "cid", "user", "pass"})
INVENTORY_ITEM_PARAMS = frozenset(
    {"description", "long_description", "sku", "item_type_id", "condition_id", "unit_type_id", "unitprice"}
    | {"tax_exempt", "unit_price_includes_vat", "currency_id", "cost_amount", "cost_currency_id", "stock"}
    | {"entry_date", "warehouse_id"}
)
# Parameter names from the official index (``icount-apiv3-params.txt``); cc/refund is used in the wild.
PARAMS: dict[str, frozenset[str]] = {
    "auth/login": frozenset(
        {"cid", "user", "pass", "require_module", "require_priv", "get_company_info", "get_settings"}
        | {"get_bank_accounts", "list_type"}
    ),
    "auth/logout": frozenset(),
    "auth/info": frozenset({"get_company_info", "get_settings", "get_bank_accounts", "list_type"}),
    "client/create": frozenset(
        {"custom_client_id", "vat_id", "email", "client_name", "first_name", "last_name", "phone", "mobile"}
        | {"notes", "custom_info"}
    ),
    "client/info": frozenset({"client_id", "custom_client_id", "vat_id", "email", "client_name"}),
    "client/create_or_update": frozenset(
        {"client_id", "custom_client_id", "vat_id", "email", "client_name", "first_name", "last_name"}
        | {"phone", "mobile", "fax", "website", "bus_country", "bus_state", "bus_city", "bus_zip"}
        | {"bus_street", "bus_no", "home_country", "home_state", "home_city", "home_zip", "home_street"}
        | {"home_no", "bank"}
        | {"branch", "account", "iban", "swift_code", "routing_number", "faccount", "employee_assigned"}
        | {"client_type_id", "client_type_name", "payment_terms", "client_type_discount", "notes", "digsig"}
        | {"custom_info"}
    ),
    "paypage/generate_sale": frozenset(
        {"paypage_id", "currency_id", "currency_code", "items", "sum", "description", "x_order_id"}
        | {"client_name", "first_name", "last_name", "email", "phone", "page_lang", "success_url"}
        | {"failure_url", "cancel_url", "ipn_url", "utm_campaign", "utm_source", "utm_content"}
    ),
    "cc/transactions": frozenset(
        {"client_id", "custom_client_id", "vat_id", "email", "client_name", "start_date", "end_date"}
        | {"cc_last4", "confirmation_code"}
    ),
    "cc/refund": frozenset({"cc_bill_log_id", "sum"}),
    # The whole official list, card number fields included: a test asserts the bot never sends them.
    "cc/bill": frozenset(
        {"client_id", "custom_client_id", "vat_id", "email", "client_name", "sum", "use_j5_if_available"}
        | {"num_of_payments", "first_payment", "is_credit", "currency_id", "currency_code", "currency"}
        | {"cc_token_id", "cc_number", "cc_type", "cc_cvv", "cc_validity", "cc_holder_id", "cc_holder_name"}
        | {"payment_description", "is_test"}
    ),
    "cc/j5_status": frozenset({"cc_token_id", "cc_number", "sum"}),
    "cc_storage/token_info": frozenset(
        {"client_id", "custom_client_id", "vat_id", "email", "client_name", "cc_token_id"}
    ),
    "cc_storage/delete": frozenset(
        {"cc_token_id", "client_id", "custom_client_id", "vat_id", "email", "client_name"}
    ),
    "doc/create": frozenset(
        {"doctype", "client_id", "custom_client_id", "client_name", "doc_date", "currency_id"}
        | {"currency_code", "items", "cc", "cash", "sanity_string", "doc_lang", "send_email", "tax_exempt"}
    ),
    "doc/info": frozenset({"doctype", "docnum", "get_items", "get_payments"}),
    "doc/cancel": frozenset({"doctype", "docnum", "refund_cc", "reason"}),
    "doc/get_doc_url": frozenset({"doctype", "docnum", "orig", "doc_lang", "lang"}),
    "inventory/get_items": frozenset(
        {"inventory_item_id", "sku", "barcode", "description", "q", "long_description", "client_id"}
        | {"manufacturer_id", "type_id", "condition_id", "unit_type_id", "warehouse_id", "min_stock_alert"}
        | {"sort", "sort_order", "limit", "offset", "list_type"}
    ),
    "inventory/add_item": frozenset(INVENTORY_ITEM_PARAMS),
    "inventory/update_item": frozenset(INVENTORY_ITEM_PARAMS | {"inventory_item_id"}),
    "inventory/delete_item": frozenset({"inventory_item_id"}),
}
CURRENCY_IDS = {"5": "ILS", "2": "USD", "1": "EUR", "4": "GBP"}


class RecordedCall(NamedTuple):
    method: str
    params: Json
    content_type: str
    auth: str  # "token", "sid", "password" or "none"
    # When the fake got it, by the fake's clock (the test's).
    at: datetime | None = None


class Refusal(Exception):
    """An answer with ``status: false``: iCount's ``reason``, ``error_description``, ``error_details``;
    ``extra`` goes into the answer as well (``cc/bill``'s ``success`` and ``error``)."""

    def __init__(self, reason: str, description: str = "", *details: str, extra: Json | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.description = description
        self.details = list(details)
        self.extra = extra or {}


@dataclass
class Fault:
    method: str
    times: int
    status: int = 500
    seconds: float = 0.0
    text: str | None = None
    # The call does its work, then the answer is lost (a gateway timeout): its outcome is unknown.
    after_work: bool = False


def decode_form(pairs: Iterable[tuple[str, str]]) -> Json:
    """PHP's bracket encoding back into nested values: ``items[0][description]=v`` ->
    ``{"items": [{"description": "v"}]}``. Values stay strings, as on the wire."""
    root: Json = {}
    for key, value in pairs:
        head, _, rest = key.partition("[")
        path = [head, *re.findall(r"\[([^\]]*)\]", "[" + rest)] if rest else [head]
        node: Any = root
        for depth, segment in enumerate(path):
            last = depth == len(path) - 1
            child: Any = None if last else ([] if path[depth + 1].isdigit() else {})
            if isinstance(node, list):
                index = int(segment) if segment.isdigit() else len(node)
                node.extend([None] * (index + 1 - len(node)))
                if last:
                    node[index] = value
                elif node[index] is None:
                    node[index] = child
                node = node[index]
            else:
                if last:
                    node[segment] = value
                else:
                    node = node.setdefault(segment, child)
    return root
