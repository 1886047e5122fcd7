"""The dashboard through the real aiohttp app and its test client: browsers with their own cookies, a
signed-in admin in one call, and the app's /admin routes (the fixtures: tests/integration/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from sqlalchemy import select

from bot.app import create_app
from bot.domain.vendor import Vendor
from bot.sandbox.keys import graph_key
from bot.services import vendors as vendor_service
from bot.store.tables import outbox_messages
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW, FrozenClock
from tests.payment_support import settings_for
from tests.whatsapp_support import free_port

ADMIN = "+33612345678"
OTHER_ADMIN = "+33611112222"
STRANGER = "+33699990000"
SESSION = "bot_admin"
CSRF = "bot_csrf"
TEMPLATE = "dashboard_code"


def digits(phone: str) -> str:
    return phone.lstrip("+")


class Browser:
    """One browser: its own cookies (sent whatever their Secure flag, as over https), no redirect followed."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, **options: Any) -> ClientResponse:
        self.client.session.cookie_jar.clear()
        response = await self.client.request(
            method, path, cookies=self.cookies, allow_redirects=False, **options
        )
        await response.read()
        for name, morsel in response.cookies.items():
            if morsel.value == "" or morsel["max-age"] == "0":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value
        return response

    async def get(self, path: str, **options: Any) -> ClientResponse:
        return await self.request("GET", path, **options)

    async def post(self, path: str, form: dict[str, str] | None = None, **options: Any) -> ClientResponse:
        return await self.request("POST", path, data=form or {}, **options)

    async def csrf(self) -> str:
        """The token this browser's forms carry: its ``bot_csrf`` cookie, as every form of a page does."""
        if CSRF not in self.cookies:
            page = await self.get("/admin/login")
            assert f'name="csrf" value="{self.cookies[CSRF]}"' in await page.text()
        return self.cookies[CSRF]

    async def ask_code(self, phone: str, next_page: str = "/admin") -> ClientResponse:
        return await self.post("/admin/login", {"csrf": await self.csrf(), "next": next_page, "phone": phone})

    async def enter_code(self, phone: str, code: str, next_page: str = "/admin") -> ClientResponse:
        form = {"csrf": await self.csrf(), "next": next_page, "phone": phone, "code": code}
        return await self.post("/admin/login/code", form)


@dataclass
class Dashboard:
    client: TestClient[Any, Any]
    uow: UnitOfWorkFactory
    clock: FrozenClock
    vendor: Vendor

    @property
    def app(self) -> web.Application:
        return self.client.app

    def browser(self) -> Browser:
        return Browser(self.client)

    async def last_code(self, phone: str) -> str:
        """The code of the latest sign-in message queued for ``phone``: its outbox row's parameter."""
        async with self.uow() as uow:
            rows = await uow.connection.execute(
                select(outbox_messages.c.payload)
                .where(outbox_messages.c.kind == "admin_code", outbox_messages.c.to_phone == digits(phone))
                .order_by(outbox_messages.c.id.desc())
            )
            payload = rows.scalars().first()
        assert payload is not None, f"no sign-in code queued for {phone}"
        [code] = payload["template_params"]
        assert isinstance(code, str) and re.fullmatch(r"\d{6}", code) and code in payload["text"]
        return code

    async def messages_to(self, phone: str) -> int:
        async with self.uow() as uow:
            rows = await uow.connection.execute(
                select(outbox_messages.c.id).where(outbox_messages.c.to_phone == digits(phone))
            )
            return len(rows.all())

    async def sign_in(self, browser: Browser | None = None, phone: str = ADMIN) -> Browser:
        browser = browser or self.browser()
        assert (await browser.ask_code(phone)).status == 200
        signed_in = await browser.enter_code(phone, await self.last_code(phone))
        assert signed_in.status == 303, await signed_in.text()
        assert SESSION in browser.cookies
        return browser

    async def rows(self, table: Any) -> list[dict[str, Any]]:
        async with self.uow() as uow:
            return [dict(row._mapping) for row in await uow.connection.execute(select(table))]


async def add_vendor(uow: UnitOfWorkFactory, name: str, admin: str) -> Vendor:
    new = vendor_service.NewVendor(name=name, admin_phones=[admin], timezone="Europe/Paris")
    vendor = (await vendor_service.add_vendor(uow, new, NOW)).vendor
    changed = await vendor_service.change_settings(
        uow, vendor, [("template.admin_code", TEMPLATE)], None, NOW
    )
    return changed.vendor


def admin_routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, a path it answers) for every route of the app under /admin, placeholders filled in."""
    found = []
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path != "/admin" and not path.startswith("/admin/"):
            continue
        if isinstance(route.resource, web.StaticResource):
            path += "/file.css"
        found.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    return sorted(set(found))


def sign_in_then(response: ClientResponse) -> str:
    """Where a redirect to the sign-in page leads once signed in (its ``next``)."""
    location = urlsplit(response.headers["Location"])
    assert location.path == "/admin/login" and not location.netloc, location
    [target] = parse_qs(location.query)["next"]
    return target


OpenDashboard = Callable[..., Awaitable[Dashboard]]


async def start_dashboard(
    aiohttp_client: AiohttpClient, uow_factory: UnitOfWorkFactory, database_url: str, base_url: str
) -> Dashboard:
    """The real app on the test database (a vendor "Boulangerie" with admin ``ADMIN`` made first), its
    clock frozen at NOW; ``base_url`` sets PUBLIC_BASE_URL."""
    vendor = await add_vendor(uow_factory, "Boulangerie", ADMIN)
    port = free_port()
    # The bot's WhatsApp client reaches the built-in fake Graph API on the test server's own port.
    update = {"public_base_url": base_url, "whatsapp_graph_url": f"http://127.0.0.1:{port}/sandbox/graph"}
    settings = settings_for(database_url).model_copy(update=update)
    clock = FrozenClock()
    app = create_app(settings, clock=clock, pair_interval=0.01)
    app[graph_key].auto_statuses = ()  # no delivery statuses: nothing posts back to PUBLIC_BASE_URL
    client = await aiohttp_client(app, server_kwargs={"port": port})
    return Dashboard(client, uow_factory, clock, vendor)
