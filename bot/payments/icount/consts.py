"""iCount API v3 names and rules, written once."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from bot.domain.errors import DomainError
from bot.domain.money import Money

NAME = "icount"
DEFAULT_API_BASE = "https://api.icount.co.il/api/v3.php"
# Unofficial, but what iCount answers beyond it is "Too many requests": stay under it per token.
REQUESTS_PER_MINUTE = 30
TIMEOUT_SECONDS = 20.0

AUTH_LOGIN = "auth/login"
AUTH_LOGOUT = "auth/logout"
AUTH_INFO = "auth/info"
CLIENT_CREATE = "client/create"
CLIENT_INFO = "client/info"
CLIENT_CREATE_OR_UPDATE = "client/create_or_update"
GENERATE_SALE = "paypage/generate_sale"
CC_TRANSACTIONS = "cc/transactions"
CC_REFUND = "cc/refund"
CC_BILL = "cc/bill"
CC_J5_STATUS = "cc/j5_status"
CC_TOKEN_INFO = "cc_storage/token_info"
CC_TOKEN_DELETE = "cc_storage/delete"
DOC_CREATE = "doc/create"
DOC_INFO = "doc/info"
DOC_CANCEL = "doc/cancel"
DOC_URL = "doc/get_doc_url"
INVENTORY_GET_ITEMS = "inventory/get_items"
INVENTORY_ADD_ITEM = "inventory/add_item"
INVENTORY_UPDATE_ITEM = "inventory/update_item"

# iCount's own currency ids (checked on a live account: ILS=5, not 1). Others go by ISO code.
CURRENCY_IDS = {"ILS": 5, "USD": 2, "EUR": 1, "GBP": 4}

DOCTYPE_INVREC = "invrec"
DOCTYPE_RECEIPT = "receipt"
DOCTYPES = (DOCTYPE_INVREC, DOCTYPE_RECEIPT)

# The throttling answer is plain text (sometimes misspelt), not JSON.
TOO_MANY_REQUESTS = ("too many requests", "too may requests")

# iCount does not document the reason it gives for an expired session; any failure whose reason names
# the session or the login, on a session call, is taken as "log in again and retry once".
SESSION_WORDS = ("sid", "session", "login", "logged")
AUTH_WORDS = ("auth", "token", "login", "password", "user", "cid", "permission", "priv")

# The IPN fields we keep (the rest, e.g. customer addresses, is not needed and not stored).
IPN_FIELDS = frozenset(
    {
        "confirmation_code", "sum", "currency_code", "currency_id", "num_of_payments", "cc_type", "cc_last4",
        "doctype", "docnum", "payment_date", "customer_id", "cp", "cc_bill_log_id", "bill_log_id",
        # A saved card's token (never its number): a payment whose customer ticked "save", a guarantee.
        "cc_token_id",
        # The address the customer typed on the pay page: their confirmation email goes there when the
        # vendor gave them none.
        "customer_email",
    }
)  # fmt: skip


def text(value: object) -> str | None:
    """An answer's value as text; missing and empty are None."""
    if value is None or value == "":
        return None
    return str(value)


def flag(value: object) -> bool:
    """iCount's booleans: 1/"1"/true, or 0/"0"/""/false."""
    return value not in (None, "", 0, "0", False, "false", "False")


def currency_params(currency: str) -> dict[str, object]:
    """``currency_id`` where iCount's id is known, always with the ISO code as well."""
    params: dict[str, object] = {"currency_code": currency}
    if currency in CURRENCY_IDS:
        params["currency_id"] = CURRENCY_IDS[currency]
    return params


def amount_text(money: Money) -> str:
    """A sum as iCount reads it: a plain decimal with the currency's digits."""
    return f"{money.amount:f}"


def parse_sum(value: object, currency: str) -> Money | None:
    try:
        return Money(Decimal(str(value).strip()), currency)
    except (InvalidOperation, DomainError):
        return None
