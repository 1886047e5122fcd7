"""What the payment use cases need, and how they call providers."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.payments.registry import Providers
from bot.payments.retry import with_retries
from bot.services.clock import Clock
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
__all__ = ["PaymentDeps", "with_retries"]


@dataclass(frozen=True, slots=True)
class PaymentDeps:
    uow: UnitOfWorkFactory
    providers: Providers
    base_url: str
    clock: Clock
    retry_delay: float = 0.5
