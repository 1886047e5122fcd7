"""Instagram Direct against the running bot: signed webhooks in Instagram's shape to /webhooks/instagram,
the sandbox's fake Send API out (what the bot sends to Meta reaches it over HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.channels.instagram.config import SANDBOX_ACCOUNT_ID
from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.instagram import FakeInstagramAPI, InstagramSent
from bot.sandbox.keys import instagram_fake_key
from bot.web.keys import instagram_key
from tests.whatsapp_support import RunningBot

# An Instagram-scoped id as Meta gives them (the end, 345678, is what the vendor sees without a username).
IG_CUSTOMER = "6871234567345678"
IG_USERNAME = "dana.cakes"


@dataclass
class Instagram:
    bot: RunningBot
    seen: dict[str, int] = field(default_factory=dict)

    @property
    def fake(self) -> FakeInstagramAPI:
        return self.bot.app[instagram_fake_key]

    async def post(self, payload: dict[str, Any], secret: str | None = None) -> int:
        body = payloads.encode(payload)
        key = secret if secret is not None else self.bot.app[instagram_key].app_secret
        headers = {"X-Hub-Signature-256": payloads.sign(body, key), "Content-Type": "application/json"}
        async with self.bot.http.post(
            f"{self.bot.base}/webhooks/instagram", data=body, headers=headers
        ) as answer:
            return answer.status

    async def says(self, sender: str, text: str) -> str:
        """The customer writes on Instagram; the message's mid."""
        payload = self.fake.text_message(SANDBOX_ACCOUNT_ID, sender, text)
        assert await self.post(payload) == 200
        return str(payload["entry"][0]["messaging"][0]["message"]["mid"])

    async def next_to(self, user: str, wait: float = 10.0) -> InstagramSent:
        after = self.seen.get(user, 0)
        message = await self.fake.wait_for(lambda m: m.to == user and m.seq > after, timeout=wait)
        self.seen[user] = message.seq
        return message
