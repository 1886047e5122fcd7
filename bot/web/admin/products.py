"""The products page (``/admin/products``, roadmap step 4): the catalogue with sort and filter, each
product's sync state (synced, pending, or failed with the provider's reason), a create and edit dialog
(``?new=1``, ``?edit=SKU``: the server opens it, so it works without JavaScript), checked field by field
with the message next to the field, and "Désactiver" (and "Réactiver") instead of deleting.

A change is saved, then synced to the vendor's provider in the background (the products job retries what
the provider refused): the page shows it pending until then.
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.domain.errors import DomainError, DuplicateSku, ProductNotFound
from bot.domain.product import Product, checked_sku
from bot.domain.vendor import Vendor
from bot.rendering import explain
from bot.services import products as product_service
from bot.services.context import PaymentDeps
from bot.services.products import NewProduct
from bot.web.admin.session import checked_form, current
from bot.web.admin.ui import page_locale, render_admin
from bot.web.keys import payments_key, tasks_key

log = logging.getLogger(__name__)
SORTS = ("name", "sku", "price")
SHOWN = ("active", "disabled", "all")
DONE = frozenset({"added", "changed", "disabled", "enabled"})
_MAX_SEARCH = 100
_MAX_FIELD = {"sku": 64, "name": 200, "price": 20, "description": 2000}


def folded(text: str | None) -> str:
    """Text as sorting and searching read it: case and accents aside (Éclair before Gâteau)."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def _vendor(request: web.Request) -> Vendor:
    vendor = current(request).vendor
    if vendor is None:  # pragma: no cover - the middleware sends an admin of several to pick one first
        raise web.HTTPFound("/admin/vendors")
    return vendor


@dataclass(frozen=True, slots=True)
class Listing:
    search: str
    shown: str
    sort: str
    descending: bool

    @classmethod
    def of(cls, request: web.Request) -> Listing:
        query = request.query
        shown = query.get("show", "active")
        sort = query.get("sort", "name")
        return cls(
            search=(query.get("q") or "").strip()[:_MAX_SEARCH],
            shown=shown if shown in SHOWN else "active",
            sort=sort if sort in SORTS else "name",
            descending=query.get("dir") == "desc",
        )

    def keeps(self, product: Product) -> bool:
        if self.shown == "active" and not product.active:
            return False
        if self.shown == "disabled" and product.active:
            return False
        text = folded(self.search)
        return not text or any(text in folded(part) for part in (product.sku, product.name))

    def ordered(self, found: list[Product]) -> list[Product]:
        keys: dict[str, Callable[[Product], Any]] = {
            "name": lambda p: (folded(p.name), folded(p.sku)),
            "sku": lambda p: folded(p.sku),
            "price": lambda p: (p.unit_price.amount, folded(p.name)),
        }
        return sorted((p for p in found if self.keeps(p)), key=keys[self.sort], reverse=self.descending)

    def link(self, **changes: str) -> str:
        """This list's address with ``changes`` (the sort links, the dialogs' "back")."""
        params = {
            "q": self.search,
            "show": self.shown,
            "sort": self.sort,
            "dir": "desc" if self.descending else "",
        }
        params.update(changes)
        kept = {key: value for key, value in params.items() if value and (key, value) not in _DEFAULTS}
        return "/admin/products" + (f"?{urlencode(kept)}" if kept else "")

    def sort_link(self, key: str) -> str:
        flip = "desc" if key == self.sort and not self.descending else ""
        return self.link(sort=key, dir=flip)


_DEFAULTS = {("show", "active"), ("sort", "name")}


@dataclass
class Draft:
    """The dialog's fields as typed, and the message next to each one that was refused."""

    sku: str = ""
    name: str = ""
    price: str = ""
    description: str = ""
    vat_included: bool = True
    errors: dict[str, str] | None = None

    @classmethod
    def of(cls, product: Product) -> Draft:
        return cls(product.sku, product.name, f"{product.unit_price.amount}", product.description or "",
                   product.vat_included)  # fmt: skip

    @classmethod
    def posted(cls, form: dict[str, str]) -> Draft:
        def field(name: str) -> str:
            return form.get(name, "").strip()[: _MAX_FIELD[name]]

        return cls(
            field("sku"),
            field("name"),
            field("price"),
            field("description"),
            form.get("vat_included") == "on",
        )


