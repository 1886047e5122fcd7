"""A vendor's customers as iCount clients (``client/create_or_update``).

Each call names the client by our customer id (``custom_client_id``) and, once known, by iCount's own
``client_id``, so a retry after a lost answer, or a second sync, updates the same client instead of making
another. iCount's clients have no language field (the documents carry ``doc_lang`` instead); the
customer's language is not sent, rather than written over the vendor's own ``notes`` in iCount.
"""

from __future__ import annotations

from typing import Any

from bot.payments.clients import ClientProfile
from bot.payments.icount import consts
from bot.payments.icount.client import IcountClient, IcountError


def client_params(client: ClientProfile) -> dict[str, Any]:
    params: dict[str, Any] = {
        "custom_client_id": client.custom_id,
        "client_name": client.name,
        "phone": client.phone,
        "mobile": client.phone,
    }
    if client.client_id:
        params["client_id"] = client.client_id
    if client.email:
        params["email"] = client.email
    return params


class IcountClients:
    def __init__(self, client: IcountClient) -> None:
        self._client = client

    async def sync(self, client: ClientProfile) -> str:
        answer = await self._client.call(consts.CLIENT_CREATE_OR_UPDATE, client_params(client))
        raw = answer.get("client_id")
        if raw in (None, "") and isinstance(answer.get("client_info"), dict):
            raw = answer["client_info"].get("client_id")
        if raw in (None, ""):
            raise IcountError(
                "icount client/create_or_update: no client_id", reason="bad_answer", transient=False
            )
        return str(raw)
