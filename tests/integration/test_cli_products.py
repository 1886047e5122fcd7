"""`bot product add|list|set|disable`: their text and JSON output, in process on a sandbox vendor and a fresh
SQLite file, and the one line a bad argument gets with nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_cli import in_tmp
from tests.integration.test_cli_outputs import ok, ok_json, refused, vendor

__all__ = ["in_tmp", "vendor"]


def add(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    return ok(
        capsys, "product", "add", "--sku", "gateau-choc", "--name", "Gâteau", "--price", "12.50", *extra
    )


def test_product_add_list_set_and_disable_print_their_text_output(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    added = add(capsys, "--description", "8 parts")
    assert added.strip() == "product gateau-choc added: gateau-choc  12.50 EUR  VAT incl.  Gâteau  [synced]"
    ok(
        capsys,
        "product",
        "add",
        "--sku",
        "livraison",
        "--name",
        "Livraison",
        "--price",
        "5",
        "--vat-excluded",
    )
    assert ok(capsys, "product", "list").splitlines() == [
        "gateau-choc  12.50 EUR  VAT incl.  Gâteau  [synced]",
        "livraison  5.00 EUR  VAT excl.  Livraison  [synced]",
    ]
    changed = ok(capsys, "product", "set", "gateau-choc", "price=14,00", "name=Gâteau choco")
    assert changed.strip() == "gateau-choc  14.00 EUR  VAT incl.  Gâteau choco  [synced]"
    disabled = ok(capsys, "product", "disable", "livraison")
    assert disabled.strip() == "product livraison disabled (kept for past orders) [synced]"
    assert ok(capsys, "product", "list").splitlines() == [
        "gateau-choc  14.00 EUR  VAT incl.  Gâteau choco  [synced]"
    ]
    every = ok(capsys, "product", "list", "--all").splitlines()
    assert every[1] == "livraison  5.00 EUR  VAT excl.  Livraison  [synced]  disabled"


def test_product_list_says_when_there_is_nothing_to_list(
    vendor: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ok(capsys, "product", "list", "--all").strip() == "no product yet"
    add(capsys)
    ok(capsys, "product", "disable", "gateau-choc")
    assert ok(capsys, "product", "list").strip() == "no active product (--all shows disabled ones)"


def test_product_json_is_stable_for_scripts(vendor: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ok_json(
        capsys, "product", "add", "--sku", "tarte", "--name", "Tarte", "--price", "9", "--vat-excluded"
    )
    assert data == {
        "sku": "tarte",
        "name": "Tarte",
        "description": None,
        "price": "9.00",
        "currency": "EUR",
        "vat_included": False,
        "active": True,
        "sync": {"state": "synced", "error": None, "attempts": 0, "synced_at": data["sync"]["synced_at"],
                 "next_try_at": None},
        "provider_ids": {"icount_item_id": None, "stripe_product_id": None, "stripe_price_id": None},
    }  # fmt: skip
    assert data["sync"]["synced_at"] is not None
    changed = ok_json(capsys, "product", "set", "tarte", "description=Aux pommes", "vat_included=on")
    assert (changed["description"], changed["vat_included"]) == ("Aux pommes", True)
    assert ok_json(capsys, "product", "list") == [changed]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["product", "add", "--sku", "gateau-choc", "--name", "Autre", "--price", "3"], "gateau-choc"),
        (["product", "add", "--sku", "tarte", "--name", "Tarte", "--price", "-3"], "-3"),
        (["product", "add", "--sku", "tarte", "--name", "Tarte", "--price", "abc"], "abc"),
        (["product", "add", "--sku", "une tarte", "--name", "Tarte", "--price", "3"], "une tarte"),
        (["product", "add", "--sku", "tarte", "--name", " ", "--price", "3"], "name"),
        (["product", "set", "gateau-choc", "colour=blue"], "colour"),
        (["product", "set", "gateau-choc", "price=-1"], "-1"),
        (["product", "set", "eclair", "price=3"], "eclair"),
        (["product", "disable", "eclair"], "eclair"),
    ],
    ids=[
        "duplicate sku", "negative price", "unparsable price", "sku with a space", "empty name",
        "unknown key", "negative new price", "unknown sku", "disable an unknown sku",
    ],
)  # fmt: skip
def test_a_bad_product_argument_is_one_line_starting_with_bot_and_changes_nothing(
    vendor: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    add(capsys)
    err = refused(capsys, *argv)
    assert words in err
    [product] = ok_json(capsys, "product", "list", "--all")
    assert (product["sku"], product["name"], product["price"]) == ("gateau-choc", "Gâteau", "12.50")
