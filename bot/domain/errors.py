"""Domain errors.

Every error carries a stable ``code`` and the parameters needed to explain it. The words shown to a
vendor or an operator live in ``bot/templates/<locale>/errors/<code>.j2``, so the domain stays free of
user-facing text and each locale can say it its own way.

    DomainError
    ├── MoneyError: UnsupportedCurrency, InvalidAmount, TooManyDecimals, CurrencyMismatch, InvalidPercent,
    │               ProductInOtherCurrency
    ├── OrderError: IllegalTransition, OrderHasNoPrice, OrderNotPayable
    ├── RequestError: AmountNotPositive, AmountExceedsBalance, NothingToRequest, DepositsDisabled,
    │                 RequestAlreadyOpen,
    │                 RefundExceedsPaid, RefundPending, RefundResolved,
    │                 GuaranteesOff, GuaranteeAlreadyActive, HoldNotActive, CaptureExceedsHold, ChargePending
    ├── InputError: InvalidPhone, InvalidCustomerReference, AmbiguousCustomer, CustomerPhoneTaken,
    │               UnknownSetting, InvalidSetting, UnsupportedLocale, UnknownTimezone,
    │               SecretKeyRequired, AdminPhoneTaken, WrongCode, PhoneLocked, InvalidEmail,
    │               InvalidReportFilter, InvertedDateRange, DuplicateSku, ProductNameRequired,
    │               AmbiguousProduct, ProductDisabled, InvalidQuantity, PriceWithItems
    ├── NotFound: NoVendor, VendorNotFound, VendorRequired, OrderNotFound, CustomerNotFound, NoOpenRequest,
    │             NothingToRefund, NoUnknownRefund, NoGuarantee, NoSavedCard,
    │             ProductNotFound
    └── ProviderProblem: ProviderNotConfigured, PaymentLinkFailed, PaymentLinkDelayed, RefundNotSupported,
                         RefundFailed, CardsNotSupported, ChargeFailed
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "domain_error"

    def __init__(self, **params: Any) -> None:
        self.params = params
        details = ", ".join(f"{key}={value}" for key, value in params.items())
        super().__init__(f"{self.code}({details})")


class MoneyError(DomainError):
    code = "money_error"


class UnsupportedCurrency(MoneyError):
    code = "unsupported_currency"


class InvalidAmount(MoneyError):
    code = "invalid_amount"


class TooManyDecimals(MoneyError):
    code = "too_many_decimals"


class CurrencyMismatch(MoneyError):
    code = "currency_mismatch"


class ProductInOtherCurrency(MoneyError):
    """An order line's product (``sku``) is priced in ``got``, the vendor's orders in ``expected``."""

    code = "product_in_other_currency"


class InvalidPercent(MoneyError):
    code = "invalid_percent"


class OrderError(DomainError):
    code = "order_error"


class IllegalTransition(OrderError):
    code = "illegal_transition"


class OrderHasNoPrice(OrderError):
    code = "order_has_no_price"


class OrderNotPayable(OrderError):
    code = "order_not_payable"


class RequestError(DomainError):
    code = "request_error"


class AmountNotPositive(RequestError):
    code = "amount_not_positive"


class AmountExceedsBalance(RequestError):
    code = "amount_exceeds_balance"


class NothingToRequest(RequestError):
    code = "nothing_to_request"


class DepositsDisabled(RequestError):
    code = "deposits_disabled"


class RequestAlreadyOpen(RequestError):
    """All that is left to pay is already asked by a link still open: it can be sent again instead."""

    code = "request_already_open"


class RefundExceedsPaid(RequestError):
    """More than was paid minus what was already refunded (or is being refunded)."""

    code = "refund_exceeds_paid"


class RefundPending(RequestError):
    """An earlier refund on the order has no known outcome yet: nothing more until it is known."""

    code = "refund_pending"


class RefundResolved(RequestError):
    """Asked again, the bot first found out what became of an earlier refund without an answer (made, or
    not): it reports that and does nothing more, since the vendor may have meant that same refund."""

    code = "refund_resolved"


class GuaranteesOff(RequestError):
    """The vendor's guarantee_mode is off."""

    code = "guarantees_off"


class GuaranteeAlreadyActive(RequestError):
    """The order already has a guarantee asked or held: one at a time."""

    code = "guarantee_already_active"


class HoldNotActive(RequestError):
    """A capture of a guarantee that is not held (asked only, captured, released or lapsed)."""

    code = "hold_not_active"


class CaptureExceedsHold(RequestError):
    code = "capture_exceeds_hold"


class ChargePending(RequestError):
    """An earlier charge of the saved card (or capture) got no answer yet: nothing more until it is known."""

    code = "charge_pending"


