"""`bot customer` and `bot order create` with an Instagram customer (``ig:USERNAME`` or the end of their
id), in a subprocess on a fresh SQLite database."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.domain.channel import Channel
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory
from tests.cli_support import run_bot
from tests.conftest import NOW

IG_ID = "6871234567345678"


async def _instagram_customer(database: Path) -> None:
    engine = create_engine(f"sqlite:///{database}")
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            [vendor] = await uow.vendors.all()
            customer = await uow.customers.get_or_create_at(vendor.id, Channel.INSTAGRAM, IG_ID, NOW)
            await uow.customers.touch_channel(customer.id, NOW, "dana.cakes")
            await uow.commit()
    finally:
        await engine.dispose()


def test_the_vendor_gives_an_instagram_customer_a_phone_and_an_order_from_the_command_line(
    tmp_path: Path,
) -> None:
    assert (
        run_bot(tmp_path, "vendor", "add", "--name", "Boulangerie", "--admin", "+33612345678").returncode == 0
    )
    asyncio.run(_instagram_customer(tmp_path / "bot.db"))

    changed = run_bot(tmp_path, "customer", "set", "ig:dana.cakes", "phone=+33 6 55 51 23 45")
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.startswith("ig:dana.cakes (+33655512345)")
    shown = run_bot(tmp_path, "customer", "show", "ig:345678", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["phone"], data["channel"], data["instagram"], data["instagram_id"]) == (
        "+33655512345", "instagram", "ig:dana.cakes", IG_ID,
    )  # fmt: skip
    created = run_bot(tmp_path, "order", "create", "--customer", "ig:@Dana.Cakes", "--price", "40")
    assert created.returncode == 0, created.stderr
    order = json.loads(run_bot(tmp_path, "order", "show", "1", "--json").stdout)
    assert order["customer"]["instagram"] == "ig:dana.cakes"


def test_an_unknown_instagram_customer_or_a_whatsapp_customers_phone_is_refused_in_one_line(
    tmp_path: Path,
) -> None:
    assert (
        run_bot(tmp_path, "vendor", "add", "--name", "Boulangerie", "--admin", "+33612345678").returncode == 0
    )
    for args, words in [
        (("customer", "set", "ig:nobody", "phone=+33655512345"), "No Instagram customer"),
        (("customer", "set", "+33699887766", "phone=+33655512345"), "phone"),
        (("order", "create", "--customer", "ig:", "--price", "40"), "ig:"),
    ]:
        result = run_bot(tmp_path, *args)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and words in result.stderr, result.stderr
