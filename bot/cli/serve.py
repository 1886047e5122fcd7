"""``bot serve``: the port bound first, then the app run on it; ``bot serve --workers N`` (processes sharing
the port) and ``bot worker`` (the inbox worker alone)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import multiprocessing
import os
import signal
import socket
import time
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.app import create_app
from bot.bootstrap import ensure_first_vendor, prepare_schema
from bot.cli.common import _fail
from bot.config import Settings
from bot.services.clock import system_clock
from bot.store.database import async_url, create_engine, is_sqlite
from bot.store.uow import UnitOfWorkFactory

try:  # libuv's event loop: sockets written and polled in C, the webhook hot path's largest cost (issue 18)
    import uvloop
except ImportError:  # pragma: no cover - Windows, where uvloop does not exist: asyncio's own loop
    uvloop = None  # type: ignore[assignment]

LISTEN_BACKLOG = 128
# A port in use or reserved, an address not of this machine: one line, not a traceback.
CANNOT_LISTEN = frozenset({errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL})


def listening_sockets(host: str, port: int) -> list[socket.socket]:
    """``host:port`` bound and listening, on each of its addresses as aiohttp would bind them."""
    bound: list[socket.socket] = []
    seen: set[tuple[int, Any]] = set()
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            if (family, address) in seen:
                continue
            seen.add((family, address))
            listener = socket.socket(family, kind, proto)
            bound.append(listener)
            if os.name == "posix":  # a restart is not refused for the last run's connections in TIME_WAIT
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:  # "::" and "0.0.0.0" side by side, as asyncio does
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # --port 0: the first address gets a free port, the others the same one.
            listener.bind((address[0], port, *address[2:]))
            listener.listen(LISTEN_BACKLOG)
            port = int(listener.getsockname()[1])
    except OSError:
        for listener in bound:
            listener.close()
        raise
    return bound


def event_loop() -> asyncio.AbstractEventLoop:
    """The loop ``bot serve`` runs on: uvloop's when installed."""
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


async def freeze_startup_objects(_app: web.Application) -> None:
    """Once started, what the imports and the app made (some 170,000 objects) is moved out of the
    collector's reach: each full collection walked them all, a pause of about 50 ms at the p99 of the
    webhooks. Garbage is collected first, so none of it is kept."""
    gc.collect()
    gc.freeze()


def run_server(settings: Settings, host: str, port: int) -> int:
    # The port first: one in use stops here, before the app touches the database or sends a message.
    try:
        sockets = listening_sockets(host, port)
    except OSError as error:
        if isinstance(error, socket.gaierror) or error.errno in CANNOT_LISTEN:
            return _fail(f"cannot listen on {host}:{port}: {error.strerror}", 1)
        raise
    port = int(sockets[0].getsockname()[1])
    base = settings.public_base_url or f"http://{host}:{port}"
    # Links made by other `bot` commands (bot pay ...) use PUBLIC_BASE_URL, else HOST and PORT.
    elsewhere = settings.public_base_url is None and base != settings.base_url

    def announce(_message: str) -> None:
        print(f"bot listening on http://{host}:{port} (public URL {base})", flush=True)
        if elsewhere:
            print(
                f"note: links made by other bot commands point to {settings.base_url}: set PORT={port}"
                f" (and HOST={host}) or PUBLIC_BASE_URL={base} for them too",
                flush=True,
            )
        if settings.sandbox_whatsapp:
            print("sandbox mode: no WhatsApp credentials, messages go to the built-in fake WhatsApp")
            print(f"open the sandbox (the vendor's phone and a customer's): {base}/sandbox", flush=True)
        print(f"payment provider: {settings.effective_provider}; health: {base}/healthz", flush=True)

    if settings.public_base_url is None:
        settings = settings.model_copy(update={"public_base_url": base})
    try:
        app = create_app(settings, sandbox_demo=True)
        app.on_startup.append(freeze_startup_objects)  # after the app's own resources: all of them
        web.run_app(app, sock=sockets, print=announce, access_log=None, loop=event_loop())
    finally:
        for listener in sockets:
            listener.close()
    return 0


def _reserve(host: str, port: int) -> socket.socket:
    """The port checked free (and a free one picked for 0) by a bound socket that does not listen: the
    processes bind it too (SO_REUSEPORT) and the kernel spreads connections among them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reserved = socket.socket(family, socket.SOCK_STREAM)
    reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        reserved.bind((host, port))
    except OSError:
        reserved.close()
        raise
    return reserved


def _ingest_process(settings: Settings, host: str, port: int) -> None:
    app = create_app(settings, role="ingest")
    app.on_startup.append(freeze_startup_objects)
    web.run_app(app, host=host, port=port, reuse_port=True, print=None, access_log=None, loop=event_loop())


def _worker_process(settings: Settings, lease: float) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(settings, lease))


def run_processes(settings: Settings, host: str, port: int, workers: int, processors: int) -> int:
    """``bot serve --workers N``: N webhook processes sharing the port, and inbox worker processes."""
    if settings.sandbox_whatsapp:
        return _fail("--workers needs WhatsApp credentials: sandbox mode runs in one process", 2)
    if is_sqlite(async_url(settings.database_url)):
        return _fail("--workers needs Postgres (DATABASE_URL): SQLite has one writer at a time", 2)
    try:
        reserved = _reserve(host, port)
    except OSError as error:
        if isinstance(error, socket.gaierror) or error.errno in CANNOT_LISTEN:
            return _fail(f"cannot listen on {host}:{port}: {error.strerror}", 1)
        raise
    port = int(reserved.getsockname()[1])
    base = settings.public_base_url or f"http://{host}:{port}"
    if settings.public_base_url is None:
        settings = settings.model_copy(update={"public_base_url": base})
    asyncio.run(prepare(settings))  # the schema and the first vendor once, before the processes race
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=_ingest_process, args=(settings, host, port), name=f"bot-ingest-{index}")
        for index in range(workers)
    ] + [
        spawn.Process(target=_worker_process, args=(settings, 120.0), name=f"bot-worker-{index}")
        for index in range(processors)
    ]
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children:
            child.start()
        print(
            f"bot listening on http://{host}:{port} (public URL {base}): {workers} webhook processes, "
            f"{processors} inbox workers; health: {base}/healthz",
            flush=True,
        )
        while not stopping and all(child.is_alive() for child in children):
            time.sleep(0.2)
        failed = [child.name for child in children if not child.is_alive() and child.exitcode]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
        reserved.close()
    if failed and not stopping:
        return _fail(f"stopped: {', '.join(failed)} exited", 1)
    return 0


async def prepare(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await prepare_schema(engine, settings)
        await ensure_first_vendor(UnitOfWorkFactory(engine), settings, system_clock())
    finally:
        await engine.dispose()


async def run_worker(settings: Settings, lease: float) -> None:
    """The inbox worker, the outbox sender and the jobs, until SIGTERM or SIGINT."""
    app = create_app(settings, role="worker", inbox_lease=timedelta(seconds=lease))
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()  # runs the app's resources (no site: nothing is served)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    try:
        await stopped.wait()
    finally:
        await runner.cleanup()


async def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if settings.sandbox_whatsapp:
        return _fail("bot worker needs WhatsApp credentials: in sandbox mode, bot serve does everything", 2)
    print("bot worker: processing the inbox", flush=True)
    await run_worker(settings, float(args.lease))
    return 0