class InputError(DomainError):
    code = "input_error"


class InvalidPhone(InputError):
    code = "invalid_phone"


class InvalidCustomerReference(InputError):
    code = "invalid_customer_reference"


class AmbiguousCustomer(InputError):
    code = "ambiguous_customer"


class CustomerPhoneTaken(InputError):
    code = "customer_phone_taken"


class InvalidSku(InputError):
    code = "invalid_sku"


class DuplicateSku(InputError):
    """The vendor already has a product with this SKU (whatever its case, disabled ones included)."""

    code = "duplicate_sku"


class ProductNameRequired(InputError):
    code = "product_name_required"


class AmbiguousProduct(InputError):
    """An order line's ``reference`` names several of the vendor's products (``skus``): the SKU is needed."""

    code = "ambiguous_product"


class ProductDisabled(InputError):
    """An order line names a product the vendor disabled."""

    code = "product_disabled"


class InvalidQuantity(InputError):
    """An order line's ``quantity`` of ``reference`` is not between 1 and ``most``."""

    code = "invalid_quantity"


class PriceWithItems(InputError):
    """An order is given a price and lines: its price is the sum of its lines."""

    code = "price_with_items"


class UnknownSetting(InputError):
    code = "unknown_setting"


class InvalidSetting(InputError):
    code = "invalid_setting"


class InvalidEmail(InputError):
    """``email`` is not an address: one @, a dot in the domain, at most 254 characters."""

    code = "invalid_email"


class UnsupportedLocale(InputError):
    code = "unsupported_locale"


class UnknownTimezone(InputError):
    code = "unknown_timezone"


class SecretKeyRequired(InputError):
    code = "secret_key_required"


class AdminPhoneTaken(InputError):
    """An admin phone that already belongs to a vendor: the bot would not know which one it speaks for."""

    code = "admin_phone_taken"


class WrongCode(InputError):
    """A sign-in code that is not the one sent (or has expired); ``remaining`` tries before the lockout."""

    code = "wrong_code"


class PhoneLocked(InputError):
    """Too many wrong codes: the phone may not sign in until ``until``."""

    code = "phone_locked"


class ReportFilterError(InputError):
    """A report's filter that cannot be used (a date, a period size, a method, a status...)."""

    code = "report_filter_error"


class InvalidReportFilter(ReportFilterError):
    """``field`` (from, to, by, method, status, provider, customer, order) cannot be ``value``."""

    code = "invalid_report_filter"


class InvertedDateRange(ReportFilterError):
    """A report's period that ends (``end``, a day) before it starts (``start``) or on the same day."""

    code = "inverted_date_range"


class NotFound(DomainError):
    code = "not_found"


class NoVendor(NotFound):
    code = "no_vendor"


class VendorNotFound(NotFound):
    code = "vendor_not_found"


class VendorRequired(NotFound):
    code = "vendor_required"


class OrderNotFound(NotFound):
    code = "order_not_found"


class CustomerNotFound(NotFound):
    code = "customer_not_found"


class NoOpenRequest(NotFound):
    code = "no_open_request"


class NothingToRefund(NotFound):
    code = "nothing_to_refund"


class NoUnknownRefund(NotFound):
    """``--resolve``: the order has no refund of unknown outcome to record."""

    code = "no_unknown_refund"


class NoGuarantee(NotFound):
    code = "no_guarantee"


class NoSavedCard(NotFound):
    """The customer has no card saved with their consent (or forgot it)."""

    code = "no_saved_card"


class ProductNotFound(NotFound):
    code = "product_not_found"


class ProviderProblem(DomainError):
    code = "provider_problem"


class ProviderNotConfigured(ProviderProblem):
    code = "provider_not_configured"


class PaymentLinkFailed(ProviderProblem):
    code = "payment_link_failed"


class PaymentLinkDelayed(ProviderProblem):
    code = "payment_link_delayed"


class RefundNotSupported(ProviderProblem):
    code = "refund_not_supported"


class RefundFailed(ProviderProblem):
    code = "refund_failed"


class RefundUncertain(ProviderProblem):
    """No answer from the provider: the refund may have been made, so asking again could refund twice."""

    code = "refund_uncertain"


class CardsNotSupported(ProviderProblem):
    """The vendor's provider holds no cards and charges no saved ones."""

    code = "cards_not_supported"


class ChargeFailed(ProviderProblem):
    """The provider refused a capture or a saved-card charge (a decline): nothing was charged."""

    code = "charge_failed"


def all_error_codes() -> set[str]:
    """Codes of every concrete error, so tests can check each has a template per locale."""
    found: set[str] = set()
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not cls.__subclasses__():
            found.add(cls.code)
    return found
