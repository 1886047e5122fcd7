"""The dashboard's home, orders list and order page, through the real app and its test client, on SQLite
and a real Postgres: the Payé modal and the seed's confirmation, the other buttons calling the chat's
services, refusals that read clearly (never a 500), and no way to another vendor's order."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from bot.services import orders as order_service
from bot.store.tables import outbox_messages
from tests.admin_support import ADMIN, OTHER_ADMIN, Browser, Dashboard, add_vendor
from tests.conftest import NOW

CUSTOMER = "+33699887766"


def text_of(html: str) -> str:
    """The page as a reader sees it: tags gone, spaces collapsed."""
    without = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", without))).strip()


async def new_order(dashboard: Dashboard, price: str = "150", label: str = "Gâteau") -> int:
    order = await order_service.create_order(
        dashboard.uow, dashboard.vendor, CUSTOMER, price, label, True, NOW
    )
    return order.number


async def post(browser: Browser, path: str, **form: str) -> tuple[int, str, str]:
    response = await browser.post(path, {"csrf": await browser.csrf(), **form})
    return response.status, await response.text(), response.headers.get("Location", "")


def dialog_fields(html: str) -> dict[str, str]:
    """The hidden fields of the confirmation dialog's form, as the browser would post them."""
    dialog = html[html.index('id="confirm-dialog"') :]
    return dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', dialog.split("</form>")[0])
    )


async def confirmed(browser: Browser, path: str, **form: str) -> tuple[int, str, str]:
    """Opens the action's dialog, then confirms it."""
    status, html, _ = await post(browser, path, **form)
    assert status == 200 and 'id="confirm-dialog"' in html, text_of(html)
    fields = dialog_fields(html)
    assert fields.pop("step") == "send"
    fields.pop("csrf")
    return await post(browser, path, step="send", **fields)


async def kinds_to_customer(dashboard: Dashboard) -> list[str]:
    async with dashboard.uow() as uow:
        rows = await uow.connection.execute(
            select(outbox_messages.c.kind).where(outbox_messages.c.to_phone == CUSTOMER.lstrip("+"))
        )
        return [row.kind for row in rows]


async def test_a_30_percent_deposit_goes_through_the_paye_modal_and_the_seeds_confirmation(
    dashboard: Dashboard,
) -> None:
    number = await new_order(dashboard)
    browser = await dashboard.sign_in()
    page = await (await browser.get(f"/admin/orders/{number}")).text()
    assert 'id="amount" name="amount"' in page and 'value="45.00"' in page
    assert re.findall(r'data-amount="([^"]+)"', page) == ["45.00", "75.00", "150.00"]
    status, html, _ = await post(browser, f"/admin/orders/{number}/pay", kind="deposit", amount="45.00")
    assert status == 200
    shown = text_of(html)
    assert (
        "Un lien de paiement pour Acompte de 45.00 EUR sera envoyé au client par WhatsApp. Confirmer ?"
        in shown
    )
    assert await kinds_to_customer(dashboard) == []
    fields = dialog_fields(html)
    assert fields.pop("csrf") and fields == {
        "step": "send",
        "kind": "deposit",
        "amount": "45.00",
        "shown": "45.00",
    }
    status, _, location = await post(browser, f"/admin/orders/{number}/pay", **fields)
    assert status == 303 and location == f"/admin/orders/{number}?done=requested"
    done = text_of(await (await browser.get(location)).text())
    assert "Le lien de paiement a été envoyé au client par WhatsApp." in done and "45.00 EUR" in done
    assert await kinds_to_customer(dashboard) == ["payment_request"]
    # The same dialog posted again (a double click, a reload): refused clearly, nothing sent twice.
    status, html, _ = await post(browser, f"/admin/orders/{number}/pay", **fields)
    assert status == 400 and "La commande a changé" in text_of(html)
    assert await kinds_to_customer(dashboard) == ["payment_request"]


async def test_a_deposit_over_the_balance_or_a_stale_full_payment_is_refused_with_a_clear_message(
    dashboard: Dashboard,
) -> None:
    number = await new_order(dashboard)
    browser = await dashboard.sign_in()
    status, html, _ = await post(browser, f"/admin/orders/{number}/pay", kind="deposit", amount="200")
    assert status == 409 and 'id="problem"' in html and "200" in text_of(html)
    status, html, _ = await post(browser, f"/admin/orders/{number}/pay", kind="deposit", amount="abc")
    assert status == 400 and 'id="problem"' in html
    status, html, _ = await post(browser, f"/admin/orders/{number}/pay", kind="nothing")
    assert status == 400 and "Choisissez Paiement complet ou Acompte." in text_of(html)
    # The dialog showed 150 for the full payment; a cash payment of 50 came meanwhile (another tab).
    status, html, _ = await post(browser, f"/admin/orders/{number}/pay", kind="full")
    stale = dialog_fields(html)
    assert stale["shown"] == "150.00"
    other_tab = dashboard.browser()
    await dashboard.sign_in(other_tab)
    status, _, _ = await confirmed(other_tab, f"/admin/orders/{number}/cash", amount="50")
    assert status == 303
    stale.pop("csrf")
    status, html, _ = await post(browser, f"/admin/orders/{number}/pay", **stale)
    assert status == 400 and "La commande a changé" in text_of(html)
    assert await kinds_to_customer(dashboard) == ["payment_receipt"]


