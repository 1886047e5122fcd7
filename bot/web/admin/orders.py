"""The dashboard's pages that look things over: home, the orders list and one order's page."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.domain.errors import OrderNotFound
from bot.domain.order import OrderStatus
from bot.rendering import explain
from bot.services import dashboard
from bot.web.admin.session import current
from bot.web.admin.ui import page_locale, render_admin
from bot.web.keys import clock_key, uow_key

# The notices an action leaves for the page it goes back to (``?done=...``): anything else is ignored.
DONE = frozenset(
    {
        "accepted", "requested", "cash", "refunded", "cancelled", "shipped", "completed",
        "guarantee_requested", "guarantee_captured", "guarantee_released",
    }
)  # fmt: skip
_MAX_SEARCH = 100


def not_found(request: web.Request) -> web.Response:
    """The dashboard's own 404, in the vendor's language: an unknown order and another vendor's look
    the same."""
    return render_admin(request, "not_found", "common", status=404)


def order_number(request: web.Request) -> int | None:
    text = request.match_info.get("number", "")
    if not text.isdigit() or len(text) > 9:
        return None
    return int(text)


async def home_page(request: web.Request) -> web.Response:
    admin = current(request)
    stats = await dashboard.home(request.app[uow_key], admin.vendor, request.app[clock_key]())
    return render_admin(request, "home", "orders", stats=stats)


def _status(text: str | None) -> OrderStatus | None:
    try:
        return OrderStatus(text) if text else None
    except ValueError:
        return None


def _page(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 7 else 1


async def orders_page(request: web.Request) -> web.Response:
    admin = current(request)
    search = (request.query.get("q") or "")[:_MAX_SEARCH]
    found = await dashboard.list_orders(
        request.app[uow_key], admin.vendor, status=_status(request.query.get("status")), search=search,
        page=_page(request.query.get("page")),
    )  # fmt: skip
    return render_admin(request, "orders", "orders", found=found, statuses=list(OrderStatus))


async def render_order(
    request: web.Request, number: int, *, status: int = 200, **context: Any
) -> web.Response:
    """The order's page as it is now, with a notice, an error or a dialog to confirm in ``context``."""
    admin = current(request)
    try:
        detail = await dashboard.order_page(request.app[uow_key], admin.vendor, number)
    except OrderNotFound:
        return not_found(request)
    done = request.query.get("done")
    context.setdefault("done", done if done in DONE else None)
    context.setdefault("error", None)
    context.setdefault("confirm", None)
    locale = page_locale(request)
    refused = None if detail.refusal is None else explain(detail.refusal, locale)
    # Without JavaScript, ``?pay=1`` is the Payé button: the page comes with its modal open.
    paying = request.query.get("pay") == "1" and context["confirm"] is None
    return render_admin(
        request, "order", "orders", status=status, detail=detail, refused=refused, paying=paying, **context
    )


async def order_page(request: web.Request) -> web.Response:
    number = order_number(request)
    if number is None:
        return not_found(request)
    return await render_order(request, number)


async def unknown_page(request: web.Request) -> web.Response:
    return not_found(request)


def view_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/admin", home_page),
        web.get("/admin/orders", orders_page),
        web.get("/admin/orders/{number}", order_page),
    ]
