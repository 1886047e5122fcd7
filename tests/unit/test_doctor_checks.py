"""``bot doctor``'s checks that need no server: the public address, the database URL, the secrets, and how
its Graph client pages templates and keeps the token to the configured address."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bot.config import Settings, load_settings
from bot.services.doctor_report import Check, Status
from bot.services.doctor_settings import settings_checks
from bot.services.whatsapp_account import GraphReadError, TemplateState
from bot.whatsapp.graph_account import GraphAccount

LIVE = {
    "whatsapp_token": "EAAG-unit-token",
    "whatsapp_phone_id": "106540352242922",
    "whatsapp_app_secret": "unit-app-secret",
    "whatsapp_verify_token": "unit-verify-token",
}


def check(name: str, **values: Any) -> Check:
    settings: Settings = load_settings(env_file=None, **values)
    return {c.name: c for c in settings_checks(settings)}[name]


@pytest.mark.parametrize(
    ("url", "live", "status"),
    [
        ("https://bot.example.com", True, Status.OK),
        ("https://bot.example.com/", True, Status.OK),
        (None, False, Status.WARN),
        (None, True, Status.FAIL),
        ("http://bot.example.com", True, Status.FAIL),
        ("http://bot.example.com", False, Status.WARN),
        ("http://localhost:8080", True, Status.WARN),
        ("https://bot.example.com/bot", True, Status.FAIL),
        ("bot.example.com", True, Status.FAIL),
    ],
)
def test_the_public_base_url_must_be_https_unless_local_or_all_sandbox(
    url: str | None, live: bool, status: Status
) -> None:
    assert check("public_base_url", public_base_url=url, **(LIVE if live else {})).status is status


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("postgresql://postgres:pw@db.abc.supabase.co:5432/postgres?sslmode=require", Status.OK, "Postgres"),
        (
            "postgres://postgres.abc:pw@aws-0-eu-west-3.pooler.supabase.com:5432/postgres?sslmode=require",
            Status.OK,
            "Supabase session pooler, port 5432",
        ),
        (
            "postgresql://postgres.abc:pw@aws-0-eu-west-3.pooler.supabase.com:6543/postgres",
            Status.WARN,
            "6543",
        ),
        ("postgresql://u:pw@db.example.com/bot?pgbouncer=true", Status.WARN, "transaction pooler"),
        ("postgresql://postgres:pw@db.abc.supabase.co:5432/postgres", Status.WARN, "TLS not required"),
        ("sqlite:///./bot.db", Status.WARN, "SQLite"),
    ],
)
def test_the_database_url_says_which_connection_it_is(url: str, status: Status, says: str) -> None:
    found = check("database url", database_url=url, **LIVE)
    assert found.status is status and says in found.detail
    assert "pw" not in found.detail


def test_sqlite_is_fine_for_the_sandbox() -> None:
    assert check("database url").status is Status.OK


def test_a_short_or_missing_secret_key_is_a_warning_and_never_shown() -> None:
    assert check("secret_key").status is Status.WARN
    short = check("secret_key", secret_key="tiny-secret")
    assert short.status is Status.WARN and "tiny-secret" not in short.detail
    assert check("secret_key", secret_key="x" * 40) == Check("secret_key", Status.OK, "set")


def test_the_whatsapp_webhook_secrets_are_said_set_never_shown() -> None:
    found = check("whatsapp webhook", **LIVE)
    assert found == Check("whatsapp webhook", Status.OK, "app secret and verify token set")


def templates_page(start: int, count: int, total: int) -> dict[str, Any]:
    data = [
        {"name": f"t{i}", "language": "fr", "status": "APPROVED", "id": str(i)}
        for i in range(start, start + count)
    ]
    page: dict[str, Any] = {
        "data": data,
        "paging": {"cursors": {"before": "b", "after": f"c{start + count}"}},
    }
    if start + count < total:
        # A "next" URL elsewhere: the client must not send the token there.
        page["paging"]["next"] = "https://elsewhere.example/next?after=x"
    return page


async def test_templates_are_read_page_by_page_with_the_cursor_and_the_token_stays_at_graph() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        after = request.url.params.get("after")
        start = int(after[1:]) if after else 0
        return httpx.Response(200, json=templates_page(start, min(100, 250 - start), 250))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        graph = GraphAccount("https://graph.test", "EAAG-unit-token", http)
        found = await graph.templates("102290129340398")
    assert len(found) == 250 and found[0] == TemplateState("t0", "fr", "APPROVED")
    assert {r.url.host for r in seen} == {"graph.test"}
    assert [r.url.params.get("after") for r in seen] == [None, "c100", "c200"]
    assert all(r.url.path == "/v26.0/102290129340398/message_templates" for r in seen)


async def test_a_graph_error_keeps_its_code_and_never_the_token() -> None:
    def answer(_request: httpx.Request) -> httpx.Response:
        body = {
            "error": {
                "message": "Invalid OAuth access token EAAG-unit-token",
                "type": "OAuthException",
                "code": 190,
            }
        }
        return httpx.Response(401, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        graph = GraphAccount("https://graph.test", "EAAG-unit-token", http)
        with pytest.raises(GraphReadError) as refused:
            await graph.phone_number("106540352242922")
    assert refused.value.code == 190 and "EAAG-unit-token" not in refused.value.message


async def test_an_id_that_is_not_digits_is_never_put_in_the_path() -> None:
    def answer(_request: httpx.Request) -> httpx.Response:  # pragma: no cover - never called
        raise AssertionError("no request")

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        graph = GraphAccount("https://graph.test", "EAAG-unit-token", http)
        with pytest.raises(GraphReadError):
            await graph.phone_number("../me")
