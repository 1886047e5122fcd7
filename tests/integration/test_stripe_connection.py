"""Stripe's connection test ("Tester la connexion", ``bot vendor check``, ``connexion`` in chat): the
account the vendor's key opens (``GET /v1/account``), against the wire-level fake of Stripe's API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.app import create_app
from bot.domain.vendor import ProviderName
from bot.handlers import vendor as vendor_handlers
from bot.handlers.parsing import VendorCommand, Verb
from bot.payments.credentials import CredentialCipher
from bot.payments.port import AccountInfo, ConnectionCheck, ProviderError
from bot.payments.registry import ProviderRegistry, names_with
from bot.payments.stripe.provider import StripeProvider
from bot.services import providers as provider_service, vendors as vendor_service
from bot.services.chat import AdminActor
from bot.store.database import create_engine
from bot.store.tables import outbox_messages
from bot.store.uow import UnitOfWorkFactory
from bot.web.keys import chat_key
from tests.cli_support import run_bot
from tests.conftest import NOW
from tests.fakes.stripe.account import ACCOUNT_ID
from tests.fakes.stripe_api import FakeStripe
from tests.payment_support import ADMIN, deps_for, settings_for

SECRET = "a long test secret key for the connection test"
WRONG_KEY = "sk_test_mistyped0000000000wxyz"


@pytest.fixture
async def fake() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as server:
        server.refused_keys.add(WRONG_KEY)
        yield server


async def check(fake: FakeStripe, api_key: str) -> AccountInfo:
    provider = StripeProvider(api_key, fake.base_url)
    try:
        return await provider.check_connection()
    finally:
        await provider.close()


def test_stripe_has_a_connection_test_as_icount_and_the_sandbox_do() -> None:
    assert sorted(names_with(ConnectionCheck)) == ["icount", "sandbox", "stripe"]


async def test_the_connection_test_names_the_account_the_key_opens(fake: FakeStripe) -> None:
    info = await check(fake, fake.api_key)
    assert info == AccountInfo(name="Fake Bakery", account_id=ACCOUNT_ID)
    [request] = fake.requests
    assert (request.method, request.path, request.params) == ("GET", "/v1/account", {})


async def test_without_a_dashboard_name_the_business_name_is_shown_then_only_the_id(
    fake: FakeStripe,
) -> None:
    fake.account["settings"]["dashboard"]["display_name"] = None
    assert await check(fake, fake.api_key) == AccountInfo("Fake Bakery Ltd", ACCOUNT_ID)
    fake.account["business_profile"]["name"] = None
    assert await check(fake, fake.api_key) == AccountInfo(None, ACCOUNT_ID)


async def test_a_refused_key_is_a_lasting_failure_whose_message_never_shows_the_key(
    fake: FakeStripe,
) -> None:
    with pytest.raises(ProviderError) as caught:
        await check(fake, WRONG_KEY)
    assert caught.value.transient is False
    message = str(caught.value)
    assert "refused" in message
    # Stripe's own message repeats the key's first and last characters: none of it is passed on.
    assert WRONG_KEY not in message and WRONG_KEY[-4:] not in message and "mistyped" not in message
    [request] = fake.requests
    assert request.path == "/v1/account", "an authentication error is not retried"


async def test_a_stripe_outage_is_a_transient_failure(fake: FakeStripe) -> None:
    fake.fail_next("/v1/account", 500, times=3)
    with pytest.raises(ProviderError) as caught:
        await check(fake, fake.api_key)
    assert caught.value.transient is True
    assert len(fake.requests) == 3, "stripe-python's own retries, then the error"


async def stripe_vendor(uow: UnitOfWorkFactory, cipher: CredentialCipher, api_key: str | None) -> None:
    new = vendor_service.NewVendor(
        name="Pâtisserie", admin_phones=[f"+{ADMIN}"], provider=ProviderName.STRIPE
    )
    await vendor_service.add_vendor(uow, new, NOW)
    if api_key is not None:
        await vendor_service.change_settings(uow, None, [("stripe_api_key", api_key)], cipher, NOW)


async def test_check_provider_tries_a_stripe_vendors_own_key_good_or_bad(
    uow_factory: UnitOfWorkFactory, fake: FakeStripe
) -> None:
    cipher = CredentialCipher(SECRET)
    settings = settings_for("sqlite://", stripe_api_base=fake.base_url, secret_key=SECRET)
    registry = ProviderRegistry(settings, cipher)
    deps = deps_for(uow_factory, registry)
    try:
        await stripe_vendor(uow_factory, cipher, None)
        missing = await provider_service.check_provider(deps, None)
        assert missing == provider_service.ProviderCheck("stripe", False, detail="stripe_api_key is missing")

        await vendor_service.change_settings(
            uow_factory, None, [("stripe_api_key", fake.api_key)], cipher, NOW
        )
        good = await provider_service.check_provider(deps, None)
        assert good == provider_service.ProviderCheck("stripe", True, company="Fake Bakery")

        await vendor_service.change_settings(uow_factory, None, [("stripe_api_key", WRONG_KEY)], cipher, NOW)
        bad = await provider_service.check_provider(deps, None)
        assert (bad.provider, bad.ok, bad.company) == ("stripe", False, None)
        assert bad.detail is not None and "refused" in bad.detail
        assert WRONG_KEY[-4:] not in bad.detail and "mistyped" not in bad.detail
    finally:
        await registry.close()


async def bot(tmp_path: Path, fake: FakeStripe, *args: str) -> tuple[int, str, str]:
    done = await asyncio.to_thread(
        run_bot,
        tmp_path,
        *args,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        SECRET_KEY=SECRET,
        STRIPE_API_BASE=fake.base_url,
        PUBLIC_BASE_URL="https://bot.example",
    )
    return done.returncode, done.stdout, done.stderr


async def test_bot_vendor_check_tests_a_stripe_key_from_the_command_line(
    tmp_path: Path, fake: FakeStripe
) -> None:
    code, _out, err = await bot(
        tmp_path, fake, "vendor", "add", "--name", "Pâtisserie", "--admin", "+33612345678",
        "--provider", "stripe",
    )  # fmt: skip
    assert code == 0, err
    code, _out, err = await bot(tmp_path, fake, "vendor", "set", f"stripe_api_key={fake.api_key}")
    assert code == 0, err
    code, out, err = await bot(tmp_path, fake, "vendor", "check")
    assert (code, out.strip()) == (0, "stripe: connected (Fake Bakery)"), err
    code, _out, err = await bot(tmp_path, fake, "vendor", "set", f"stripe_api_key={WRONG_KEY}")
    assert code == 0, err
    code, out, err = await bot(tmp_path, fake, "vendor", "check")
    [failure] = [line for line in err.splitlines() if line.startswith("bot: ")]
    assert code == 1 and failure.startswith("bot: stripe: connection failed: stripe: the API key was refused")
    assert WRONG_KEY[-4:] not in failure and "mistyped" not in failure
    assert WRONG_KEY not in err + out


class _Started:
    """The app's resources (database, payments, chat) started without serving HTTP."""

    def __init__(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app)

    async def __aenter__(self) -> None:
        await self._runner.setup()

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


