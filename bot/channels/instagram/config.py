"""The Instagram settings in force: the real ones, or the sandbox's stand-ins (its own fake Send API)."""

from __future__ import annotations

from bot.config import Settings

META_GRAPH_URL = "https://graph.facebook.com/v26.0"
SANDBOX_ACCOUNT_ID = "17841400000000001"
SANDBOX_TOKEN = "sandbox-instagram-token"
# The sandbox signs Instagram's webhooks as WhatsApp's: one Meta app.
SANDBOX_GRAPH_PATH = "/sandbox/instagram"


class InstagramConfig:
    def __init__(self, settings: Settings, whatsapp_app_secret: str, whatsapp_verify_token: str) -> None:
        """``whatsapp_*``: the WhatsApp values in force (the sandbox's stand-ins without credentials),
        which Instagram's default to: one Meta app signs both."""
        self.on = settings.instagram_on
        self.sandbox = settings.instagram_token is None
        token = settings.instagram_token
        secret = settings.instagram_app_secret
        verify = settings.instagram_verify_token
        self.account_id = settings.instagram_account_id or SANDBOX_ACCOUNT_ID
        self.token = token.get_secret_value() if token else SANDBOX_TOKEN
        self.app_secret = secret.get_secret_value() if secret else whatsapp_app_secret
        self.verify_token = verify.get_secret_value() if verify else whatsapp_verify_token
        graph = settings.instagram_graph_url.rstrip("/")
        if self.sandbox and graph == META_GRAPH_URL:
            graph = settings.base_url + SANDBOX_GRAPH_PATH
        self.graph_url = graph

    def __repr__(self) -> str:  # never the token
        return f"InstagramConfig(account_id={self.account_id!r}, graph_url={self.graph_url!r})"
