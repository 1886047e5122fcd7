"""The vendor's own wording of a message in the dashboard: what it may contain (the message's data,
conditions and loops; rendered in Jinja's sandbox as well), and its preview from sample data built on
the vendor's own settings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateError, TemplateSyntaxError, UndefinedError, meta, nodes

from bot.domain.guarantee import HOLD_WINDOW_DAYS
from bot.domain.money import Money, shown
from bot.domain.vendor import ALL_LOCALES, TEXT_PREFIX, Vendor
from bot.rendering import environment, render, render_wording
from bot.services.guarantee_messages import when
from bot.web.admin.ui import words

# The vendor's own wording: only the data, conditions and loops of a message. A dashboard admin is not a
# server operator: no method calls, no names starting with "_", no filters reaching attributes.

_SAFE_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.If, nodes.For,
    nodes.Assign, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos,
    nodes.Add, nodes.Sub, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Concat, nodes.CondExpr,
    nodes.Tuple, nodes.List, nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test,
    nodes.FilterBlock,
)  # fmt: skip
# Filter -> how many arguments it may take: none of these reads attributes, calls anything or makes a text
# much longer than its input (no "*", no |center(10**9)).
_SAFE_FILTERS = {
    "upper": 0, "lower": 0, "title": 0, "capitalize": 0, "trim": 1, "striptags": 0, "default": 2, "d": 2,
    "length": 0, "count": 0, "first": 0, "last": 0, "join": 1, "replace": 3, "round": 2, "int": 2,
    "float": 1, "string": 0, "truncate": 4, "wordwrap": 3, "abs": 0, "list": 0,
    "reverse": 0, "e": 0, "escape": 0,
}  # fmt: skip
_SAFE_TESTS = frozenset(
    {"defined", "undefined", "none", "number", "string", "true", "false", "divisibleby", "even", "odd",
     "eq", "ne", "lt", "le", "gt", "ge", "in", "equalto", "sameas", "boolean", "integer", "float"}
)  # fmt: skip


def _unsafe(node: nodes.Node) -> str | None:
    """What in ``node`` a message may not use, or None."""
    if not isinstance(node, _SAFE_NODES):
        return type(node).__name__
    if isinstance(node, nodes.Name) and node.name.startswith("_"):
        return node.name
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f".{node.attr}"
    if isinstance(node, nodes.Getitem):
        key = node.arg
        if isinstance(key, nodes.Const) and not (isinstance(key.value, str) and key.value.startswith("_")):
            return None
        if isinstance(key, nodes.Slice):
            return None
        return "[...]"
    if isinstance(node, nodes.Filter | nodes.Test) and (node.kwargs or node.dyn_args or node.dyn_kwargs):
        return f"|{node.name}(...)"
    if isinstance(node, nodes.Filter):
        allowed = _SAFE_FILTERS.get(node.name)
        if allowed is None or len(node.args) > allowed:
            return f"|{node.name}"
    if isinstance(node, nodes.Test) and node.name not in _SAFE_TESTS:
        return f"is {node.name}"
    return None


@dataclass(frozen=True, slots=True)
class WordingProblem:
    """Why a vendor's wording cannot be used, in the reader's language."""

    message: str


def wording_problem(text: str, locale: str) -> WordingProblem | None:
    said = words(locale, "settings")
    try:
        tree = environment().parse(text)
    except TemplateSyntaxError as error:
        return WordingProblem(said["wording_syntax"].format(line=error.lineno, message=error.message))
    for node in tree.find_all(nodes.Node):
        what = _unsafe(node)
        if what is not None:
            return WordingProblem(said["wording_unsafe"].format(what=what))
    return None


# Previews: a message rendered from sample data built on the vendor's own settings


def sample_context(vendor: Vendor, kind: str, locale: str, now: datetime, base_url: str) -> dict[str, Any]:
    """What the services pass to message ``kind``, with sample values in the vendor's currency, time
    zone and settings (an order of 150 with the vendor's deposit percent: 45.00 of 150 at 30%)."""
    price = Money(Decimal(150), vendor.currency)
    deposit = price.percent(vendor.payment.deposit_percent)
    guarantee = vendor.payment.guarantee
    provider = vendor.payment.provider.value
    customer = "+33699887766"
    label = str(words(locale, "settings")["sample_label"])
    order, other = "#12", "#13"

    def money(amount: Money) -> str:
        return shown(amount, locale)

    context: dict[str, Any] = {
        "vendor_name": vendor.name, "order": order, "number": 12, "label": label, "customer": customer,
        "to": customer, "amount": money(deposit), "price": money(price), "paid": money(deposit),
        "balance": money(price - deposit), "net": money(deposit), "refunded": money(price - price),
        "balance_due": True, "covered": False, "kind": "acompte", "method": "card", "cash": False,
        "url": f"{base_url.rstrip('/')}/pay/{provider}/sample", "code": "123456",
        "requested": now.astimezone(ZoneInfo(vendor.timezone)).strftime("%d/%m/%Y"),
        "days": guarantee.release_days,
        "release_on": when(now + guarantee.release_after(provider), vendor, locale),
        "lapses": when(now + timedelta(days=HOLD_WINDOW_DAYS.get(provider, 7)), vendor, locale),
        "card_on_file": False, "minutes": vendor.payment.hold_minutes, "docnum": "1001",
        "doctype": vendor.payment.invoice_doctype.value, "provider": provider, "reference": "ref_12",
        "reason": "days", "detail": None, "retry_same_link": True, "reopened": False, "outside": False,
        "preview": label, "count": 2, "more": 0,
        "listed": [
            {"order": order, "amount": money(deposit), "customer": customer},
            {"order": other, "amount": money(price), "customer": "+33611223344"},
        ],
    }  # fmt: skip
    if kind == "vendor_delivery_failed":
        context.update(kind="payment_reminder", reason="no_template")
    elif kind == "vendor_payment_anomaly":
        context["reason"] = "already_paid"
    return context


@lru_cache(maxsize=256)
def message_data(kind: str) -> tuple[str, ...]:
    """The data our own wording of ``kind`` uses, in any language: what a vendor's wording may use."""
    env = environment()
    found: set[str] = set()
    for locale in ALL_LOCALES:
        name = f"{locale}/messages/{kind}.j2"
        if name in env.list_templates(extensions=["j2"]):
            source = env.loader.get_source(env, name)[0] if env.loader is not None else ""
            found |= meta.find_undeclared_variables(env.parse(source))
    return tuple(sorted(found))


@dataclass(frozen=True, slots=True)
class Preview:
    key: str
    ok: bool
    text: str


def preview(vendor: Vendor, kind: str, locale: str, text: str, now: datetime, base_url: str) -> Preview:
    """The message as the customer (or the vendor) would read it; our own wording when ``text`` is empty."""
    key = f"{TEXT_PREFIX}{kind}.{locale}"
    said = words(vendor.locale, "settings")
    context = sample_context(vendor, kind, locale, now, base_url)
    if not text.strip():
        return Preview(key, True, render(f"messages/{kind}", locale, **context))
    problem = wording_problem(text, vendor.locale)
    if problem is not None:
        return Preview(key, False, problem.message)
    try:
        return Preview(key, True, render_wording(text, **context))
    except UndefinedError as error:
        name = re.search(r"'([^']+)' is undefined", error.message or "")
        return Preview(
            key,
            False,
            said["wording_undefined"].format(
                name=name.group(1) if name else error.message, names=", ".join(message_data(kind))
            ),
        )
    except (TemplateError, ArithmeticError, TypeError, ValueError) as error:
        return Preview(key, False, said["wording_failed"].format(message=str(error)))
