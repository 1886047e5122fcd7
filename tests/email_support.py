"""A real SMTP server for the email tests: aiosmtpd, listening on a local port in the test's own event
loop, keeping every message it accepts. It can be stopped and started again on the same port (an SMTP
server down, then up), and refuses some recipients as real servers do."""

from __future__ import annotations

import asyncio
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

from aiosmtpd.smtp import SMTP, Envelope, Session

# Local parts the server answers for: 550 (no such user, for good) and 451 (try again later).
BOUNCE = "bounce"
BUSY = "busy"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """aiosmtpd's handler: keeps what it accepts, with the envelope's recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", 1)[0]
        if local == BOUNCE:
            return "550 5.1.1 No such user here"
        if local == BUSY:
            return "451 4.3.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = cast(bytes, envelope.original_content or envelope.content)
        self.messages.append(cast(EmailMessage, message_from_bytes(content, policy=policy.default)))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 2.0.0 Message accepted for delivery"


class LocalSmtp:
    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self.mailbox, hostname="mail.test", ident="test SMTP"), "127.0.0.1", self.port
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def bodies(self, message: EmailMessage) -> tuple[str, str]:
        """The text and the HTML alternatives of a message, with the wire's CRLF read as new lines."""
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        read = [str(cast(Any, part).get_content()).replace("\r\n", "\n") for part in (text, html)]
        return read[0], read[1]
