"""``bot serve``: the port bound first, then the app run on it."""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

from aiohttp import web

from bot.app import create_app
from bot.cli.common import _fail
from bot.config import Settings

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
        web.run_app(app, sock=sockets, print=announce, access_log=None)
    finally:
        for listener in sockets:
            listener.close()
    return 0