async def test_an_admin_tests_the_stripe_connection_from_chat(tmp_path: Path, fake: FakeStripe) -> None:
    settings = settings_for(
        f"sqlite:///{tmp_path / 'bot.db'}",
        payment_provider="stripe",
        stripe_api_key=fake.api_key,
        stripe_webhook_secret=fake.webhook_secret,
        stripe_api_base=fake.base_url,
        secret_key=SECRET,
        vendor_admin_phones=f"+{ADMIN}",
        vendor_locale="fr",
    )
    app = create_app(settings)
    async with _Started(app):
        deps = app[chat_key]
        async with deps.payments.uow() as uow:
            [vendor] = await uow.vendors.all()
        actor = AdminActor(vendor, ADMIN)
        await vendor_handlers.check_connection(deps, actor, VendorCommand(Verb.CHECK, language="fr"))
        fake.refused_keys.add(fake.api_key)
        await vendor_handlers.check_connection(deps, actor, VendorCommand(Verb.CHECK, language="fr"))
    engine = create_engine(settings.database_url)
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            texts = [
                p["text"] for p in (await uow.connection.execute(select(outbox_messages.c.payload))).scalars()
            ]
    finally:
        await engine.dispose()
    assert "✅ Connexion à stripe réussie : Fake Bakery." in texts
    [failed] = [text for text in texts if text.startswith("❌")]
    assert failed.startswith("❌ La connexion à stripe a échoué : stripe: the API key was refused")
    assert fake.api_key[-4:] not in failed
