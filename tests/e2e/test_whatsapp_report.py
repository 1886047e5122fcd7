"""The chat's ``rapport`` / ``report`` through the real app on a real port: the short summary of a seeded
month (tests/report_support.py), in the vendor's language, the currencies kept apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.services import vendors as vendor_service
from bot.web.keys import uow_key
from tests.report_support import seed_month
from tests.whatsapp_support import ADMIN, RunningBot, start_bot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path):
        uow = running.app[uow_key]
        await seed_month(uow, (await vendor_service.show_vendor(uow, None)).vendor)
        yield running


async def test_rapport_mois_gives_the_months_collected_refunded_net_open_requests_and_unpaid_balances(
    bot: RunningBot,
) -> None:
    await bot.says(ADMIN, "rapport mois")
    text = (await bot.next_to(ADMIN)).text
    assert text.splitlines() == [
        "📊 Ce mois-ci (du 01/11 au 30/11)",
        "Encaissé : 280.00 EUR · 70.00 USD",
        "Remboursé : 45.00 EUR",
        "Net : 235.00 EUR · 70.00 USD",
        "Demandes en attente : 1 (25.00 EUR)",
        "Soldes impayés : 9 commande(s) (3655.00 EUR · 430.00 USD)",
    ]


async def test_rapport_alone_is_today_and_report_week_answers_too(bot: RunningBot) -> None:
    await bot.says(ADMIN, "rapport")
    today = (await bot.next_to(ADMIN)).text.splitlines()
    assert today[:3] == ["📊 Aujourd'hui (21/11)", "Encaissé : rien", "Remboursé : rien"]
    await bot.says(ADMIN, "report week")
    week = (await bot.next_to(ADMIN)).text.splitlines()
    assert week[:2] == ["📊 Cette semaine (du 16/11 au 22/11)", "Encaissé : 70.00 USD"]
    await bot.says(ADMIN, "rapport année")
    assert "rapport semaine" in (await bot.next_to(ADMIN)).text
