"""Fixtures shared by the integration tests: the dashboard through the real app (tests/admin_support.py)."""

from __future__ import annotations

import pytest
from pytest_aiohttp import AiohttpClient

from bot.store.uow import UnitOfWorkFactory
from tests.admin_support import Dashboard, OpenDashboard, start_dashboard


@pytest.fixture
def open_dashboard(
    aiohttp_client: AiohttpClient, uow_factory: UnitOfWorkFactory, database_url: str
) -> OpenDashboard:
    """Starts the dashboard; ``base_url`` (default http://bot.test) sets PUBLIC_BASE_URL."""

    async def start(base_url: str = "http://bot.test") -> Dashboard:
        return await start_dashboard(aiohttp_client, uow_factory, database_url, base_url)

    return start


@pytest.fixture
async def dashboard(open_dashboard: OpenDashboard) -> Dashboard:
    return await open_dashboard()
