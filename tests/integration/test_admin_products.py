"""The products page (/admin/products) through the real app and its test client, on SQLite and a real
Postgres: create, edit and disable through the dialog, each field's own message, the sync state of each
row, sort and filter, CSRF, and no way to another vendor's products."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.domain.product import SyncState
from bot.services import products as product_service
from bot.services.products import NewProduct
from bot.store.tables import products as products_table
from bot.web.keys import tasks_key
from tests.admin_support import OTHER_ADMIN, Dashboard, add_vendor
from tests.conftest import NOW
from tests.integration.test_admin_orders import post, text_of

CAKE = NewProduct(sku="gateau-choc", name="Gâteau au chocolat", price="12.50", description="8 parts")


async def settled(dashboard: Dashboard) -> None:
    """The background syncs started by the page are done."""
    await dashboard.app[tasks_key].drain()


async def test_a_product_is_created_through_the_dialog_and_shown_synced(dashboard: Dashboard) -> None:
    browser = await dashboard.sign_in()
    empty = await (await browser.get("/admin/products")).text()
    assert "Aucun produit pour l'instant" in text_of(empty)
    opened = await (await browser.get("/admin/products?new=1")).text()
    assert re.search(r'<dialog id="product-dialog"[^>]* open', opened), "no JavaScript needed to open it"
    status, _, location = await post(
        browser, "/admin/products", sku="gateau-choc", name="Gâteau au chocolat", price="12,50",
        description="8 parts", vat_included="on",
    )  # fmt: skip
    assert (status, location) == (303, "/admin/products?done=added")
    await settled(dashboard)
    page = text_of(await (await browser.get(location)).text())
    assert "Produit ajouté" in page
    assert "Gâteau au chocolat" in page and "gateau-choc" in page and "12.50 EUR" in page and "TTC" in page
    assert "synchronisé" in page
    [row] = await dashboard.rows(products_table)
    assert (row["sku"], row["sync_state"], str(row["unit_price"])) == ("gateau-choc", "synced", "12.50")


async def test_each_refused_field_gets_its_message_next_to_it_and_nothing_is_written(
    dashboard: Dashboard,
) -> None:
    browser = await dashboard.sign_in()
    status, html, _ = await post(browser, "/admin/products", sku="gateau choc", name=" ", price="-4")
    assert status == 400
    assert re.search(r'<dialog id="product-dialog"[^>]* open', html), "the dialog stays open"
    for name in ("sku", "name", "price"):
        assert f'id="f-{name}-error"' in html, name
        assert re.search(rf'id="f-{name}"[^>]*aria-invalid="true"', html), name
    shown = text_of(html)
    assert "n'est pas une référence (SKU) valable" in shown
    assert "Un produit doit avoir un nom" in shown and "supérieur à zéro" in shown
    assert 'value="gateau choc"' in html, "what was typed is kept"
    status, html, _ = await post(browser, "/admin/products", sku="tarte", name="Tarte", price="douze")
    assert status == 400 and "n'est pas un montant" in text_of(html) and 'id="f-sku-error"' not in html
    assert await dashboard.rows(products_table) == []


async def test_a_duplicate_sku_is_refused_next_to_the_sku_field(dashboard: Dashboard) -> None:
    await product_service.add_product(dashboard.uow, dashboard.vendor, CAKE, NOW)
    browser = await dashboard.sign_in()
    status, html, _ = await post(browser, "/admin/products", sku="Gateau-Choc", name="Autre", price="3")
    assert status == 400 and 'id="f-sku-error"' in html
    assert "déjà celle d'un autre de vos produits" in text_of(html)
    assert [row["name"] for row in await dashboard.rows(products_table)] == ["Gâteau au chocolat"]


async def test_a_product_is_edited_through_the_dialog_and_synced_again(dashboard: Dashboard) -> None:
    await product_service.add_product(dashboard.uow, dashboard.vendor, CAKE, NOW)
    browser = await dashboard.sign_in()
    opened = await (await browser.get("/admin/products?edit=gateau-choc")).text()
    assert re.search(r'<dialog id="product-dialog"[^>]* open', opened)
    assert 'action="/admin/products/gateau-choc/edit"' in opened and 'value="12.50"' in opened
    dashboard.clock.advance(timedelta(minutes=5))
    status, html, _ = await post(browser, "/admin/products/gateau-choc/edit", name="Gâteau", price="-1")
    assert status == 400 and 'id="f-price-error"' in html, "refused: nothing changes"
    status, _, location = await post(
        browser, "/admin/products/gateau-choc/edit", name="Gâteau choco", price="14", description=""
    )
    assert (status, location) == (303, "/admin/products?done=changed")
    await settled(dashboard)
    page = text_of(await (await browser.get(location)).text())
    assert "Gâteau choco" in page and "14.00 EUR" in page and "HT" in page, "an unticked box: before VAT"
    [row] = await dashboard.rows(products_table)
    assert (row["name"], row["description"], row["vat_included"]) == ("Gâteau choco", None, False)
    assert row["sync_state"] == "synced" and row["synced_at"] == NOW + timedelta(minutes=5)


async def test_disable_keeps_the_product_and_enable_brings_it_back(dashboard: Dashboard) -> None:
    await product_service.add_product(dashboard.uow, dashboard.vendor, CAKE, NOW)
    browser = await dashboard.sign_in()
    page = await (await browser.get("/admin/products")).text()
    assert 'id="disable-gateau-choc"' in page and "Désactiver" in page
    status, _, location = await post(browser, "/admin/products/gateau-choc/disable")
    assert (status, location) == (303, "/admin/products?done=disabled")
    await settled(dashboard)
    listed = text_of(await (await browser.get(location)).text())
    assert "Produit désactivé" in listed and "Aucun produit ne correspond" in listed
    disabled = await (await browser.get("/admin/products?show=disabled")).text()
    assert "Gâteau au chocolat" in disabled and 'id="enable-gateau-choc"' in disabled
    [row] = await dashboard.rows(products_table)
    assert row["active"] is False and row["sync_state"] == "synced"
    status, _, location = await post(browser, "/admin/products/gateau-choc/enable?show=disabled")
    assert (status, location) == (303, "/admin/products?show=disabled&done=enabled")
    assert [row["active"] for row in await dashboard.rows(products_table)] == [True]


async def test_the_list_sorts_and_filters_and_shows_a_failed_sync_with_its_reason(
    dashboard: Dashboard,
) -> None:
    for sku, name, price in (
        ("b-tarte", "Tarte", "9"),
        ("a-eclair", "Éclair", "3"),
        ("c-gateau", "Gâteau", "30"),
    ):
        await product_service.add_product(dashboard.uow, dashboard.vendor, NewProduct(sku, name, price), NOW)
    async with dashboard.uow() as uow:
        [failed] = [p for p in await uow.products.for_vendor(dashboard.vendor.id) if p.sku == "b-tarte"]
        failed.sync_state, failed.sync_error = (
            SyncState.FAILED,
            "icount inventory/add_item: inventory_disabled",
        )
        failed.sync_attempts, failed.next_sync_at = 1, NOW + timedelta(minutes=1)
        await uow.products.update(failed)
        await uow.commit()
    browser = await dashboard.sign_in()

    async def order(query: str) -> list[str]:
        html = await (await browser.get(f"/admin/products{query}")).text()
        return re.findall(r'<tr id="product-([^"]+)"', html)

    assert await order("") == ["a-eclair", "c-gateau", "b-tarte"], "by name, accents aside"
    assert await order("?sort=sku") == ["a-eclair", "b-tarte", "c-gateau"]
    assert await order("?sort=price&dir=desc") == ["c-gateau", "b-tarte", "a-eclair"]
    assert await order("?q=TAR") == ["b-tarte"] and await order("?q=a-ecl") == ["a-eclair"]
    page = await (await browser.get("/admin/products?sort=price")).text()
    assert 'href="/admin/products?sort=price&amp;dir=desc"' in page, "the sorted column sorts the other way"
    shown = text_of(page)
    assert "échec" in shown and "inventory_disabled" in shown and "nouvel essai" in shown
    assert "en attente" in shown


async def test_a_form_without_its_csrf_token_is_refused(dashboard: Dashboard) -> None:
    await product_service.add_product(dashboard.uow, dashboard.vendor, CAKE, NOW)
    browser = await dashboard.sign_in()
    for path, form in (
        ("/admin/products", {"sku": "tarte", "name": "Tarte", "price": "9"}),
        ("/admin/products/gateau-choc/edit", {"name": "X", "price": "1"}),
        ("/admin/products/gateau-choc/disable", {}),
    ):
        response = await browser.post(path, {**form, "csrf": "forged"})
        assert response.status == 403, path
    [row] = await dashboard.rows(products_table)
    assert (row["name"], row["active"]) == ("Gâteau au chocolat", True)


async def test_another_vendor_neither_sees_nor_changes_these_products(dashboard: Dashboard) -> None:
    await product_service.add_product(dashboard.uow, dashboard.vendor, CAKE, NOW)
    await add_vendor(dashboard.uow, "Traiteur", OTHER_ADMIN)
    other = await dashboard.sign_in(phone=OTHER_ADMIN)
    page = await (await other.get("/admin/products?show=all")).text()
    assert 'id="product-gateau-choc"' not in page and "Gâteau au chocolat" not in page
    editing = await (await other.get("/admin/products?edit=gateau-choc")).text()
    assert "/admin/products/gateau-choc/edit" not in editing and "Gâteau au chocolat" not in editing
    for path in ("/admin/products/gateau-choc/edit", "/admin/products/gateau-choc/disable"):
        status, _, _ = await post(other, path, name="Volé", price="1")
        assert status == 404, path
    status, _, _ = await post(other, "/admin/products", sku="gateau-choc", name="Le leur", price="5")
    assert status == 303, "a SKU is unique per vendor only"
    rows = sorted((row["name"], row["active"]) for row in await dashboard.rows(products_table))
    assert rows == [("Gâteau au chocolat", True), ("Le leur", True)]


async def test_the_page_is_right_to_left_in_hebrew_and_laid_out_for_a_phone(dashboard: Dashboard) -> None:
    await product_service.add_product(dashboard.uow, dashboard.vendor, CAKE, NOW)
    from bot.services import vendors as vendor_service

    await vendor_service.change_settings(dashboard.uow, dashboard.vendor, [("locale", "he")], None, NOW)
    browser = await dashboard.sign_in()
    html = await (await browser.get("/admin/products")).text()
    assert '<html lang="he" dir="rtl">' in html
    assert "מוצרים" in html and "השבתה" in html
    assert "@media (max-width: 40rem)" in html and '<code dir="ltr">gateau-choc</code>' in html
