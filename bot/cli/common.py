"""What the commands share: the store they open, their payment dependencies, JSON and failure output."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.bootstrap import prepare_schema
from bot.config import Settings
from bot.payments.credentials import CredentialCipher
from bot.payments.registry import ProviderRegistry
from bot.services.clock import system_clock
from bot.services.context import PaymentDeps
from bot.store.database import create_engine
from bot.store.uow import UnitOfWorkFactory

CLI_LOCALE = "en"
Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))


async def _with_store(settings: Settings, work: Callable[[UnitOfWorkFactory], Awaitable[int]]) -> int:
    engine = create_engine(settings.database_url, pool_size=2)
    try:
        await prepare_schema(engine, settings)
        # A cash payment recorded here queues the customer's email too; `bot serve` sends it.
        return await work(UnitOfWorkFactory(engine, settings.email))
    finally:
        await engine.dispose()


def _payment_deps(settings: Settings, uow: UnitOfWorkFactory) -> PaymentDeps:
    secret = settings.secret_key
    cipher = None if secret is None else CredentialCipher(secret.get_secret_value())
    return PaymentDeps(uow, ProviderRegistry(settings, cipher), settings.base_url, system_clock)


def _fail(message: str, status: int) -> int:
    print(f"bot: {message}", file=sys.stderr)
    return status
