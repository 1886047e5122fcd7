"""The dashboard's "Enable notifications": a vendor admin's browser subscriptions and their choice of what
to be notified of (per admin: a phone on one vendor)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric import ec

from bot.domain.push import PushKind, subscription_problem
from bot.store.repositories.push import Subscription
from bot.store.uow import UnitOfWorkFactory


class SubscriptionRefused(Exception):
    """The browser's subscription is not one we send to; ``reason`` names what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PushState:
    subscriptions: list[Subscription]
    preferences: dict[PushKind, bool]


async def _admin(uow: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str) -> uuid.UUID:
    async with uow() as work:
        admin_id = await work.push.admin_id(vendor_id, phone)
    if admin_id is None:  # pragma: no cover - the dashboard's session is an admin of this vendor
        raise LookupError("not an admin of this vendor")
    return admin_id


async def state(uow: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str) -> PushState:
    async with uow() as work:
        admin_id = await work.push.admin_id(vendor_id, phone)
        if admin_id is None:  # pragma: no cover
            return PushState([], dict.fromkeys(PushKind, True))
        return PushState(await work.push.subscriptions_of(admin_id), await work.push.preferences(admin_id))


def _on_curve(p256dh: str) -> bool:
    raw = base64.urlsafe_b64decode(p256dh.rstrip("=") + "=" * (-len(p256dh.rstrip("=")) % 4))
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return True


async def subscribe(
    uow: UnitOfWorkFactory,
    vendor_id: uuid.UUID,
    phone: str,
    endpoint: str,
    p256dh: str,
    auth: str,
    hosts: tuple[str, ...],
    now: datetime,
) -> uuid.UUID:
    """Keeps the browser's subscription for this admin; refused (SubscriptionRefused) when its endpoint is
    not a known push service or its keys are not a P-256 key and a 16-byte secret."""
    endpoint, p256dh, auth = endpoint.strip(), p256dh.strip(), auth.strip()
    problem = subscription_problem(endpoint, p256dh, auth, hosts)
    if problem is None and not _on_curve(p256dh):
        problem = "keys"
    if problem is not None:
        raise SubscriptionRefused(problem)
    admin_id = await _admin(uow, vendor_id, phone)
    async with uow() as work:
        subscription_id = await work.push.subscribe(admin_id, endpoint, p256dh, auth, now)
        await work.commit()
    return subscription_id


async def unsubscribe(uow: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str, endpoint: str) -> bool:
    """Removes one of this admin's subscriptions (another admin's endpoint is left alone)."""
    admin_id = await _admin(uow, vendor_id, phone)
    async with uow() as work:
        removed = await work.push.unsubscribe(admin_id, endpoint.strip())
        await work.commit()
    return removed


async def set_preferences(
    uow: UnitOfWorkFactory, vendor_id: uuid.UUID, phone: str, enabled: set[PushKind], now: datetime
) -> None:
    """Every kind on that is in ``enabled``, every other off."""
    admin_id = await _admin(uow, vendor_id, phone)
    async with uow() as work:
        for kind in PushKind:
            await work.push.set_preference(admin_id, kind, kind in enabled, now)
        await work.commit()
