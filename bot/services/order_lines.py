"""Orders made of products: the lines a vendor asks for (``2x gateau-choc 1x livraison``) read into order
lines, and those lines as a provider shows them when a payment covers the whole price.

A line's product is found by its SKU, else by its name, among the vendor's active products; its unit price
is the product's at that moment (a later change of the product never changes the order)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain.errors import (
    AmbiguousProduct,
    InvalidQuantity,
    ProductDisabled,
    ProductInOtherCurrency,
    ProductNotFound,
)
from bot.domain.money import Money
from bot.domain.order import Order
from bot.domain.product import OrderLine, Product, lines_total
from bot.domain.vendor import Vendor
from bot.payments.port import LineItem
from bot.store.uow import UnitOfWork

MAX_QUANTITY = 999
# Stripe takes at most 20 line items per page: an order with more is paid as one line.
MAX_PROVIDER_LINES = 20

# What the vendor typed: a product's SKU or name, and how many.
ItemRequest = tuple[str, int]


async def product_for(uow: UnitOfWork, vendor: Vendor, reference: str) -> Product:
    """The vendor's active product whose SKU is ``reference``, else whose name is (case-insensitively)."""
    text = reference.strip()
    found = await uow.products.find(vendor.id, text)
    by_sku = [p for p in found if p.sku.lower() == text.lower()]
    matches = by_sku or found
    if len(matches) == 1:
        return matches[0]
    if matches:
        skus = ", ".join(sorted(p.sku for p in matches))
        raise AmbiguousProduct(reference=text, skus=skus)
    disabled = await uow.products.by_sku(vendor.id, text)
    if disabled is not None and not disabled.active:
        raise ProductDisabled(sku=disabled.sku)
    raise ProductNotFound(sku=text)


async def lines_for(uow: UnitOfWork, vendor: Vendor, items: Sequence[ItemRequest]) -> list[OrderLine]:
    """The order's lines, in the order asked, each at its product's current price."""
    lines = []
    for position, (reference, quantity) in enumerate(items, start=1):
        if not 1 <= quantity <= MAX_QUANTITY:
            raise InvalidQuantity(reference=reference.strip(), quantity=quantity, most=MAX_QUANTITY)
        product = await product_for(uow, vendor, reference)
        if product.unit_price.currency != vendor.currency:
            raise ProductInOtherCurrency(
                sku=product.sku, got=product.unit_price.currency, expected=vendor.currency
            )
        lines.append(OrderLine.of(product, quantity, position))
    return lines


def label_of(lines: Sequence[OrderLine]) -> str:
    """The label of an order made of products when the vendor gives none: "2× Gâteau, 1× Livraison"."""
    return ", ".join(f"{line.quantity}× {line.name}" for line in lines)


async def provider_lines(uow: UnitOfWork, order: Order, amount: Money) -> tuple[LineItem, ...]:
    """The order's lines as a provider shows them, when ``amount`` is its whole price (a full payment);
    none for a deposit or a balance, which are one line for their amount. A line keeps the provider's
    Price only while the product's current price is still the line's (a Stripe Price never changes)."""
    if order.price is None or amount != order.price:
        return ()
    lines = await uow.products.lines_of(order.id)
    if not lines or len(lines) > MAX_PROVIDER_LINES or lines_total(lines, amount.currency) != amount:
        return ()
    items = []
    for line in lines:
        product = await uow.products.get(line.product_id)
        same_price = product is not None and product.unit_price == line.unit_price
        items.append(
            LineItem(
                sku=line.sku,
                name=line.name,
                quantity=line.quantity,
                unit_price=line.unit_price,
                vat_included=line.vat_included,
                icount_item_id=None if product is None else product.icount_item_id,
                stripe_price_id=product.stripe_price_id if product is not None and same_price else None,
            )
        )
    return tuple(items)
