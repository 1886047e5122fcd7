"""One pywa client per business number, all sending through our own httpx session (30 s timeout,
base URL from WHATSAPP_GRAPH_URL, so tests and the sandbox reach the fake Graph API)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
from pywa_async.client import WhatsApp
from pywa_async.utils import UserIdentifier

from bot.config import Settings
from bot.whatsapp.transport import GraphRewriteTransport

log = logging.getLogger(__name__)
GRAPH_API_VERSION = "26.0"
HTTP_TIMEOUT_SECONDS = 30.0
META_GRAPH_URL = "https://graph.facebook.com"
# Sandbox mode: the bot talks to its built-in fake WhatsApp with these stand-ins.
SANDBOX_PHONE_ID = "100000000000001"
SANDBOX_TOKEN = "sandbox-token"
SANDBOX_APP_SECRET = "sandbox-app-secret"
SANDBOX_VERIFY_TOKEN = "sandbox-verify-token"


class WhatsAppConfig:
    """The WhatsApp settings in force: the real ones, or the sandbox's stand-ins."""

    def __init__(self, settings: Settings) -> None:
        secret = settings.whatsapp_app_secret
        token = settings.whatsapp_token
        verify = settings.whatsapp_verify_token
        self.sandbox = settings.sandbox_whatsapp
        self.default_phone_id = settings.whatsapp_phone_id or SANDBOX_PHONE_ID
        self.token = token.get_secret_value() if token else SANDBOX_TOKEN
        self.app_secret = secret.get_secret_value() if secret else SANDBOX_APP_SECRET
        self.verify_token = verify.get_secret_value() if verify else SANDBOX_VERIFY_TOKEN
        graph = settings.whatsapp_graph_url.rstrip("/")
        if self.sandbox and graph == META_GRAPH_URL:
            graph = f"{settings.base_url}/sandbox/graph"
        self.graph_url = graph


class WhatsAppClients:
    def __init__(self, config: WhatsAppConfig, install_handlers: Callable[[WhatsApp], None]) -> None:
        self.config = config
        self._install_handlers = install_handlers
        self._clients: dict[str, WhatsApp] = {}

    def for_number(self, phone_number_id: str | None) -> WhatsApp:
        phone_id = phone_number_id or self.config.default_phone_id
        client = self._clients.get(phone_id)
        if client is None:
            transport: httpx.AsyncBaseTransport | None = None
            if self.config.graph_url != META_GRAPH_URL:
                transport = GraphRewriteTransport(self.config.graph_url)
            session = httpx.AsyncClient(timeout=HTTP_TIMEOUT_SECONDS, transport=transport)
            client = WhatsApp(
                phone_id=phone_id,
                token=self.config.token,
                session=session,
                verify_token=self.config.verify_token,
                app_secret=self.config.app_secret,
                # Our inbox verified the batch's signature and dedupes durably; pywa sees single events.
                validate_updates=False,
                skip_duplicate_updates=False,
                filter_updates=False,
                api_version=GRAPH_API_VERSION,
                user_identifier_priority=(
                    UserIdentifier.WA_ID,
                    UserIdentifier.BSUID,
                    UserIdentifier.PARENT_BSUID,
                ),
            )
            self._install_handlers(client)
            self._clients[phone_id] = client
        return client

    async def close(self) -> None:
        for client in self._clients.values():
            await client.api._session.aclose()
        self._clients.clear()
