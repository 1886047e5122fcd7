"""The port's client sync capability (roadmap step 5): a vendor's customer written to the provider's own
clients, created the first time and updated after each change (iCount's ``client/create_or_update``).
Re-exported by ``port``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ClientProfile:
    """A customer as the provider's client gets it. ``custom_id`` is our customer id; ``client_id`` the
    provider's, when known (None: the provider finds it by ``custom_id``, or makes it)."""

    custom_id: str
    name: str
    phone: str
    email: str | None = None
    locale: str | None = None
    client_id: str | None = None


@runtime_checkable
class ClientUpdates(Protocol):
    async def sync_client(self, client: ClientProfile) -> str:
        """Makes the provider's client what ``client`` is now, and returns its id there."""
        ...
