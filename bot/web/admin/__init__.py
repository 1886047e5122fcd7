"""The vendor's dashboard at ``/admin``: server-rendered pages behind a WhatsApp-code sign-in."""

from __future__ import annotations

from aiohttp import web

from bot.web.admin.limits import SignInLimits, limits_key
from bot.web.admin.session import admin_middleware


def install(app: web.Application) -> None:
    """What the dashboard needs on the app besides its routes (listed in ``bot/web/routes.py``)."""
    app.middlewares.append(admin_middleware)
    app[limits_key] = SignInLimits()