async def test_cash_then_delivery_and_completion_move_the_order_along_from_its_page(
    dashboard: Dashboard,
) -> None:
    number = await new_order(dashboard)
    browser = await dashboard.sign_in()
    status, html, _ = await post(browser, f"/admin/orders/{number}/cash")
    assert status == 200 and "150.00 EUR payés en caisse seront enregistrés" in text_of(html)
    fields = dialog_fields(html)
    status, _, location = await post(
        browser, f"/admin/orders/{number}/cash", step="send", amount=fields["amount"]
    )
    assert status == 303 and location.endswith("done=cash")
    page = text_of(await (await browser.get(location)).text())
    assert "Paiement en caisse enregistré." in page and "payée" in page
    for action, word in (("ship", "en livraison"), ("complete", "terminée")):
        status, _, location = await post(browser, f"/admin/orders/{number}/{action}")
        assert status == 303
        assert word in text_of(await (await browser.get(location)).text())
    # Nothing more to do: the page says so instead of offering buttons that would fail.
    status, html, _ = await post(browser, f"/admin/orders/{number}/ship")
    assert status == 409 and 'id="problem"' in html


async def test_a_refund_is_confirmed_with_its_parts_then_made(dashboard: Dashboard) -> None:
    number = await new_order(dashboard)
    browser = await dashboard.sign_in()
    await confirmed(browser, f"/admin/orders/{number}/cash")
    status, html, _ = await post(browser, f"/admin/orders/{number}/refund", amount="20")
    assert status == 200 and "20.00 EUR seront remboursés au client" in text_of(html)
    status, _, location = await post(browser, f"/admin/orders/{number}/refund", step="send", amount="20.00")
    assert status == 303 and location.endswith("done=refunded")
    page = text_of(await (await browser.get(location)).text())
    assert "Remboursement effectué." in page and "130.00 EUR" in page


async def test_vendor_b_s_admin_gets_the_404_page_on_vendor_a_s_order_and_on_unknown_addresses(
    dashboard: Dashboard,
) -> None:
    number = await new_order(dashboard)
    await add_vendor(dashboard.uow, "Fleuriste", OTHER_ADMIN)
    other = await dashboard.sign_in(phone=OTHER_ADMIN)
    for path in (f"/admin/orders/{number}", "/admin/orders/999", "/admin/orders/abc", "/admin/nowhere"):
        response = await other.get(path)
        assert response.status == 404, path
        assert "Page introuvable" in await response.text() or "Page not found" in await response.text()
    status, _, _ = await post(other, f"/admin/orders/{number}/cash")
    assert status == 404
    assert await kinds_to_customer(dashboard) == []
    mine = await dashboard.sign_in(phone=ADMIN)
    assert (await mine.get(f"/admin/orders/{number}")).status == 200


async def test_the_orders_list_finds_by_number_phone_or_label_and_filters_by_status(
    dashboard: Dashboard,
) -> None:
    first = await new_order(dashboard, "80", "Tarte")
    second = await new_order(dashboard, "150", "Gâteau")
    browser = await dashboard.sign_in()
    listed = text_of(await (await browser.get("/admin/orders")).text())
    assert listed.index(f"#{second}") < listed.index(f"#{first}")
    found = text_of(await (await browser.get("/admin/orders?q=tarte")).text())
    assert f"#{first}" in found and f"#{second}" not in found
    paid = text_of(await (await browser.get("/admin/orders?status=paid")).text())
    assert "Aucune commande ne correspond." in paid
    odd = await browser.get("/admin/orders?status=bogus&page=-3&q=" + "x" * 500)
    assert odd.status == 200


async def test_home_shows_what_was_collected_and_what_is_still_asked(dashboard: Dashboard) -> None:
    number = await new_order(dashboard)
    browser = await dashboard.sign_in()
    assert (await confirmed(browser, f"/admin/orders/{number}/cash", amount="50"))[0] == 303
    assert (await confirmed(browser, f"/admin/orders/{number}/pay", kind="deposit", amount="30"))[0] == 303
    home = text_of(await (await browser.get("/admin")).text())
    assert "Encaissé aujourd'hui 50.00 EUR" in home
    assert "Demandes en attente 30.00 EUR" in home and "Soldes impayés 100.00 EUR" in home
