"""Building blocks for payment tests: settings, dependencies and a provider that fails on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings, load_settings
from bot.domain.vendor import ProviderName, Vendor
from bot.payments.port import LinkRequest, PaymentLink, PaymentProvider, ProviderError
from bot.payments.registry import ProviderRegistry, Providers
from bot.services import orders as order_service, vendors as vendor_service
from bot.services.context import PaymentDeps
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW

BASE_URL = "http://bot.test"
ADMIN = "33612345678"
CUSTOMER = "33699887766"


def settings_for(database_url: str, **overrides: Any) -> Settings:
    return load_settings(env_file=None, database_url=database_url, public_base_url=BASE_URL, **overrides)


def deps_for(uow: UnitOfWorkFactory, registry: Providers | None = None, clock: Any = None) -> PaymentDeps:
    if registry is None:
        registry = ProviderRegistry(settings_for("sqlite://"), None)
    return PaymentDeps(uow, registry, BASE_URL, clock or (lambda: NOW), retry_delay=0)


async def vendor_with_order(
    uow: UnitOfWorkFactory, price: str = "150", provider: str = "sandbox", accept: bool = True
) -> int:
    new = vendor_service.NewVendor(
        name="Boulangerie", admin_phones=[f"+{ADMIN}"], provider=ProviderName(provider)
    )
    await vendor_service.add_vendor(uow, new, NOW)
    order = await order_service.create_order(uow, None, f"+{CUSTOMER}", price, "Gâteau", accept, NOW)
    return order.number


@dataclass
class FlakyProvider:
    """Wraps a provider: the next ``fail_times`` link creations raise, transient or not."""

    inner: PaymentProvider
    fail_times: int = 0
    transient: bool = True
    calls: list[LinkRequest] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    async def create_link(self, request: LinkRequest) -> PaymentLink:
        self.calls.append(request)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise ProviderError("provider unavailable", transient=self.transient)
        return await self.inner.create_link(request)

    async def deactivate_link(self, provider_link_id: str) -> None:
        await self.inner.deactivate_link(provider_link_id)

    async def close(self) -> None:
        await self.inner.close()


@dataclass
class OneProviderRegistry:
    """A registry (``bot.payments.registry.Providers``) that serves one given provider to every vendor."""

    provider: PaymentProvider

    def for_vendor(self, vendor: Vendor, sealed_credentials: str | None) -> PaymentProvider:
        return self.provider

    def names_with(self, capability: type) -> list[str]:
        return [self.provider.name] if isinstance(self.provider, capability) else []

    async def close(self) -> None:
        return None
