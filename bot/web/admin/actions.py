"""The order page's buttons: each calls the service the chat uses, after the same confirmation.

An action that moves money is posted twice: ``step=review`` shows the confirmation dialog with the amount
the service worked out (in the chat's own words), ``step=send`` does it. The dialog carries the amount it
showed, so a page that went stale meanwhile is refused instead of asking for another amount. A refusal is
the order page again with the reason; a success goes back to it with a notice (post, redirect, get).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from bot.domain.deposit import AskKind
from bot.domain.errors import DomainError, InputError, MoneyError
from bot.domain.money import parse_amount, shown
from bot.domain.vendor import Vendor
from bot.payments.port import ProviderError
from bot.rendering import explain, render
from bot.services import (
    acceptance,
    cash as cash_service,
    closing,
    conversations,
    dashboard,
    guarantees,
    orders as order_service,
    payments,
    refunds,
)
from bot.services.context import PaymentDeps
from bot.web.admin.orders import not_found, order_number, render_order
from bot.web.admin.session import checked_form, current
from bot.web.admin.ui import page_locale, words
from bot.web.keys import payments_key, sender_key

log = logging.getLogger(__name__)
_MAX_FIELD = 20
# A dialog left open longer is looked at again before anything is done.
CONFIRM_LIFETIME = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Confirmation:
    """The dialog asking the vendor to confirm: its text, where it posts and what it posts again."""

    action: str
    paragraphs: list[str]
    fields: dict[str, str] = field(default_factory=dict)
    danger: bool = False


class Refused(Exception):
    """A refusal the dashboard words itself (``orders.j2``'s ``refused_<key>``)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True, slots=True)
class Posted:
    deps: PaymentDeps
    vendor: Vendor
    phone: str
    number: int
    form: dict[str, str]
    locale: str

    def text(self, name: str) -> str | None:
        value = self.form.get(name, "").strip()[:_MAX_FIELD]
        return value or None

    @property
    def reviewing(self) -> bool:
        return self.form.get("step") != "send"

    def word(self, key: str) -> str:
        return str(words(self.locale, "orders")[key])

    def confirming(self, action: str, text: str, danger: bool = False, **fields: str) -> Confirmation:
        paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
        return Confirmation(action, paragraphs, fields, danger)


# An action returns the dialog to show, or the notice of what it did.
Action = Callable[[Posted], Awaitable[Confirmation | str]]


async def _accept(posted: Posted) -> str:
    await acceptance.accept_order(posted.deps, posted.vendor, posted.number)
    return "accepted"


async def _pay(posted: Posted) -> Confirmation | str:
    """The Payé modal: Paiement complet or Acompte (an amount or a percent), then the seed's dialog."""
    try:
        ask = AskKind(posted.form.get("kind", ""))
    except ValueError:
        raise Refused("kind") from None
    typed = posted.text("amount") if ask is AskKind.DEPOSIT else None
    if ask is AskKind.DEPOSIT and typed is None:
        raise Refused("amount")
    seen = await payments.preview_request(posted.deps, posted.vendor, posted.number, ask, typed)
    amount = f"{seen.amount.amount}"
    if posted.reviewing:
        text = render(
            "chat/confirm",
            posted.locale,
            kind=seen.kind.value,
            amount=seen.amount,
            instagram=seen.on_instagram,
        )
        return posted.confirming("pay", text, kind=ask.value, amount=amount, shown=amount)
    if ask is not AskKind.DEPOSIT and posted.text("shown") != amount:
        raise Refused("stale")
    exact = parse_amount(amount, seen.amount.currency) if ask is AskKind.DEPOSIT else None
    await payments.request_payment(posted.deps, posted.vendor, posted.number, ask, exact)
    try:
        # guarantee_mode=required: the guarantee is asked with the order's payment request, as in chat.
        await guarantees.required_guarantee(posted.deps, posted.vendor, posted.number)
    except DomainError as error:
        log.info("required guarantee of order %s not asked: %s", posted.number, error.code)
    return "requested"


async def _cash(posted: Posted) -> Confirmation | str:
    """ "Payé caisse": by default all that is left to pay."""
    typed = posted.text("amount")
    if posted.reviewing:
        if typed is None:
            detail = await dashboard.order_page(posted.deps.uow, posted.vendor, posted.number)
            if detail.cash_amount is None:
                raise Refused("nothing_to_cash")
            money = detail.cash_amount
        else:
            money = parse_amount(typed, posted.vendor.currency)
        text = posted.word("cash_confirm").format(amount=shown(money, posted.locale))
        return posted.confirming("cash", text, amount=f"{money.amount}")
    await cash_service.record_cash_payment(posted.deps, posted.vendor, posted.number, typed)
    return "cash"


async def _refund(posted: Posted) -> Confirmation | str:
    typed = posted.text("amount")
    if posted.reviewing:
        seen = await refunds.preview(posted.deps, posted.vendor, posted.number, typed)
        parts = [
            {"kind": t.type.value, "amount": share, "method": t.payment_method, "provider": t.provider}
            for t, share in seen.plan.parts
        ]
        text = render(
            "chat/refund_confirm", posted.locale, order=seen.order.reference, amount=seen.amount,
            paid=seen.paid, refunded=seen.refunded, available=seen.available, parts=parts,
        )  # fmt: skip
        return posted.confirming("refund", text, danger=True, amount=f"{seen.amount.amount}")
    await refunds.refund(posted.deps, posted.vendor, posted.number, typed, requested_by=f"+{posted.phone}")
    return "refunded"


async def _cancel(posted: Posted) -> Confirmation | str:
    if posted.reviewing:
        return posted.confirming("cancel", posted.word("cancel_confirm"), danger=True)
    await closing.cancel_requests(posted.deps, posted.vendor, posted.number)
    return "cancelled"


async def _ship(posted: Posted) -> str:
    deps = posted.deps
    await order_service.advance_order(deps.uow, posted.vendor, posted.number, "ship", deps.clock())
    return "shipped"


async def _complete(posted: Posted) -> str:
    await order_service.advance_order(
        posted.deps.uow, posted.vendor, posted.number, "complete", posted.deps.clock()
    )
    return "completed"


async def _guarantee(posted: Posted) -> str:
    await guarantees.request_guarantee(posted.deps, posted.vendor, posted.number, posted.text("amount"))
    return "guarantee_requested"


async def _capture(posted: Posted) -> Confirmation | str:
    typed = posted.text("amount")
    if posted.reviewing:
        seen = await guarantees.preview_capture(posted.deps, posted.vendor, posted.number, typed)
        held = seen.guarantee.held or seen.guarantee.amount
        rest = held - seen.amount if held > seen.amount else None
        text = render(
            "chat/capture_confirm", posted.locale, amount=seen.amount, held=held, order=seen.order.reference,
            rest=rest, card_on_file=seen.guarantee.card_on_file,
        )  # fmt: skip
        return posted.confirming("capture", text, danger=True, amount=f"{seen.amount.amount}")
    amount = None if typed is None else parse_amount(typed, posted.vendor.currency)
    await guarantees.capture_guarantee(posted.deps, posted.vendor, posted.number, amount)
    return "guarantee_captured"


async def _release(posted: Posted) -> Confirmation | str:
    if posted.reviewing:
        return posted.confirming("release", posted.word("release_confirm"), danger=True)
    await guarantees.release_guarantee(posted.deps, posted.vendor, posted.number)
    return "guarantee_released"


def confirmation_key(session_id: uuid.UUID) -> str:
    """Whose dialog is pending: one per browser session (not per phone, so that a dashboard dialog never
    takes the place of the admin's chat flow), in the store as the chat's confirmations are."""
    return f"web:{session_id.hex[:16]}"


def _flow(action: str) -> str:
    return f"dashboard_{action}"


async def _remember(posted: Posted, key: str, confirmation: Confirmation) -> None:
    state = {"order": posted.number, **confirmation.fields}
    await conversations.start(
        posted.deps.uow, posted.vendor.id, key, _flow(confirmation.action), state, posted.deps.clock(),
        CONFIRM_LIFETIME,
    )  # fmt: skip


async def _take(posted: Posted, key: str, action: str) -> None:
    """The dialog's answer, once: a second click, a reload or another tab's older dialog finds nothing."""
    deps = posted.deps
    taken = await conversations.take(deps.uow, posted.vendor.id, key, _flow(action), deps.clock())
    if taken is None or taken.state.get("order") != posted.number:
        raise Refused("stale")
    for name, value in taken.state.items():
        if name != "order" and posted.form.get(name) != value:
            raise Refused("stale")


# The actions done only once their dialog is confirmed.
CONFIRMED = frozenset({"pay", "cash", "refund", "cancel", "capture", "release"})

ACTIONS: dict[str, Action] = {
    "accept": _accept, "pay": _pay, "cash": _cash, "refund": _refund, "cancel": _cancel, "ship": _ship,
    "complete": _complete, "guarantee": _guarantee, "capture": _capture, "release": _release,
}  # fmt: skip


def _problem(error: Exception, locale: str) -> tuple[int, str]:
    """The status and the words of a refusal: never a 500 for what the vendor or a provider did."""
    if isinstance(error, Refused):
        return 400, str(words(locale, "orders")[f"refused_{error.key}"])
    if isinstance(error, InputError | MoneyError):
        return 400, explain(error, locale)
    if isinstance(error, DomainError):
        return 409, explain(error, locale)
    return 502, str(words(locale, "orders")["refused_provider"])


async def order_action(request: web.Request) -> web.StreamResponse:
    number = order_number(request)
    action = ACTIONS.get(request.match_info.get("action", ""))
    if number is None or action is None:
        return not_found(request)
    form = await checked_form(request)
    admin = current(request)
    if admin.vendor is None:  # pragma: no cover - the middleware sends them to pick one first
        raise web.HTTPFound("/admin/vendors")
    locale = page_locale(request)
    posted = Posted(request.app[payments_key], admin.vendor, admin.phone, number, form, locale)
    name = request.match_info["action"]
    key = confirmation_key(admin.id)
    try:
        if name in CONFIRMED and not posted.reviewing:
            await _take(posted, key, name)
        result = await action(posted)
        if isinstance(result, Confirmation):
            await _remember(posted, key, result)
    except (DomainError, Refused, ProviderError) as error:
        status, message = _problem(error, locale)
        if isinstance(error, ProviderError):
            log.warning("dashboard action %s on order %s: %s", name, number, error)
        return await render_order(request, number, status=status, error=message)
    if isinstance(result, Confirmation):
        return await render_order(request, number, confirm=result)
    if sender_key in request.app:
        request.app[sender_key].wake()  # the customer's message is committed: it need not wait
    raise web.HTTPSeeOther(f"/admin/orders/{number}?done={result}")


def action_routes() -> list[web.AbstractRouteDef]:
    return [web.post("/admin/orders/{number}/{action}", order_action)]
