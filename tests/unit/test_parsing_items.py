"""``nouvelle PHONE 2x gateau-choc 1x livraison``: an order made of the vendor's products, read from chat."""

from __future__ import annotations

import pytest

from bot.handlers.parsing import Unparsed, VendorCommand, Verb, parse_vendor_command


@pytest.mark.parametrize(
    ("text", "items", "language"),
    [
        ("nouvelle +33612345678 2x gateau-choc 1x livraison", (("gateau-choc", 2), ("livraison", 1)), "fr"),
        ("new +447700900123 2x choc-cake", (("choc-cake", 2),), "en"),
        ("new +447700900123 2 x choc-cake", (("choc-cake", 2),), "en"),
        ("new +447700900123 2 × choc-cake 3X tart", (("choc-cake", 2), ("tart", 3)), "en"),
        ("nouvelle +33612345678 2×gateau-choc 1xlivraison", (("gateau-choc", 2), ("livraison", 1)), "fr"),
        ("nouvelle +33612345678 gateau-choc", (("gateau-choc", 1),), "fr"),
        ("nouvelle +33612345678 gateau-choc, livraison", (("gateau-choc", 1), ("livraison", 1)), "fr"),
        (
            "nouvelle +33612345678 2x Gâteau chocolat 1x Livraison",
            (("Gâteau chocolat", 2), ("Livraison", 1)),
            "fr",
        ),
        ("nouvelle +33612345678 livraison 2x GATEAU-CHOC", (("livraison", 1), ("GATEAU-CHOC", 2)), "fr"),
    ],
)
def test_a_new_order_of_products_reads_each_product_and_its_quantity(
    text: str, items: tuple[tuple[str, int], ...], language: str
) -> None:
    parsed = parse_vendor_command(text)
    assert isinstance(parsed, VendorCommand)
    assert (parsed.verb, parsed.items, parsed.amount, parsed.label, parsed.language) == (
        Verb.NEW, items, None, "", language
    )  # fmt: skip
    assert parsed.phone == text.split()[1]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nouvelle +33612345678 150 2x gateau-choc", "price_and_items"),
        ("nouvelle +33612345678 150 € 2x gateau-choc", "price_and_items"),
        ("nouvelle +33612345678 2x gateau-choc 150€", "price_and_items"),
        ("nouvelle +33612345678 2x", "missing_product"),
        ("nouvelle +33612345678 2x 1x livraison", "missing_product"),
        ("nouvelle +33612345678", "missing_price"),
    ],
)
def test_a_price_with_products_or_a_quantity_without_one_is_refused(text: str, problem: str) -> None:
    parsed = parse_vendor_command(text)
    assert isinstance(parsed, Unparsed)
    assert (parsed.verb, parsed.problem) == (Verb.NEW, problem)


@pytest.mark.parametrize(
    ("text", "amount", "label"),
    [
        ("nouvelle +33612345678 150 Gâteau", "150", "Gâteau"),
        ("nouvelle +33612345678 2 gateau-choc", "2", "gateau-choc"),
        ("nouvelle +33612345678 150 Tarte AUX fraises x2", "150", "Tarte AUX fraises x2"),
        ("new +33612345678 45,50 € Birthday cake", "45,50 €", "Birthday cake"),
    ],
)
def test_a_new_order_with_a_price_reads_as_before(text: str, amount: str, label: str) -> None:
    parsed = parse_vendor_command(text)
    assert isinstance(parsed, VendorCommand)
    assert (parsed.amount, parsed.label, parsed.items) == (amount, label, ())
