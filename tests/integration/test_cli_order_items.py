"""``bot order create --item SKU:QTY`` (repeatable, instead of --price) and ``bot order show N --json`` with
the order's lines, in-process on a fresh SQLite file."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from tests.cli_support import SETTINGS_PREFIXES
from tests.order_lines_support import add_product


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith(SETTINGS_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def _products(database: Path) -> None:
    engine = create_engine(f"sqlite:///{database}")
    try:
        uow = UnitOfWorkFactory(engine)
        async with uow() as work:
            [vendor] = await work.vendors.all()
        await add_product(uow, vendor.id, "gateau-choc", "Gâteau chocolat", "32.50")
        await add_product(uow, vendor.id, "livraison", "Livraison", "8")
    finally:
        await engine.dispose()


def test_an_order_is_made_from_items_and_shown_with_its_lines(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(capsys, "vendor", "add", "--name", "Boulangerie", "--admin", "+33612345678")[0] == 0
    asyncio.run(_products(in_tmp / "bot.db"))
    code, out, _ = run_main(
        capsys,
        "order",
        "create",
        "--customer",
        "+33699887766",
        "--item",
        "gateau-choc:2",
        "--item",
        "Livraison",
    )
    assert code == 0 and "order #1 created" in out and "73.00 EUR" in out
    assert "2 x gateau-choc  Gâteau chocolat  65.00 EUR" in out
    code, out, _ = run_main(capsys, "order", "show", "1", "--json")
    shown = json.loads(out)
    assert shown["price"] == "73.00" and shown["label"] == "2× Gâteau chocolat, 1× Livraison"
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in shown["lines"]] == [
        ("gateau-choc", 2, "32.50"),
        ("livraison", 1, "8.00"),
    ]


def test_an_unknown_item_or_a_price_with_items_is_one_clear_line(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_main(capsys, "vendor", "add", "--name", "Boulangerie", "--admin", "+33612345678")[0] == 0
    asyncio.run(_products(in_tmp / "bot.db"))
    code, _, err = run_main(capsys, "order", "create", "--customer", "+33699887766", "--item", "tarte:1")
    assert code != 0 and "tarte" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_main(
        capsys, "order", "create", "--customer", "+33699887766", "--price", "10", "--item", "livraison"
    )
    assert code != 0 and "not allowed with argument --price" in err
    code, out, _ = run_main(capsys, "order", "list", "--json")
    assert json.loads(out) == []
