"""The dashboard's customers page (``/admin/customers``), through the real app and its test client, on
SQLite and a real Postgres: the list with its search and pages, orders count and sync state, the edit form
checked on the server with each error beside its field, CSRF, and no way to another vendor's customer."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from bot.domain.product import SyncState
from bot.services import customers as customer_service, orders as order_service, vendors as vendor_service
from tests.admin_support import OTHER_ADMIN, Dashboard, add_vendor
from tests.conftest import NOW
from tests.integration.test_admin_orders import post, text_of

DANA = "+972501234567"


async def customer_id(dashboard: Dashboard, phone: str) -> uuid.UUID:
    return (await customer_service.show_customer(dashboard.uow, dashboard.vendor, phone)).id


async def test_the_list_shows_each_customers_orders_count_last_order_and_sync_state_and_finds_by_any_field(
    dashboard: Dashboard,
) -> None:
    await order_service.create_order(dashboard.uow, dashboard.vendor, DANA, "90", "Gâteau", True, NOW)
    await order_service.create_order(
        dashboard.uow, dashboard.vendor, DANA, "40", "Tarte", True, NOW + timedelta(days=2)
    )
    await customer_service.set_customer(
        dashboard.uow, dashboard.vendor, DANA, [("name", "Dana Levi"), ("email", "dana@example.com")], NOW
    )
    await customer_service.set_customer(
        dashboard.uow, dashboard.vendor, "+33699887766", [("name", "Zoé")], NOW
    )
    zoe = await customer_id(dashboard, "+33699887766")
    async with dashboard.uow() as uow:
        await uow.customers.record_client_sync(zoe, SyncState.FAILED, "icount: bad_phone", None, None)
        await uow.commit()
    browser = await dashboard.sign_in()
    page = await browser.get("/admin/customers")
    assert page.status == 200
    shown = text_of(await page.text())
    assert "Dana Levi +972501234567 dana@example.com Commandes 2 Dernière commande 23 nov. 2026" in shown
    assert "non synchronisé" in shown, "a sandbox vendor keeps no client sync"
    assert "Zoé +33699887766" in shown and "échec icount: bad_phone" in shown
    for query, found, missing in [
        ("levi", "Dana Levi", "Zoé"),
        ("EXAMPLE.COM", "Dana Levi", "Zoé"),
        ("+33 6 99", "Zoé", "Dana Levi"),
        ("nobody", "Aucun client ne correspond.", "Dana Levi"),
    ]:
        html = await (await browser.get("/admin/customers", params={"q": query})).text()
        assert found in text_of(html) and missing not in text_of(html), query


async def test_the_list_goes_by_pages_of_25(dashboard: Dashboard) -> None:
    async with dashboard.uow() as uow:
        for n in range(30):
            await uow.customers.get_or_create(
                dashboard.vendor.id, f"97250{n:07d}", NOW + timedelta(minutes=n)
            )
        await uow.commit()
    browser = await dashboard.sign_in()
    first = await (await browser.get("/admin/customers")).text()
    assert len(re.findall(r'href="/admin/customers/[0-9a-f-]{36}"', first)) == 25
    assert "Page 1 sur 2 · 30 client(s)" in text_of(first) and 'rel="next"' in first
    second = await (await browser.get("/admin/customers?page=2")).text()
    assert len(re.findall(r'href="/admin/customers/[0-9a-f-]{36}"', second)) == 5
    assert "+972500000000" in second, "the oldest last"


async def test_the_edit_form_saves_name_email_and_language_and_shows_each_error_beside_its_field(
    dashboard: Dashboard,
) -> None:
    await order_service.create_order(dashboard.uow, dashboard.vendor, DANA, "90", "Gâteau", True, NOW)
    found = await customer_id(dashboard, DANA)
    browser = await dashboard.sign_in()
    page = await (await browser.get(f"/admin/customers/{found}")).text()
    assert 'name="email"' in page and 'name="locale"' in page
    status, html, _ = await post(
        browser, f"/admin/customers/{found}", name="Dana", email="dana@example", locale="xx"
    )
    assert status == 400
    assert re.search(r'id="f-email"[^>]*aria-invalid="true"', html) and 'id="f-email-error"' in html
    assert 'id="f-locale-error"' in html and 'id="f-name-error"' not in html
    assert "« dana@example » n'est pas une adresse e-mail" in text_of(html)
    assert 'value="dana@example"' in html, "what was typed stays in the field"
    stored = await customer_service.show_customer(dashboard.uow, dashboard.vendor, DANA)
    assert (stored.name, stored.email) == (None, None), "nothing saved"

    status, _, location = await post(
        browser, f"/admin/customers/{found}", name="Dana Levi", email="dana@example.com", locale="he"
    )
    assert (status, location) == (303, f"/admin/customers/{found}?done=saved")
    stored = await customer_service.show_customer(dashboard.uow, dashboard.vendor, DANA)
    assert (stored.name, stored.email, stored.locale) == ("Dana Levi", "dana@example.com", "he")
    assert stored.client_sync_state is None, "no client sync on the sandbox"
    saved = text_of(await (await browser.get(location)).text())
    assert "Enregistré." in saved
    status, _, _ = await post(browser, f"/admin/customers/{found}", name="Dana Levi", email="", locale="")
    stored = await customer_service.show_customer(dashboard.uow, dashboard.vendor, DANA)
    assert (status, stored.email, stored.locale) == (303, None, None), "emptied: none, the vendor's language"


async def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(dashboard: Dashboard) -> None:
    await order_service.create_order(dashboard.uow, dashboard.vendor, DANA, "90", "Gâteau", True, NOW)
    found = await customer_id(dashboard, DANA)
    browser = await dashboard.sign_in()
    response = await browser.post(f"/admin/customers/{found}", {"name": "Mallory", "email": "", "locale": ""})
    assert response.status == 403
    assert (await customer_service.show_customer(dashboard.uow, dashboard.vendor, DANA)).name is None


async def test_another_vendors_customer_is_the_same_404_as_an_unknown_one(dashboard: Dashboard) -> None:
    await order_service.create_order(dashboard.uow, dashboard.vendor, DANA, "90", "Gâteau", True, NOW)
    found = await customer_id(dashboard, DANA)
    await add_vendor(dashboard.uow, "Fleuriste", OTHER_ADMIN)
    other = await dashboard.sign_in(phone=OTHER_ADMIN)
    assert (await other.get(f"/admin/customers/{found}")).status == 404
    assert (await other.get(f"/admin/customers/{uuid.uuid4()}")).status == 404
    assert (await other.get("/admin/customers/not-an-id")).status == 404
    status, _, _ = await post(other, f"/admin/customers/{found}", name="Mallory", email="", locale="")
    assert status == 404
    assert DANA not in await (await other.get("/admin/customers")).text()
    assert (await customer_service.show_customer(dashboard.uow, dashboard.vendor, DANA)).name is None


async def test_the_page_reads_right_to_left_in_hebrew(dashboard: Dashboard) -> None:
    await vendor_service.change_settings(dashboard.uow, dashboard.vendor, [("locale", "he")], None, NOW)
    await order_service.create_order(dashboard.uow, dashboard.vendor, DANA, "90", "Gâteau", True, NOW)
    browser = await dashboard.sign_in()
    html = await (await browser.get("/admin/customers")).text()
    assert (
        'dir="rtl"' in html
        and "לקוחות" in html
        and '<div dir="ltr" class="muted">+972501234567</div>' in html
    )
