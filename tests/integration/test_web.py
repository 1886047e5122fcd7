from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from bot.app import create_app
from bot.config import Settings, load_settings
from bot.services import vendors as vendor_service
from bot.web.keys import uow_key
from tests.conftest import NOW, create_postgres_database, drop_postgres_database


@pytest.fixture
def sqlite_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return load_settings(
        env_file=None,
        database_url=f"sqlite:///{tmp_path / 'bot.db'}",
        vendor_name="Boulangerie Test",
        vendor_admin_phones="+33612345678",
    )


async def test_health_and_readiness_answer_on_a_fresh_sqlite_database(
    aiohttp_client: AiohttpClient, sqlite_settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_settings, clock=lambda: NOW))
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["database"] == "ok"


async def test_start_up_creates_the_vendor_from_the_settings_once(
    aiohttp_client: AiohttpClient, sqlite_settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_settings, clock=lambda: NOW))
    uow = client.app[uow_key]
    summary = await vendor_service.show_vendor(uow, None)
    assert summary.vendor.name == "Boulangerie Test"
    assert summary.admin_phones == ["33612345678"]
    second: TestClient = await aiohttp_client(create_app(sqlite_settings, clock=lambda: NOW))
    assert len(await vendor_service.list_vendors(second.app[uow_key])) == 1


async def test_metrics_are_prometheus_text_counting_requests(
    aiohttp_client: AiohttpClient, sqlite_settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_settings, clock=lambda: NOW))
    await client.get("/healthz")
    await client.get("/no-such-page")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    body = await response.text()
    assert 'bot_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in body
    assert 'route="unmatched",status="404"' in body
    assert "bot_http_request_duration_seconds_bucket" in body


async def test_metrics_show_work_waiting_and_inbox_events_given_up(
    aiohttp_client: AiohttpClient, sqlite_settings: Settings
) -> None:
    client: TestClient = await aiohttp_client(create_app(sqlite_settings, clock=lambda: NOW))
    async with client.app[uow_key]() as uow:
        given_up = await uow.inbox.add("stripe", "evt_given_up", "payment", "{}", NOW)
        assert given_up is not None
        for _ in range(10):
            await uow.inbox.mark_failed(given_up, "ValueError: no")
        await uow.commit()
    body = await (await client.get("/metrics")).text()
    assert 'bot_queue_items{queue="inbox_given_up"} 1.0' in body
    assert 'bot_queue_items{queue="outbox_failed"} 0.0' in body


@pytest.mark.postgres
async def test_readiness_fails_with_503_when_the_database_goes_away(
    aiohttp_client: AiohttpClient, postgres_server: str
) -> None:
    from bot.store import migrate
    from bot.store.database import create_engine

    url = await create_postgres_database("bot_ready")
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    settings = load_settings(env_file=None, database_url=url)
    client: TestClient = await aiohttp_client(create_app(settings, clock=lambda: NOW))
    assert (await client.get("/readyz")).status == 200
    await drop_postgres_database(url)
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json())["database"] == "unreachable"
    assert (await client.get("/healthz")).status == 200
