"""Which provider serves a vendor, with which credentials: the vendor's own (stored encrypted) first,
then the environment's."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from bot.config import Settings
from bot.domain.errors import ProviderNotConfigured
from bot.domain.vendor import ProviderName, Vendor
from bot.payments.credentials import CredentialCipher
from bot.payments.icount.client import IcountClient, IcountCredentials
from bot.payments.icount.provider import IcountProvider
from bot.payments.port import PaymentProvider
from bot.payments.sandbox.provider import SandboxProvider
from bot.payments.stripe.provider import StripeProvider
from bot.payments.stripe.webhooks import PLATFORM

log = logging.getLogger(__name__)
PROVIDER_CLASSES: tuple[type[SandboxProvider] | type[StripeProvider] | type[IcountProvider], ...] = (
    SandboxProvider,
    StripeProvider,
    IcountProvider,
)


class Providers(Protocol):
    """What the use cases need of the registry (tests give them one provider for everyone)."""

    def for_vendor(self, vendor: Vendor, sealed_credentials: str | None) -> PaymentProvider: ...

    def names_with(self, capability: type) -> list[str]: ...

    async def close(self) -> None: ...


def _members(protocol: type) -> set[str]:
    """What a Protocol asks for: its methods and its attributes (issubclass refuses Protocols with
    attributes, such as CardGuarantee's hold_window)."""
    names: set[str] = set()
    for base in protocol.__mro__:
        if base is object or base.__module__ == "typing":
            continue
        names |= {name for name in vars(base) if not name.startswith("_")}
        names |= set(getattr(base, "__annotations__", {}))
    return names


def names_with(capability: type) -> list[str]:
    """The providers that have ``capability`` (a Protocol of ``bot.payments.port``)."""
    members = _members(capability)
    return [str(cls.name) for cls in PROVIDER_CLASSES if all(hasattr(cls, name) for name in members)]


class ProviderRegistry:
    def __init__(
        self,
        settings: Settings,
        cipher: CredentialCipher | None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock``: the app's; Stripe's Checkout Sessions are dated by it (the wall clock by default)."""
        self._settings = settings
        self._cipher = cipher
        self._clock = clock
        self._sandbox = SandboxProvider(settings.base_url)
        self._stripe: dict[str, StripeProvider] = {}
        self._icount: dict[tuple[str, str, str, str], IcountProvider] = {}

    def names_with(self, capability: type) -> list[str]:
        return names_with(capability)

    def credentials(self, sealed: str | None) -> dict[str, str]:
        if self._cipher is None or not sealed:
            return {}
        return self._cipher.open(sealed)

    def for_vendor(self, vendor: Vendor, sealed_credentials: str | None) -> PaymentProvider:
        provider = vendor.payment.provider
        if provider is ProviderName.SANDBOX:
            return self._sandbox
        if provider is ProviderName.STRIPE:
            stored = self.credentials(sealed_credentials).get("stripe_api_key")
            env = self._settings.stripe_api_key
            api_key = stored or (env.get_secret_value() if env else None)
            if not api_key:
                raise ProviderNotConfigured(provider="stripe", missing="stripe_api_key")
            if api_key not in self._stripe:
                self._stripe[api_key] = StripeProvider(
                    api_key,
                    self._settings.stripe_api_base,
                    base_url=self._settings.base_url,
                    clock=self._clock,
                )
            return self._stripe[api_key]
        return self._icount_for(self.credentials(sealed_credentials))

    def _icount_for(self, stored: dict[str, str]) -> IcountProvider:
        """The vendor's own iCount account (token, or cid/user/pass) and pay page, else the environment's."""
        env_token = self._settings.icount_api_token
        paypage = stored.get("icount_paypage_id") or self._settings.icount_paypage_id
        try:
            if stored.get("icount_api_token") or stored.get("icount_cid"):
                credentials = IcountCredentials(
                    token=stored.get("icount_api_token"),
                    cid=stored.get("icount_cid"),
                    user=stored.get("icount_user"),
                    password=stored.get("icount_pass"),
                )
            else:
                credentials = IcountCredentials(token=env_token.get_secret_value() if env_token else None)
        except ValueError:
            raise ProviderNotConfigured(provider="icount", missing="icount_api_token") from None
        if not paypage:
            raise ProviderNotConfigured(provider="icount", missing="icount_paypage_id")
        # Optional pay pages (set up in iCount): one keeping the card and pre-approving it (guarantees),
        # one offering "save my card" (else the usual page).
        guarantee = stored.get("icount_guarantee_paypage_id") or None
        save_card = stored.get("icount_save_card_paypage_id") or None
        key = (credentials.fingerprint, paypage, guarantee or "", save_card or "")
        if key not in self._icount:
            secret = self._settings.secret_key
            # The IPN secrets' key: SECRET_KEY, else the account's own secret (env-only set-ups).
            own = credentials.token or credentials.password or ""
            ipn_key = secret.get_secret_value() if secret else own
            client = IcountClient(credentials, self._settings.icount_api_base)
            self._icount[key] = IcountProvider(
                client,
                paypage,
                self._settings.base_url,
                ipn_key,
                guarantee_paypage_id=guarantee,
                save_card_paypage_id=save_card,
                clock=self._clock,
            )
        return self._icount[key]

    def platform_webhook_secrets(self) -> dict[str, str]:
        env = self._settings.stripe_webhook_secret
        return {} if env is None else {PLATFORM: env.get_secret_value()}

    def vendor_webhook_secrets(self, sealed_by_vendor: Iterable[tuple[uuid.UUID, str]]) -> dict[str, str]:
        """Each vendor's own Stripe webhook secret; credentials that do not open are skipped."""
        secrets = {}
        for vendor_id, sealed in sealed_by_vendor:
            try:
                secret = self.credentials(sealed).get("stripe_webhook_secret")
            except ValueError:
                log.error("stored credentials of vendor %s do not open with SECRET_KEY", vendor_id)
                continue
            if secret:
                secrets[str(vendor_id)] = secret
        return secrets

    async def close(self) -> None:
        for provider in self._stripe.values():
            await provider.close()
        for icount in self._icount.values():
            await icount.close()
