"""Who is signed in to the dashboard, and the CSRF rule: one middleware for every ``/admin`` route.

The session cookie holds a random token (HttpOnly, SameSite=Lax, Secure when the public URL is https);
the server keeps only its hash, so signing out (everywhere) ends it for good. Every POST carries the
CSRF token of the browser's ``bot_csrf`` cookie in its form (double submit), checked in constant time by the
middleware before any handler runs, and again by the handler that reads the form.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from bot.services.admin_auth import AdminSession, session_for
from bot.web.keys import clock_key, settings_key, uow_key

SESSION_COOKIE = "bot_admin"
CSRF_COOKIE = "bot_csrf"
CSRF_FIELD = "csrf"
# Reached without a session: signing in, and its one-time links.
PUBLIC = ("/admin/login",)
# Reached with a session but before an admin of several vendors picks one.
BEFORE_PICK = ("/admin/vendors", "/admin/logout")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _secure(request: web.Request) -> bool:
    return request.app[settings_key].base_url.startswith("https://")


def csrf_token(request: web.Request) -> str:
    """The token every form of this page carries (made, and set as a cookie, on the first page)."""
    token = request.get("csrf_token")
    if not isinstance(token, str):
        cookie = request.cookies.get(CSRF_COOKIE, "")
        token = cookie if 20 <= len(cookie) <= 100 else secrets.token_urlsafe(24)
        request["csrf_token"] = token
    return token


async def checked_form(request: web.Request) -> dict[str, str]:
    """The posted form, once its CSRF token matches the browser's cookie; else 403."""
    form = await request.post()
    sent = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not cookie or not hmac.compare_digest(sent, cookie):
        raise web.HTTPForbidden(text="This form has expired: reload the page and try again.")
    return {key: value for key, value in form.items() if isinstance(value, str)}


def current(request: web.Request) -> AdminSession:
    admin = request.get("admin")
    if not isinstance(admin, AdminSession):  # pragma: no cover - the middleware guards every page
        raise web.HTTPFound("/admin/login")
    return admin


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="Lax", secure=_secure(request), path="/admin",
        max_age=14 * 24 * 3600,
    )  # fmt: skip


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/admin")


def _sign_in_first(request: web.Request) -> web.HTTPFound:
    target = request.path_qs if request.method == "GET" else "/admin"
    return web.HTTPFound(f"/admin/login?next={quote(target, safe='')}")


@web.middleware
async def admin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path != "/admin" and not request.path.startswith("/admin/"):
        return await handler(request)
    token = request.cookies.get(SESSION_COOKIE)
    admin = None
    if token and len(token) <= 100:
        admin = await session_for(request.app[uow_key], token, request.app[clock_key]())
    public = any(request.path == path or request.path.startswith(f"{path}/") for path in PUBLIC)
    if admin is None and not public:
        raise _sign_in_first(request)
    if admin is not None:
        request["admin"] = admin
        if admin.vendor is None and not request.path.startswith(BEFORE_PICK) and not public:
            raise web.HTTPFound("/admin/vendors")
    if request.method == "POST":
        await checked_form(request)  # every form, before its handler does anything (it reads it again)
    response = await handler(request)
    csrf = request.get("csrf_token")
    if isinstance(csrf, str) and request.cookies.get(CSRF_COOKIE) != csrf:
        response.set_cookie(
            CSRF_COOKIE, csrf, httponly=True, samesite="Strict", secure=_secure(request), path="/admin"
        )
    return response
