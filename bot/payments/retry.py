"""Retrying a provider call that is safe to repeat (a read, or a write with an idempotency key)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.payments.port import ProviderError

log = logging.getLogger(__name__)
PROVIDER_ATTEMPTS = 3
T = TypeVar("T")


async def with_retries(
    call: Callable[[], Awaitable[T]], delay: float, attempts: int = PROVIDER_ATTEMPTS
) -> T:
    """Retries transient provider errors with a growing pause; permanent ones fail at once."""
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except ProviderError as error:
            if not error.transient or attempt == attempts:
                raise
            log.warning("provider call failed (attempt %d/%d): %s", attempt, attempts, error)
            await asyncio.sleep(delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")  # pragma: no cover
