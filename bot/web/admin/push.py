"""The dashboard's notifications (``/admin/settings/notifications``): "Enable notifications" on this
browser, what to be notified of, the admin's devices; and the service worker that shows each push and
opens its page on a click. The worker is served outside ``/admin`` (``/push/sw.js``, allowed the
``/admin/`` scope by its header): a browser checks it for updates on its own, without the dashboard's
session, and every ``/admin`` address stays behind the sign-in."""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlsplit

from aiohttp import web

from bot.domain.push import PUSH_KINDS, PushKind
from bot.services import push_subscriptions
from bot.web.admin.service_worker import SERVICE_WORKER
from bot.web.admin.session import checked_form, current
from bot.web.admin.ui import NO_STORE, page_locale, render_admin, words
from bot.web.keys import clock_key, push_sender_key, settings_key, uow_key

log = logging.getLogger(__name__)
PAGE = "/admin/settings/notifications"
SCOPE = "/admin/"
WORKER = "/push/sw.js"


def _who(request: web.Request) -> tuple[uuid.UUID, str]:
    admin = current(request)
    if admin.vendor is None:  # pragma: no cover - the middleware sends an admin of several to pick one
        raise web.HTTPFound("/admin/vendors")
    return admin.vendor.id, admin.phone


def _wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


async def service_worker(_request: web.Request) -> web.Response:
    """Public: it holds no data (what it shows comes encrypted in each push)."""
    return web.Response(
        text=SERVICE_WORKER,
        content_type="text/javascript",
        charset="utf-8",
        headers={
            "Service-Worker-Allowed": SCOPE,
            # Always checked again, so a new version reaches browsers at their next visit.
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def _page(
    request: web.Request, *, notice: str | None = None, bad: bool = False, status: int = 200
) -> web.Response:
    vendor_id, phone = _who(request)
    sender = request.app[push_sender_key]
    public_key = (await sender.keys()).public_key if sender.enabled else None
    found = await push_subscriptions.state(request.app[uow_key], vendor_id, phone)
    devices = [
        {
            "service": urlsplit(s.endpoint).hostname or "",
            "endpoint": s.endpoint,
            "created_at": s.created_at,
            "last_success_at": s.last_success_at,
            "last_failure_at": s.last_failure_at,
        }
        for s in found.subscriptions
    ]
    said = words(page_locale(request), "push")
    if notice is None and request.query.get("saved") == "1":
        notice = said["saved"]
    if notice is None and request.query.get("removed") == "1":
        notice = said["removed"]
    return render_admin(
        request, "notifications", "push", status=status, public_key=public_key,
        kinds=[k.value for k in PUSH_KINDS], preferences={k.value: on for k, on in found.preferences.items()},
        devices=devices, notice=notice, notice_bad=bad,
    )  # fmt: skip


async def notifications_page(request: web.Request) -> web.Response:
    return await _page(request)


async def save_preferences(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    await checked_form(request)
    chosen = {str(value) for value in form.getall("kind", [])}
    enabled = {kind for kind in PushKind if kind.value in chosen}
    vendor_id, phone = _who(request)
    await push_subscriptions.set_preferences(
        request.app[uow_key], vendor_id, phone, enabled, request.app[clock_key]()
    )
    raise web.HTTPSeeOther(f"{PAGE}?saved=1")


async def subscribe(request: web.Request) -> web.Response:
    """The page's script posts the browser's subscription here (with the CSRF token, like every form)."""
    form = await checked_form(request)
    vendor_id, phone = _who(request)
    try:
        await push_subscriptions.subscribe(
            request.app[uow_key], vendor_id, phone,
            form.get("endpoint", ""), form.get("p256dh", ""), form.get("auth", ""),
            request.app[settings_key].push_hosts, request.app[clock_key](),
        )  # fmt: skip
    except push_subscriptions.SubscriptionRefused as refused:
        said = words(page_locale(request), "push")["refused"][refused.reason]
        log.info("a push subscription was refused: %s", refused.reason)
        if _wants_json(request):
            return web.json_response({"ok": False, "error": said}, status=400, headers=NO_STORE)
        return await _page(request, notice=said, bad=True, status=400)
    if _wants_json(request):
        return web.json_response({"ok": True}, headers=NO_STORE)
    raise web.HTTPSeeOther(PAGE)


async def unsubscribe(request: web.Request) -> web.Response:
    form = await checked_form(request)
    vendor_id, phone = _who(request)
    await push_subscriptions.unsubscribe(request.app[uow_key], vendor_id, phone, form.get("endpoint", ""))
    if _wants_json(request):
        return web.json_response({"ok": True}, headers=NO_STORE)
    raise web.HTTPSeeOther(f"{PAGE}?removed=1")


def push_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get(WORKER, service_worker),
        web.get(PAGE, notifications_page),
        web.post(PAGE, save_preferences),
        web.post(f"{PAGE}/subscribe", subscribe),
        web.post(f"{PAGE}/unsubscribe", unsubscribe),
    ]
