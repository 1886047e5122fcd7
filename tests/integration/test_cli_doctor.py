"""``bot doctor`` against the fakes at the wire: the Graph API (the business number, the templates), Stripe
(``GET /v1/account``) and iCount (``auth/info``), on SQLite and Postgres; good settings, then each bad one."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer

from bot.cli.doctor import diagnose, report_json, report_lines, show_report
from bot.config import Settings, load_settings
from bot.domain.vendor import ProviderName
from bot.payments.credentials import CredentialCipher
from bot.sandbox.graph import FakeGraphAPI
from bot.sandbox.graph.account import FakeTemplate
from bot.services import vendors as vendor_service
from bot.services.doctor_report import Check, DoctorReport, Status
from bot.services.doctor_settings import settings_checks
from bot.store import migrate
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from tests.cli_support import run_bot
from tests.conftest import NOW, create_postgres_database, drop_postgres_database
from tests.fakes.icount_api import FakeIcount
from tests.fakes.stripe_api import FakeStripe

TOKEN = "EAAG-doctor-test-token-0123456789"
APP_SECRET = "doctor-app-secret-never-shown"
VERIFY_TOKEN = "doctor-verify-token-never-shown"
SECRET_KEY = "a long secret key for the doctor tests, never shown"
PHONE_ID = "106540352242922"
WABA_ID = "102290129340398"
ADMIN = "+33612345678"
TEMPLATES = {"payment_request": "demande_paiement", "reminder": "rappel_paiement"}
SECRETS = (TOKEN, APP_SECRET, VERIFY_TOKEN, SECRET_KEY, "sk_test_fake", "whsec_fake")


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI(access_token=TOKEN, phone_ids={PHONE_ID}, waba_id=WABA_ID) as fake:
        fake.account.verified_name = "Pâtisserie Lune"
        # Those the vendors use come after two pages of others: read with the cursor, page by page.
        fake.templates.extend(FakeTemplate(f"other_{i}", "en") for i in range(200))
        fake.templates.extend(FakeTemplate(name, "fr") for name in TEMPLATES.values())
        yield fake


@pytest.fixture
async def graph_url(aiohttp_server: AiohttpServer, graph: FakeGraphAPI) -> str:
    app = web.Application()
    graph.add_routes(app, "/graph")
    server = await aiohttp_server(app)
    return str(server.make_url("/graph"))


@pytest.fixture
async def stripe() -> AsyncIterator[FakeStripe]:
    async with FakeStripe() as fake:
        fake.refused_keys.add("sk_test_refused000000000000")
        yield fake


def live_settings(database_url: str, graph_url: str, stripe: FakeStripe, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "public_base_url": "https://bot.example.com",
        "secret_key": SECRET_KEY,
        "whatsapp_token": TOKEN,
        "whatsapp_phone_id": PHONE_ID,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_graph_url": graph_url,
        "whatsapp_business_account_id": WABA_ID,
        "payment_provider": "stripe",
        "stripe_api_key": stripe.api_key,
        "stripe_webhook_secret": stripe.webhook_secret,
        "stripe_api_base": stripe.base_url,
    }
    values.update(overrides)
    return load_settings(env_file=None, **values)


async def add_vendor(
    uow: UnitOfWorkFactory,
    name: str = "Pâtisserie",
    provider: ProviderName = ProviderName.STRIPE,
    pairs: list[tuple[str, str]] | None = None,
    admin: str = ADMIN,
) -> None:
    new = vendor_service.NewVendor(name=name, admin_phones=[admin], provider=provider)
    await vendor_service.add_vendor(uow, new, NOW)
    templates = [(f"template.{kind}", name) for kind, name in TEMPLATES.items()]
    cipher = CredentialCipher(SECRET_KEY)
    await vendor_service.change_settings(uow, name, [*templates, *(pairs or [])], cipher, NOW)


def by_name(report: DoctorReport) -> dict[str, Check]:
    return {check.name: check for check in report.checks}


def text_of(report: DoctorReport) -> str:
    return "\n".join(report_lines(report))


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


async def test_good_settings_pass_every_check_with_one_ok_line_each_and_exit_status_0(
    uow_factory: UnitOfWorkFactory,
    database_url: str,
    graph: FakeGraphAPI,
    graph_url: str,
    stripe: FakeStripe,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await add_vendor(uow_factory)
    report = await diagnose(live_settings(database_url, graph_url, stripe))

    assert show_report(report, as_json=False) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    # On SQLite with real WhatsApp, the one warning: Postgres for production.
    sqlite_warning = "warn  database url: SQLite: one process on one machine (no --workers) -> use Postgres"
    expected = [line for line in lines[:-1] if not line.startswith(sqlite_warning)]
    assert all(line.startswith("ok    ") for line in expected), out
    warnings = len(lines) - 1 - len(expected)
    assert warnings == (1 if database_url.startswith("sqlite") else 0)
    assert lines[-1] == f"{len(expected)} ok, {warnings} warning{'' if warnings == 1 else 's'}, 0 failed"
    assert "ok    public_base_url: https://bot.example.com (https)" in lines
    assert f"ok    database: {'sqlite' if 'sqlite' in database_url else 'postgresql'}" in out
    assert f"schema at {migrate.head_revision()}" in out
    assert (
        f"ok    Pâtisserie: whatsapp number: {PHONE_ID}: +15550783881 (Pâtisserie Lune), quality GREEN"
        in lines
    )
    assert "ok    Pâtisserie: templates: 2 approved in fr: demande_paiement, rappel_paiement" in lines
    assert "ok    Pâtisserie: payment provider: stripe: connected (Fake Bakery)" in lines
    assert "ok    Pâtisserie: stripe webhook secret: STRIPE_WEBHOOK_SECRET set" in lines
    assert "ok    whatsapp webhook: app secret and verify token set" in lines
    assert not any("->" in line for line in expected), "nothing to do"
    assert_no_secret(out)


async def test_the_same_checks_as_json_say_ok_and_count_them(
    uow_factory: UnitOfWorkFactory, database_url: str, graph_url: str, stripe: FakeStripe
) -> None:
    await add_vendor(uow_factory)
    report = await diagnose(live_settings(database_url, graph_url, stripe))
    data = report_json(report)
    assert data["ok"] is True
    warnings = 1 if database_url.startswith("sqlite") else 0
    assert data["counts"] == {"ok": len(report.checks) - warnings, "warn": warnings, "fail": 0}
    assert {"name": "Pâtisserie: templates", "status": "ok"}.items() <= data["checks"][-3].items()
    assert_no_secret(json.dumps(data))


async def test_a_refused_whatsapp_token_fails_the_number_and_the_templates_with_what_to_do(
    uow_factory: UnitOfWorkFactory,
    database_url: str,
    graph_url: str,
    stripe: FakeStripe,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await add_vendor(uow_factory)
    report = await diagnose(
        live_settings(database_url, graph_url, stripe, whatsapp_token="EAAG-expired-token")
    )

    assert show_report(report, as_json=False) == 1
    out = capsys.readouterr().out
    number = next(line for line in out.splitlines() if "Pâtisserie: whatsapp number" in line)
    assert number.startswith("fail  Pâtisserie: whatsapp number: the token is refused (Graph error 190)")
    assert "-> set WHATSAPP_TOKEN to a System User's permanent token" in number
    templates = next(line for line in out.splitlines() if "Pâtisserie: templates" in line)
    assert templates.startswith("fail  Pâtisserie: templates: the token is refused (Graph error 190)")
    assert "EAAG-expired-token" not in out
    assert out.splitlines()[-1].endswith(", 2 failed")


async def test_an_unknown_phone_number_id_fails_its_vendor_only(
    uow_factory: UnitOfWorkFactory, database_url: str, graph_url: str, stripe: FakeStripe
) -> None:
    await add_vendor(uow_factory)
    await add_vendor(uow_factory, "Fromagerie", pairs=[("phone_id", "999999999999999")], admin="+33698765432")
    checks = by_name(await diagnose(live_settings(database_url, graph_url, stripe)))
    assert checks["Pâtisserie: whatsapp number"].status is Status.OK
    wrong = checks["Fromagerie: whatsapp number"]
    assert wrong.status is Status.FAIL
    assert wrong.detail == "phone number id 999999999999999 not found with this token (Graph error 100)"
    assert wrong.fix is not None and "WHATSAPP_PHONE_ID" in wrong.fix


async def test_a_missing_or_unapproved_template_fails_and_names_it(
    uow_factory: UnitOfWorkFactory,
    database_url: str,
    graph: FakeGraphAPI,
    graph_url: str,
    stripe: FakeStripe,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await add_vendor(uow_factory, pairs=[("template.receipt", "recu_paiement")])
    graph.templates[-1].status = "PENDING"
    report = await diagnose(live_settings(database_url, graph_url, stripe))

    assert show_report(report, as_json=False) == 1
    line = next(line for line in capsys.readouterr().out.splitlines() if "templates" in line)
    assert line.startswith(
        "fail  Pâtisserie: templates: recu_paiement (receipt) not found; "
        "rappel_paiement (reminder) not approved (PENDING) -> create or fix them in WhatsApp Manager"
    ), line


async def test_a_template_approved_only_in_another_language_fails(
    uow_factory: UnitOfWorkFactory, database_url: str, graph: FakeGraphAPI, graph_url: str, stripe: FakeStripe
) -> None:
    await add_vendor(uow_factory)
    graph.templates[-2].language = "en_US"
    check = by_name(await diagnose(live_settings(database_url, graph_url, stripe)))["Pâtisserie: templates"]
    assert (check.status, check.detail) == (
        Status.FAIL,
        "demande_paiement (payment_request) approved in en_US, not in fr",
    )


async def test_templates_are_a_warning_when_the_business_account_is_not_set(
    uow_factory: UnitOfWorkFactory, database_url: str, graph_url: str, stripe: FakeStripe
) -> None:
    await add_vendor(uow_factory)
    settings = live_settings(database_url, graph_url, stripe, whatsapp_business_account_id=None)
    report = await diagnose(settings)
    check = by_name(report)["Pâtisserie: templates"]
    assert (check.status, check.detail) == (
        Status.WARN,
        "2 set, not checked: WHATSAPP_BUSINESS_ACCOUNT_ID is unset",
    )
    assert not report.failed


async def test_refused_provider_credentials_fail_the_provider_check(
    uow_factory: UnitOfWorkFactory, database_url: str, graph_url: str, stripe: FakeStripe
) -> None:
    await add_vendor(uow_factory, pairs=[("stripe_api_key", "sk_test_refused000000000000")])
    report = await diagnose(live_settings(database_url, graph_url, stripe))
    check = by_name(report)["Pâtisserie: payment provider"]
    assert check.status is Status.FAIL and check.detail.startswith("stripe: ")
    assert "refused" in check.detail and "sk_test_refused" not in text_of(report)


async def test_a_stripe_vendor_without_a_webhook_secret_fails(
    uow_factory: UnitOfWorkFactory,
    database_url: str,
    graph_url: str,
    stripe: FakeStripe,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The platform runs iCount; this vendor brought its own Stripe key but not its webhook's secret.
    await add_vendor(uow_factory, pairs=[("stripe_api_key", stripe.api_key)])
    settings = live_settings(
        database_url,
        graph_url,
        stripe,
        payment_provider=None,
        stripe_api_key=None,
        stripe_webhook_secret=None,
    )
    report = await diagnose(settings)
    assert show_report(report, as_json=False) == 1
    lines = capsys.readouterr().out.splitlines()
    assert "ok    Pâtisserie: payment provider: stripe: connected (Fake Bakery)" in lines
    [secret] = [line for line in lines if "stripe webhook secret" in line]
    assert secret.startswith(
        "fail  Pâtisserie: stripe webhook secret: missing: Stripe's events would be refused, and no payment "
        "recorded -> set STRIPE_WEBHOOK_SECRET"
    )


async def test_an_icount_vendor_is_checked_with_auth_info(
    uow_factory: UnitOfWorkFactory, database_url: str, graph_url: str, stripe: FakeStripe
) -> None:
    async with FakeIcount() as icount:
        await add_vendor(uow_factory, "Ofe", ProviderName.ICOUNT)

        def settings(token: str) -> Settings:
            return live_settings(
                database_url, graph_url, stripe,
                payment_provider="icount", icount_api_token=token, icount_paypage_id=icount.paypage_id,
                icount_api_base=icount.base_url,
            )  # fmt: skip

        good = by_name(await diagnose(settings(icount.token)))
        assert good["Ofe: payment provider"] == Check(
            "Ofe: payment provider", Status.OK, "icount: connected (Fake Bakery Ltd)"
        )
        assert good["Ofe: icount ipn"].status is Status.OK
        bad = by_name(await diagnose(settings("API3E8-nope")))
        assert bad["Ofe: payment provider"].status is Status.FAIL
        assert "bad_token" in bad["Ofe: payment provider"].detail


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("http://bot.example.com", Status.FAIL),
        ("http://127.0.0.1:8080", Status.WARN),
        ("https://bot.example.com/bot", Status.FAIL),
        ("ftp://bot.example.com", Status.FAIL),
    ],
)
async def test_a_public_base_url_that_is_not_https_fails_unless_it_is_local(
    uow_factory: UnitOfWorkFactory,
    database_url: str,
    graph_url: str,
    stripe: FakeStripe,
    url: str,
    status: Status,
) -> None:
    await add_vendor(uow_factory)
    report = await diagnose(live_settings(database_url, graph_url, stripe, public_base_url=url))
    check = by_name(report)["public_base_url"]
    assert check.status is status
    assert report.failed is (status is Status.FAIL)
    if url == "http://bot.example.com":
        assert text_of(report).splitlines()[1] == (
            "fail  public_base_url: http://bot.example.com is plain http -> serve it over https (Caddy, "
            "deploy/Caddyfile) and set PUBLIC_BASE_URL=https://..."
        )


async def test_the_sandbox_is_warnings_only_and_asks_nothing_of_graph(
    uow_factory: UnitOfWorkFactory, database_url: str, graph: FakeGraphAPI
) -> None:
    await add_vendor(uow_factory, provider=ProviderName.SANDBOX)
    report = await diagnose(load_settings(env_file=None, database_url=database_url))
    assert not report.failed
    checks = by_name(report)
    assert checks["settings"].status is Status.WARN
    assert checks["public_base_url"].status is Status.WARN
    assert "Pâtisserie: whatsapp number" not in checks
    assert checks["Pâtisserie: payment provider"].detail == "sandbox: no real payment"


@pytest.mark.postgres
async def test_an_unmigrated_postgres_database_fails_and_says_bot_migrate(
    postgres_server: str, graph_url: str, stripe: FakeStripe, capsys: pytest.CaptureFixture[str]
) -> None:
    url = await create_postgres_database("bot_doctor")
    try:
        empty = await diagnose(live_settings(url, graph_url, stripe))
        assert show_report(empty, as_json=False) == 1
        lines = capsys.readouterr().out.splitlines()
        [database] = [line for line in lines if line.startswith("fail  database:")]
        assert database.endswith(
            f"reachable, schema empty, this bot needs {migrate.head_revision()} -> run `bot migrate` "
            "(docs/deploy.md, Upgrades)"
        )
        assert "warn  vendors: not checked: the database is not ready -> fix the database first" in lines

        engine = create_engine(url, pool_size=1)
        await migrate.upgrade(engine, "0010")
        await engine.dispose()
        behind = by_name(await diagnose(live_settings(url, graph_url, stripe)))["database"]
        assert behind.status is Status.FAIL and "schema at 0010" in behind.detail
    finally:
        await drop_postgres_database(url)


async def test_an_unreachable_database_fails_without_showing_its_password(
    graph_url: str, stripe: FakeStripe
) -> None:
    url = "postgresql://bot:pa55word-never-shown@127.0.0.1:1/bot"
    report = await diagnose(live_settings(url, graph_url, stripe))
    check = by_name(report)["database"]
    assert check.status is Status.FAIL
    assert check.detail.startswith("postgresql://bot:***@127.0.0.1:1/bot unreachable: ")
    assert "pa55word" not in text_of(report)


async def test_a_transaction_pooler_url_is_a_warning_naming_the_session_pooler(
    graph_url: str, stripe: FakeStripe
) -> None:
    url = "postgresql://postgres.abcd:pw@aws-0-eu-west-3.pooler.supabase.com:6543/postgres"
    check = by_name(await diagnose_offline(live_settings(url, graph_url, stripe)))["database url"]
    assert check.status is Status.WARN
    assert check.fix == "use Supabase's session pooler (the same host, port 5432) or the direct connection"


async def diagnose_offline(settings: Settings) -> DoctorReport:
    report = DoctorReport()
    report.extend(settings_checks(settings))
    return report


# -- the command itself, in its own process ------------------------------------------------------------


async def doctor(cwd: Path, *args: str, **env: str) -> tuple[int, str, str]:
    done = await asyncio.to_thread(run_bot, cwd, "doctor", *args, **env)
    return done.returncode, done.stdout, done.stderr


async def test_bot_doctor_exits_0_with_good_settings_and_1_with_a_missing_secret(
    tmp_path: Path, migrated_sqlite_template: Path, graph_url: str, stripe: FakeStripe
) -> None:
    database = tmp_path / "bot.db"
    shutil.copy(migrated_sqlite_template, database)
    url = f"sqlite:///{database}"
    engine = create_engine(url)
    await add_vendor(UnitOfWorkFactory(engine))
    await engine.dispose()
    env = {
        "DATABASE_URL": url, "PUBLIC_BASE_URL": "https://bot.example.com", "SECRET_KEY": SECRET_KEY,
        "WHATSAPP_TOKEN": TOKEN, "WHATSAPP_PHONE_ID": PHONE_ID, "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN, "WHATSAPP_GRAPH_URL": graph_url,
        "WHATSAPP_BUSINESS_ACCOUNT_ID": WABA_ID, "PAYMENT_PROVIDER": "stripe",
        "STRIPE_API_KEY": stripe.api_key, "STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
        "STRIPE_API_BASE": stripe.base_url,
    }  # fmt: skip
    code, out, err = await doctor(tmp_path, **env)
    # SQLite with real WhatsApp: a warning to move to Postgres, nothing failed.
    assert code == 0, out + err
    assert "warn  database url: SQLite: one process on one machine (no --workers)" in out
    assert out.splitlines()[-1].endswith("1 warning, 0 failed")
    assert_no_secret(out + err)

    code, out, err = await doctor(
        tmp_path, "--json", **{**env, "PAYMENT_PROVIDER": "", "STRIPE_WEBHOOK_SECRET": ""}
    )
    data = json.loads(out)
    assert code == 1 and data["ok"] is False
    [failed] = [c for c in data["checks"] if c["status"] == "fail"]
    assert failed["name"] == "Pâtisserie: stripe webhook secret"


async def test_bot_doctor_reports_settings_that_do_not_load_as_a_failed_check(tmp_path: Path) -> None:
    code, out, err = await doctor(tmp_path, PORT="eighty", WHATSAPP_TOKEN="EAAG-secret-token")
    assert code == 1, err
    assert out.splitlines() == [
        "fail  settings: invalid setting PORT: Input should be a valid integer, unable to parse string as an "
        "integer -> fix that setting in .env or the environment (.env.example)",
        "0 ok, 0 warnings, 1 failed",
    ]
    code, out, _ = await doctor(tmp_path, WHATSAPP_TOKEN="EAAG-secret-token")
    assert code == 1 and "missing setting WHATSAPP_PHONE_ID" in out and "EAAG-secret-token" not in out
