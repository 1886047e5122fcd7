"""An order made of the vendor's products, typed on WhatsApp (``nouvelle +33... 2x gateau-choc 1x
livraison``), driven over HTTP with signed webhooks; the replies go out through the fake Graph API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.money import Money
from bot.services import orders as order_service
from bot.web.keys import uow_key
from tests.order_lines_support import add_product
from tests.whatsapp_support import ADMIN, CUSTOMER, RunningBot, start_bot


@pytest.fixture
async def bot(tmp_path: Path, engine: AsyncEngine, database_url: str) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path, database_url):
        yield running


async def test_a_vendor_orders_two_products_by_sku_and_name_and_reads_the_lines_back(bot: RunningBot) -> None:
    uow = bot.app[uow_key]
    async with uow() as work:
        [vendor] = await work.vendors.all()
    await add_product(uow, vendor.id, "gateau-choc", "Gâteau chocolat", "32.50")
    await add_product(uow, vendor.id, "livraison", "Livraison", "8")
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 2x gateau-choc 1x Livraison")
    created = (await bot.next_to(ADMIN)).text
    assert "#1" in created and "73.00" in created
    assert "2× Gâteau chocolat, 1× Livraison" in created
    assert "· 2 × Gâteau chocolat (gateau-choc) — 32.50 EUR = 65.00 EUR" in created
    assert "· 1 × Livraison (livraison) — 8.00 EUR = 8.00 EUR" in created
    view = await order_service.show_order(uow, None, 1)
    assert view.order.price == Money(Decimal("73.00"), "EUR")
    assert [(line.sku, line.quantity) for line in view.lines] == [("gateau-choc", 2), ("livraison", 1)]

    await bot.says(ADMIN, "statut 1")
    status = (await bot.next_to(ADMIN)).text
    assert "· 2 × Gâteau chocolat (gateau-choc) — 32.50 EUR = 65.00 EUR" in status

    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 1x tarte")
    assert "tarte" in (await bot.next_to(ADMIN)).text  # no such product: said, nothing made
    await bot.says(ADMIN, f"nouvelle +{CUSTOMER} 150 2x gateau-choc")
    assert "pas les deux" in (await bot.next_to(ADMIN)).text
    assert len(await order_service.list_orders(uow, None)) == 1
