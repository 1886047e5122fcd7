"""`bot serve` as a real process on Postgres, its WhatsApp number pointed at a fake Graph API on a local
port: started, killed with SIGKILL, started again; webhooks signed and resent until 200, as Meta does.

The kill -9 test and bench/adversarial.py share these pieces."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bot.domain.outgoing import tracked_rows
from bot.sandbox import whatsapp_payloads as payloads
from tests.cli_support import clean_env
from tests.e2e.reliability.support import Received

PHONE_ID = "100200300400500"
APP_SECRET = "secret"
START_LIMIT = 30.0
# What a process killed with SIGKILL leaves held: inbox events under their lease (2 min), ended by the test
# rather than waited out, and outbox rows claimed "sending" (released after STALE_SENDING): see
# `end_send_leases`.
END_INBOX_LEASES = (
    "UPDATE inbound_events SET locked_until = NULL WHERE processed_at IS NULL AND locked_until IS NOT NULL"
)
END_SEND_LEASES = (
    "UPDATE outbox_messages SET updated_at = updated_at - interval '10 minutes'"
    " WHERE status = 'sending' AND id = ANY($1::bigint[])"
)
SEND_LEASE_LIMIT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServeProcess:
    """One `bot serve` on a fixed port, which can be killed and started again on the same database."""

    cwd: Path
    database: str
    graph_url: str
    port: int = field(default_factory=free_port)
    extra: Mapping[str, str] = field(default_factory=dict)
    log: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        settings = {
            "DATABASE_URL": self.database, "WHATSAPP_PHONE_ID": PHONE_ID, "WHATSAPP_TOKEN": "token",
            "WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": "verify",
            "WHATSAPP_GRAPH_URL": self.graph_url, "PAYMENT_PROVIDER": "sandbox",
            "PUBLIC_BASE_URL": self.base, "RECOVERY_SECONDS": "1", "LOG_LEVEL": "WARNING",
        }  # fmt: skip
        settings.update(self.extra)
        return clean_env(**settings)

    def spawn(self) -> None:
        self.cwd.mkdir(parents=True, exist_ok=True)
        self.log = self.cwd / f"serve-{self.port}.log"
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve", "--port", str(self.port)],
                cwd=self.cwd, env=self.env(), stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.starts += 1

    async def start(self) -> None:
        """Started, and answering /healthz."""
        self.spawn()
        assert self.process is not None
        deadline = time.monotonic() + START_LIMIT
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"bot serve exited with {self.process.returncode}: {self.output()}")
                try:
                    async with http.get(f"{self.base}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("bot serve did not answer /healthz in time")

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, whatever was in flight is left as it was."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log is not None and self.log.exists() else ""


async def end_inbox_leases(database: str) -> None:
    """The inbox events the dead process held are free again."""
    connection = await asyncpg.connect(database)
    try:
        await connection.execute(END_INBOX_LEASES)
    finally:
        await connection.close()


async def left_sending(database: str) -> Counter[tuple[int, str, str]]:
    """Outbox rows left "sending" (id, recipient, kind): claimed, perhaps sent, never marked."""
    connection = await asyncpg.connect(database)
    try:
        query = "SELECT id, to_phone, kind FROM outbox_messages WHERE status = 'sending'"
        rows = await connection.fetch(query)
    finally:
        await connection.close()
    return Counter((int(row["id"]), str(row["to_phone"]), str(row["kind"])) for row in rows)


async def end_send_leases(
    database: str, left: Counter[tuple[int, str, str]], received: list[Received]
) -> int:
    """After the restart, what STALE_SENDING's wait gives in production, without waiting it out. Of the
    rows the dead process left "sending", those the fake Graph API accepted get their "sent" status
    redelivered (as Meta does) until the new process takes it and records the send by its tracker: they
    are waited for. The others' claim ends now, for the new process to send them. Returns how many
    were recorded by their status."""
    ids = [row_id for row_id, _to, _kind in left]
    reached = {row for item in received for row in tracked_rows(item.message.tracker)} & set(ids)
    connection = await asyncpg.connect(database)
    try:
        await connection.execute(END_SEND_LEASES, [i for i in ids if i not in reached])
        deadline = time.monotonic() + SEND_LEASE_LIMIT
        query = "SELECT count(*) FROM outbox_messages WHERE status = 'sending' AND id = ANY($1::bigint[])"
        while await connection.fetchval(query, list(reached)):
            if time.monotonic() > deadline:
                raise AssertionError("a send that reached WhatsApp was never recorded from its status")
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    return len(reached)


@dataclass
class Deliveries:
    """Every POST the test made: its final status, and every status seen on the way (retries)."""

    statuses: Counter[int] = field(default_factory=Counter)
    refused: int = 0  # connection refused or reset: the process was down
    acknowledged: list[str] = field(default_factory=list)


async def deliver(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    record: Deliveries,
    *,
    done: frozenset[int] = frozenset({200}),
    limit: float = 60.0,
) -> int:
    """Posts until the answer is in ``done``, as Meta and Stripe redeliver what was not acknowledged."""
    deadline = time.monotonic() + limit
    while True:
        try:
            async with http.post(url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                record.statuses[response.status] += 1
                if response.status in done:
                    return response.status
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            record.refused += 1
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}: never acknowledged within {limit} s")
        await asyncio.sleep(0.1)


def signed(payload: Mapping[str, Any], secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    body = payloads.encode(payload)
    return body, {"X-Hub-Signature-256": payloads.sign(body, secret), "Content-Type": "application/json"}


def wamid() -> str:
    return f"wamid.kill.{uuid.uuid4().hex}"
