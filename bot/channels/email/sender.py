"""The email sender: claims due emails one at a time and hands them to the SMTP server, as the WhatsApp
outbox sender does with its messages.

A claim is a lease (``LEASE``): a sender that dies after its claim leaves the row "sending", and once the
lease is over the next pass takes it again. A server that is down or refuses us (connection, timeout,
authentication, a 4xx answer) leaves the email queued, retried with backoff (1, 2, 4 ... minutes, up to an
hour); a recipient or a message the server refuses for good (5xx) fails at once, with the server's answer;
after ``MAX_ATTEMPTS`` an email fails with its last reason. The password is never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from enum import Enum
from types import TracebackType

import aiosmtplib

from bot.channels.email.message import build_message
from bot.config import SmtpSecurity, SmtpServer
from bot.domain.email import MAX_ATTEMPTS, retry_delay
from bot.services.clock import Clock
from bot.store.repositories.email_outbox import EmailRow
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
# Emails handed over per pass at most: a large backlog is sent over several passes.
PASS_LIMIT = 100
# Per SMTP step (connect, each command): far below the claim's lease.
SMTP_TIMEOUT_SECONDS = 30.0


class Verdict(Enum):
    RETRY = "retry"
    # The server as a whole is unusable now: the pass stops, the next one reconnects.
    SERVER_DOWN = "server_down"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SendError:
    verdict: Verdict
    reason: str


def judge(error: Exception) -> SendError:
    """What an SMTP failure means for the email: try again later, or never."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        answers = [f"{r.code} {r.message}" for r in error.recipients]
        permanent = bool(error.recipients) and all(r.code >= 500 for r in error.recipients)
        return SendError(
            Verdict.FAILED if permanent else Verdict.RETRY, "recipient refused: " + "; ".join(answers)
        )
    if isinstance(error, aiosmtplib.SMTPRecipientRefused | aiosmtplib.SMTPDataError):
        reason = (
            f"{'recipient' if isinstance(error, aiosmtplib.SMTPRecipientRefused) else 'message'} refused: "
        )
        return SendError(
            Verdict.FAILED if error.code >= 500 else Verdict.RETRY, f"{reason}{error.code} {error.message}"
        )
    if isinstance(error, aiosmtplib.SMTPResponseException):
        # The sender address, the greeting or the login refused: the server (or our settings), not this email.
        return SendError(Verdict.SERVER_DOWN, f"{type(error).__name__}: {error.code} {error.message}")
    return SendError(Verdict.SERVER_DOWN, f"{type(error).__name__}: {error}")


class SmtpSession:
    """One connection for a pass, opened at its first email and opened again after a failure."""

    def __init__(self, server: SmtpServer, timeout: float) -> None:
        self._server = server
        self._timeout = timeout
        self._client: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> SmtpSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close(polite=exc is None)

    async def send(self, message: EmailMessage, recipient: str) -> None:
        if self._client is None or not self._client.is_connected:
            self._client = await self._connect()
        await self._client.send_message(message, recipients=[recipient])

    async def _connect(self) -> aiosmtplib.SMTP:
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            use_tls=server.security is SmtpSecurity.TLS,
            # None: STARTTLS when the server offers it (no password to protect).
            start_tls={SmtpSecurity.STARTTLS: True, SmtpSecurity.TLS: False}.get(server.security),
            username=server.username,
            password=server.password,
            timeout=self._timeout,
        )
        await client.connect()
        return client

    async def close(self, *, polite: bool = False) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        if polite:
            try:
                await client.quit()
                return
            except aiosmtplib.SMTPException:
                pass
        client.close()


class EmailSender:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        server: SmtpServer,
        email_from: str,
        clock: Clock,
        *,
        timeout: float = SMTP_TIMEOUT_SECONDS,
    ) -> None:
        self._uow = uow
        self._server = server
        self._from = email_from
        self._clock = clock
        self._timeout = timeout

    async def send_due(self, limit: int = PASS_LIMIT) -> int:
        """One pass: sends what is due (and what a dead sender left past its lease); returns how many
        the server accepted. Stops early when the server is down."""
        sent = 0
        async with SmtpSession(self._server, self._timeout) as session:
            for _ in range(limit):
                async with self._uow() as uow:
                    row = await uow.emails.claim_next(self._clock())
                    await uow.commit()
                if row is None:
                    break
                verdict = await self._send_one(session, row)
                if verdict is None:
                    sent += 1
                elif verdict is Verdict.SERVER_DOWN:
                    break
        return sent

    async def _send_one(self, session: SmtpSession, row: EmailRow) -> Verdict | None:
        message = build_message(row, self._from, self._clock())
        try:
            await session.send(message, row.to_address)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            await session.close()
            problem = judge(error)
            await self._record_failure(row, problem)
            return problem.verdict
        async with self._uow() as uow:
            await uow.emails.mark_sent(row.id, str(message["Message-ID"]), self._clock())
            await uow.commit()
        log.info("email %s (%s) handed to %s", row.id, row.kind.value, self._server)
        return None

    async def _record_failure(self, row: EmailRow, problem: SendError) -> None:
        now = self._clock()
        async with self._uow() as uow:
            if problem.verdict is Verdict.FAILED:
                log.warning("email %s (%s) refused for good: %s", row.id, row.kind.value, problem.reason)
                await uow.emails.mark_failed(row.id, problem.reason, now)
            elif row.attempts >= MAX_ATTEMPTS:
                log.warning("email %s (%s) given up after %d attempts: %s", row.id, row.kind.value,
                            row.attempts, problem.reason)  # fmt: skip
                await uow.emails.mark_failed(
                    row.id, f"gave up after {row.attempts} attempts: {problem.reason}", now
                )
            else:
                when = now + retry_delay(row.attempts)
                log.info("email %s will be retried at %s: %s", row.id, when.isoformat(), problem.reason)
                await uow.emails.retry_at(row.id, when, problem.reason, now)
            await uow.commit()

    async def next_due_at(self) -> datetime | None:
        async with self._uow() as uow:
            return await uow.emails.next_due_at()
