"""iCount settings from the command line and from chat: credentials, document type, the connection test,
a payment request, a refund; against the wire-level fake of iCount API v3."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import create_app
from bot.handlers import vendor as vendor_handlers
from bot.handlers.parsing import VendorCommand, Verb
from bot.services.chat import AdminActor
from bot.services.clock import system_clock
from bot.store.database import create_engine
from bot.store.tables import outbox_messages
from bot.store.uow import UnitOfWorkFactory
from bot.web.keys import chat_key
from tests.cli_support import run_bot
from tests.fakes.icount_api import FakeIcount
from tests.payment_support import settings_for

SECRET = "a long test secret key for the cli"


@pytest.fixture
async def fake() -> AsyncIterator[FakeIcount]:
    # The `bot` command runs in its own process on the system clock: its iCount keeps the same time.
    async with FakeIcount(clock=system_clock) as server:
        yield server


async def bot(tmp_path: Path, fake: FakeIcount, *args: str) -> tuple[int, str, str]:
    done = await asyncio.to_thread(
        run_bot,
        tmp_path,
        *args,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        SECRET_KEY=SECRET,
        ICOUNT_API_TOKEN=fake.token,
        ICOUNT_PAYPAGE_ID=fake.paypage_id,
        ICOUNT_API_BASE=fake.base_url,
        PUBLIC_BASE_URL="https://bot.example",
    )
    return done.returncode, done.stdout, done.stderr


async def test_a_vendor_sets_icount_up_and_tests_the_connection_from_the_command_line(
    tmp_path: Path, fake: FakeIcount
) -> None:
    code, out, err = await bot(
        tmp_path, fake, "vendor", "add", "--name", "Ofe", "--admin", "+972541112222", "--provider", "icount",
        "--currency", "ILS", "--timezone", "Asia/Jerusalem",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await bot(tmp_path, fake, "vendor", "check")
    assert (code, out.strip()) == (0, "icount: connected (Fake Bakery Ltd)"), err
    code, out, err = await bot(
        tmp_path, fake, "vendor", "set", "invoice_doctype=receipt", "icount_api_token=nope"
    )
    assert code == 0, err
    assert "invoice_doctype = receipt" in out and "icount_api_token = (stored encrypted)" in out
    assert "nope" not in out
    code, out, err = await bot(tmp_path, fake, "vendor", "check")
    assert code == 1 and "connection failed" in err and "bad_token" in err and "nope" not in err
    code, out, err = await bot(tmp_path, fake, "vendor", "set", "invoice_doctype=pdf")
    assert code == 1 and "invoice_doctype" in err
    # Back to the vendor's own session login (cid/user/pass), then a request: its link is our checkout page.
    code, out, err = await bot(
        tmp_path, fake, "vendor", "set", "icount_api_token=", f"icount_cid={fake.cid}",
        f"icount_user={fake.user}", f"icount_pass={fake.password}",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = await bot(
        tmp_path, fake, "order", "create", "--customer", "+972501234567", "--price", "90", "--accept"
    )
    assert code == 0, err
    code, out, err = await bot(tmp_path, fake, "pay", "1", "--full")
    assert code == 0, err
    assert "https://bot.example/pay/icount/" in out
    [sale] = fake.sales.values()
    assert sale["ipn_url"].startswith("https://bot.example/webhooks/icount/")
    assert {c.auth for c in fake.calls_to("paypage/generate_sale")} == {"sid"}
    code, out, err = await bot(tmp_path, fake, "refund", "1")
    assert code == 1 and err.startswith("bot: "), "nothing is paid yet: nothing to refund"


async def test_an_admin_tests_the_connection_from_chat(tmp_path: Path, fake: FakeIcount) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'bot.db'}",
        payment_provider="icount",
        icount_api_token=fake.token,
        icount_paypage_id=fake.paypage_id,
        icount_api_base=fake.base_url,
        secret_key=SECRET,
        vendor_admin_phones="+972541112222",
        vendor_locale="en",
    )
    app = create_app(settings)
    # Start the app's resources (database, payments, chat) without serving HTTP.
    async with _started(app):
        deps = app[chat_key]
        async with deps.payments.uow() as uow:
            [vendor] = await uow.vendors.all()
        actor = AdminActor(vendor, "972541112222")
        await vendor_handlers.check_connection(deps, actor, VendorCommand(Verb.CHECK, language="en"))
    engine = create_engine(settings.database_url)
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            texts = list((await uow.connection.execute(select(outbox_messages.c.payload))).scalars())
    finally:
        await engine.dispose()
    assert any("Connected to icount: Fake Bakery Ltd" in p["text"] for p in texts)


class _started:
    def __init__(self, app: object) -> None:
        from aiohttp import web

        assert isinstance(app, web.Application)
        self._runner = web.AppRunner(app)

    async def __aenter__(self) -> None:
        await self._runner.setup()

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