async def render_products(
    request: web.Request, *, status: int = 200, editing: Product | None = None, draft: Draft | None = None,
    creating: bool = False, error: str | None = None,
) -> web.Response:  # fmt: skip
    vendor = _vendor(request)
    listing = Listing.of(request)
    deps: PaymentDeps = request.app[payments_key]
    every = await product_service.list_products(deps.uow, vendor, include_disabled=True)
    done = request.query.get("done")
    if draft is None and not creating and editing is None:
        if request.query.get("new") == "1":
            creating, draft = True, Draft()
        elif (sku := request.query.get("edit")) is not None:
            editing = next((p for p in every if p.sku.lower() == sku.strip().lower()), None)
            draft = None if editing is None else Draft.of(editing)
    return render_admin(
        request, "products", "products", status=status, products=listing.ordered(every), listing=listing,
        total=len(every), currency=vendor.currency, back=listing.link(),
        query=listing.link().removeprefix("/admin/products"), creating=creating, editing=editing, draft=draft,
        errors=(draft.errors if draft and draft.errors else {}), done=done if done in DONE else None,
        error=error,
    )  # fmt: skip


async def products_page(request: web.Request) -> web.Response:
    return await render_products(request)


def _field_errors(draft: Draft, currency: str, locale: str, *, with_sku: bool) -> dict[str, str]:
    """Each field checked on its own, so that every refused one gets its message."""
    checks: dict[str, Callable[[], object]] = {
        "name": lambda: product_service.checked_name(draft.name),
        "price": lambda: product_service.parse_price(draft.price, currency),
        "description": lambda: product_service.checked_description(draft.description),
    }
    if with_sku:
        checks = {"sku": lambda: checked_sku(draft.sku), **checks}
    errors = {}
    for name, check in checks.items():
        try:
            check()
        except DomainError as refused:
            errors[name] = explain(refused, locale)
    return errors


def _sync_later(request: web.Request, product_id: uuid.UUID) -> None:
    """The provider is told in the background: the page need not wait for it (the job retries refusals)."""
    if tasks_key in request.app:
        request.app[tasks_key].spawn(product_service.sync_product(request.app[payments_key], product_id))


async def create_product(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    vendor = _vendor(request)
    locale = page_locale(request)
    deps: PaymentDeps = request.app[payments_key]
    draft = Draft.posted(form)
    draft.errors = _field_errors(draft, vendor.currency, locale, with_sku=True)
    if not draft.errors:
        new = NewProduct(draft.sku, draft.name, draft.price, draft.description, draft.vat_included)
        try:
            product = await product_service.add_product(deps.uow, vendor, new, deps.clock())
        except DuplicateSku as duplicate:
            draft.errors = {"sku": explain(duplicate, locale)}
        except DomainError as refused:  # pragma: no cover - every field was checked above
            draft.errors = {"name": explain(refused, locale)}
        else:
            _sync_later(request, product.id)
            raise web.HTTPSeeOther(Listing.of(request).link(done="added"))
    return await render_products(request, status=400, creating=True, draft=draft)


async def _product(request: web.Request) -> Product | None:
    deps: PaymentDeps = request.app[payments_key]
    try:
        return await product_service.show_product(deps.uow, _vendor(request), request.match_info["sku"])
    except ProductNotFound:
        return None


async def edit_product(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    vendor = _vendor(request)
    product = await _product(request)
    if product is None:
        return render_admin(request, "not_found", "common", status=404)
    locale = page_locale(request)
    deps: PaymentDeps = request.app[payments_key]
    draft = Draft.posted(form)
    draft.sku = product.sku
    draft.errors = _field_errors(draft, vendor.currency, locale, with_sku=False)
    if not draft.errors:
        pairs = [
            ("name", draft.name), ("description", draft.description), ("price", draft.price),
            ("vat_included", "on" if draft.vat_included else "off"),
        ]  # fmt: skip
        changed = await product_service.change_product(deps.uow, vendor, product.sku, pairs, deps.clock())
        _sync_later(request, changed.id)
        raise web.HTTPSeeOther(Listing.of(request).link(done="changed"))
    return await render_products(request, status=400, editing=product, draft=draft)


async def _set_active(request: web.Request, active: bool) -> web.StreamResponse:
    await checked_form(request)
    vendor = _vendor(request)
    product = await _product(request)
    if product is None:
        return render_admin(request, "not_found", "common", status=404)
    deps: PaymentDeps = request.app[payments_key]
    pairs = [("active", "on" if active else "off")]
    changed = await product_service.change_product(deps.uow, vendor, product.sku, pairs, deps.clock())
    _sync_later(request, changed.id)
    raise web.HTTPSeeOther(Listing.of(request).link(done="enabled" if active else "disabled"))


async def disable_product(request: web.Request) -> web.StreamResponse:
    return await _set_active(request, False)


async def enable_product(request: web.Request) -> web.StreamResponse:
    return await _set_active(request, True)


def product_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/admin/products", products_page),
        web.post("/admin/products", create_product),
        web.post("/admin/products/{sku}/edit", edit_product),
        web.post("/admin/products/{sku}/disable", disable_product),
        web.post("/admin/products/{sku}/enable", enable_product),
    ]
