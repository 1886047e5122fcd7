"""Signing in and out of the dashboard: the phone, then the code sent by WhatsApp (or a one-time link),
picking a vendor for an admin of several, signing out here or everywhere."""

from __future__ import annotations

import ipaddress
import logging
import uuid

from aiohttp import web

from bot.domain.errors import DomainError, InputError
from bot.domain.phone import normalise_phone
from bot.rendering import explain
from bot.services import admin_auth
from bot.web.admin.limits import limits_key
from bot.web.admin.session import (
    checked_form,
    clear_session_cookie,
    current,
    set_session_cookie,
)
from bot.web.admin.ui import page_locale, render_admin
from bot.web.keys import clock_key, sender_key, uow_key

log = logging.getLogger(__name__)


def _next(value: str | None) -> str:
    """Where to go after signing in: a dashboard page of ours only (never another site)."""
    if (
        value and value.startswith("/admin") and "//" not in value and "\\" not in value
        and value.isprintable() and not any(char.isspace() for char in value)
    ):  # fmt: skip
        return value
    return "/admin"


def _client(request: web.Request) -> str:
    return client_address(request.remote, request.headers.get("X-Forwarded-For"))


def client_address(remote: str | None, forwarded_for: str | None) -> str:
    """Who a sign-in attempt is counted against. Behind the reverse proxy of docs/deploy.md (the bot on
    127.0.0.1, Caddy its only client) every peer is loopback: the client is then the address the proxy
    put last in X-Forwarded-For. From any other peer the header is anyone's to write, and is ignored."""
    peer = remote or "unknown"
    if not forwarded_for:
        return peer
    try:
        if not ipaddress.ip_address(peer).is_loopback:
            return peer
        return str(ipaddress.ip_address(forwarded_for.rsplit(",", 1)[-1].strip()))
    except ValueError:
        return peer


async def login_page(request: web.Request) -> web.Response:
    if request.get("admin") is not None:
        raise web.HTTPFound("/admin")
    return render_admin(request, "login", "auth", next=_next(request.query.get("next")), error=None, phone="")


async def ask_code(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    target = _next(form.get("next"))
    phone_text = form.get("phone", "").strip()
    locale = page_locale(request)
    if not request.app[limits_key].asking.allow(_client(request), request.app[clock_key]()):
        return render_admin(
            request, "login", "auth", status=429, next=target, phone=phone_text, error="too_many"
        )
    try:
        phone = normalise_phone(phone_text)
        await admin_auth.request_code(request.app[uow_key], phone, request.app[clock_key]())
    except InputError as error:
        message = explain(error, locale)
        status = 429 if error.code == "phone_locked" else 400
        return render_admin(
            request, "login", "auth", status=status, next=target, phone=phone_text, error=message
        )
    if sender_key in request.app:
        request.app[sender_key].wake()
    # The same answer whether or not the phone is an admin's: the page tells no one who is.
    return render_admin(request, "code", "auth", phone=f"+{phone}", next=target, error=None)


async def check_code(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    target = _next(form.get("next"))
    phone = form.get("phone", "")
    locale = page_locale(request)
    if not request.app[limits_key].trying.allow(_client(request), request.app[clock_key]()):
        return render_admin(request, "code", "auth", status=429, phone=phone, next=target, error="too_many")
    try:
        new = await admin_auth.verify_code(
            request.app[uow_key], phone, form.get("code", ""), request.app[clock_key]()
        )
    except DomainError as error:
        status = 429 if error.code == "phone_locked" else 400
        return render_admin(
            request, "code", "auth", status=status, phone=phone, next=target, error=explain(error, locale)
        )
    response = web.HTTPSeeOther(target if new.session.vendor is not None else "/admin/vendors")
    set_session_cookie(request, response, new.token)
    raise response


async def link_sign_in(request: web.Request) -> web.StreamResponse:
    token = request.match_info["token"]
    new = None
    if 20 <= len(token) <= 100:
        new = await admin_auth.use_link(request.app[uow_key], token, request.app[clock_key]())
    if new is None:
        return render_admin(request, "link_used", "auth", status=410)
    response = web.HTTPSeeOther("/admin" if new.session.vendor is not None else "/admin/vendors")
    set_session_cookie(request, response, new.token)
    raise response


async def vendors_page(request: web.Request) -> web.Response:
    return render_admin(request, "vendors", "auth", vendors=current(request).vendors)


async def pick_vendor(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    try:
        vendor_id = uuid.UUID(form.get("vendor", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="unknown vendor") from None
    if not await admin_auth.pick_vendor(request.app[uow_key], current(request), vendor_id):
        raise web.HTTPNotFound(text="unknown vendor")
    raise web.HTTPSeeOther("/admin")


async def sign_out(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    everywhere = form.get("everywhere") == "1"
    await admin_auth.sign_out(
        request.app[uow_key], current(request), request.app[clock_key](), everywhere=everywhere
    )
    response = web.HTTPSeeOther("/admin/login")
    clear_session_cookie(response)
    raise response


def auth_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/admin/login", login_page),
        web.post("/admin/login", ask_code),
        web.post("/admin/login/code", check_code),
        web.get("/admin/login/link/{token}", link_sign_in),
        web.get("/admin/vendors", vendors_page),
        web.post("/admin/vendors", pick_vendor),
        web.post("/admin/logout", sign_out),
    ]
