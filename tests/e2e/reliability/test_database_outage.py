"""The database stopped under the running bot, then started again: a Postgres cluster of the test's own,
on its own port (initdb and pg_ctl, as the postgres user when the test runs as root).

While it is down every webhook is answered 503 (never a 500, never a 200 for an event not stored), so
Meta delivers it again; once it is back, the redeliveries are taken, and every webhook ever answered 200
is in the inbox and processed: nothing lost.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from bot.sandbox import whatsapp_payloads as payloads
from bot.store import migrate
from bot.store.database import create_engine
from bot.store.tables import inbound_events
from bot.web.keys import uow_key
from bot.whatsapp.clients import SANDBOX_PHONE_ID
from tests.whatsapp_support import RunningBot, free_port, start_bot

pytestmark = pytest.mark.postgres
BEFORE, DURING, AFTER = 20, 15, 20


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class Cluster:
    """A throwaway Postgres server: its data directory in a temporary folder, trust auth, one port."""

    def __init__(self, binaries: Path) -> None:
        self._bin = binaries
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="bot-outage-"))
        self.data = self.folder / "data"
        # initdb refuses root: the cluster belongs to the postgres user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, "postgres")

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as, *command], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(
            str(self._bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "server.log")
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def stop(self) -> None:
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def remove(self) -> None:
        subprocess.run(
            [*self._as, str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    binaries = _binaries()
    if binaries is None or shutil.which("runuser") is None and os.geteuid() == 0:
        pytest.skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) to start a cluster")
    server = Cluster(binaries)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


def message(number: int) -> tuple[str, dict[str, Any]]:
    wamid = f"wamid.outage{number:03d}{uuid.uuid4().hex[:8]}"
    phone = f"3360010{number:04d}"
    return wamid, payloads.text_message(SANDBOX_PHONE_ID, phone, f"Message {number}", wamid=wamid)


async def deliver(bot: RunningBot, batch: list[tuple[str, dict[str, Any]]], seen: Counter[int]) -> list[int]:
    codes = await asyncio.gather(*(bot.post_webhook(payload) for _, payload in batch))
    seen.update(codes)
    return list(codes)


async def test_a_database_outage_answers_503_then_loses_nothing_once_it_is_back(
    cluster: Cluster, tmp_path: Path
) -> None:
    admin = await asyncpg.connect(cluster.url("postgres"))
    await admin.execute("CREATE DATABASE bot")
    await admin.close()
    url = cluster.url("bot")
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()
    seen: Counter[int] = Counter()
    acknowledged: list[str] = []
    async for bot in start_bot(tmp_path, url):
        before = [message(n) for n in range(BEFORE)]
        codes = await deliver(bot, before, seen)
        acknowledged += [wamid for (wamid, _), code in zip(before, codes, strict=True) if code == 200]
        cluster.stop()
        during = [message(BEFORE + n) for n in range(DURING)]
        down_codes = await deliver(bot, during, seen)
        cluster.start()
        after = [message(BEFORE + DURING + n) for n in range(AFTER)]
        for attempt in range(50):  # Meta redelivers what got a 503; the pool reconnects on its own
            batch = [item for item in during + after if item[0] not in acknowledged]
            if not batch:
                break
            codes = await deliver(bot, batch, seen)
            acknowledged += [wamid for (wamid, _), code in zip(batch, codes, strict=True) if code == 200]
            await asyncio.sleep(0.1 * attempt)
        await bot.settle(limit=30)
        await until_processed(bot, acknowledged)  # the worker's own retries, after its pauses
        async with bot.app[uow_key]() as uow:
            rows = (
                await uow.connection.execute(
                    select(
                        inbound_events.c.event_key,
                        inbound_events.c.processed_at,
                        inbound_events.c.rejected_at,
                        inbound_events.c.last_error,
                        inbound_events.c.locked_until,
                    )
                )
            ).all()
    stored = {row.event_key: row for row in rows}
    print(
        f"outage: {sum(seen.values())} requests, status codes {dict(sorted(seen.items()))}, "
        f"{len(acknowledged)} acknowledged, {sum(w in stored for w in acknowledged)} stored"
    )
    assert codes_before_ok(seen, before_codes=len(before))
    assert set(down_codes) == {503}
    assert seen[500] == 0
    assert len(acknowledged) == BEFORE + DURING + AFTER
    assert all(wamid in stored for wamid in acknowledged)  # nothing answered 200 was lost
    waiting = [
        (w, stored[w].last_error, stored[w].locked_until)
        for w in acknowledged
        if stored[w].processed_at is None or stored[w].rejected_at is not None
    ]
    assert waiting == []  # and every one of them processed


async def until_processed(bot: RunningBot, wamids: list[str], limit: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + limit
    while asyncio.get_running_loop().time() < deadline:
        async with bot.app[uow_key]() as uow:
            done = await uow.connection.execute(
                select(inbound_events.c.event_key).where(
                    inbound_events.c.event_key.in_(wamids), inbound_events.c.processed_at.is_not(None)
                )
            )
            if len(done.all()) == len(wamids):
                return
        await asyncio.sleep(0.1)


def codes_before_ok(seen: Counter[int], before_codes: int) -> bool:
    return seen[200] >= before_codes and not any(code >= 500 and code != 503 for code in seen)
