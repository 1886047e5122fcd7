"""The dashboard's customers (``/admin/customers``, roadmap step 5): a list with search (name, phone,
email) and pages, each customer's orders count, last order and client sync state; a customer's page with
an edit form (name, email, language) checked on the server, each error beside its field. A save goes
through ``change_customer`` (the validation of ``bot customer set``) and syncs the change to the
provider's clients. Another vendor's customer is the same 404 as an unknown one."""

from __future__ import annotations

import uuid

from aiohttp import web

from bot.domain.customer import Customer, apply_customer_setting
from bot.domain.errors import DomainError
from bot.domain.vendor import CUSTOMER_LOCALES
from bot.rendering import explain
from bot.services import customer_sync, customers as customer_service
from bot.web.admin.orders import not_found
from bot.web.admin.session import checked_form, current
from bot.web.admin.ui import page_locale, render_admin
from bot.web.keys import payments_key, uow_key

_MAX_SEARCH = 100
FIELDS = ("name", "email", "locale")


def _page(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 7 else 1


def _customer_id(request: web.Request) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.match_info.get("customer_id", ""))
    except ValueError:
        return None


async def customers_page(request: web.Request) -> web.Response:
    admin = current(request)
    found = await customer_service.customers_page(
        request.app[uow_key],
        admin.vendor,
        search=(request.query.get("q") or "")[:_MAX_SEARCH],
        page=_page(request.query.get("page")),
    )
    return render_admin(request, "customers", "customers", found=found)


async def _render_customer(
    request: web.Request,
    customer: Customer,
    *,
    status: int = 200,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> web.Response:
    values = {"name": customer.name or "", "email": customer.email or "", "locale": customer.locale or ""}
    values.update(typed or {})
    return render_admin(
        request, "customer", "customers", status=status, customer=customer, values=values,
        errors=errors or {}, locales=CUSTOMER_LOCALES, saved=request.query.get("done") == "saved",
    )  # fmt: skip


async def _own_customer(request: web.Request) -> Customer | None:
    customer_id = _customer_id(request)
    if customer_id is None:
        return None
    admin = current(request)
    return await customer_service.customer_of_vendor(request.app[uow_key], admin.vendor, customer_id)


async def customer_page(request: web.Request) -> web.Response:
    customer = await _own_customer(request)
    if customer is None:
        return not_found(request)
    return await _render_customer(request, customer)


def field_errors(customer: Customer, typed: dict[str, str], locale: str) -> dict[str, str]:
    """Each field checked on its own (on a copy), so every error shows beside its own field."""
    errors: dict[str, str] = {}
    for key, value in typed.items():
        trial = Customer(customer.id, customer.vendor_id, customer.phone, customer.created_at)
        try:
            apply_customer_setting(trial, key, value, CUSTOMER_LOCALES)
        except DomainError as error:
            errors[key] = explain(error, locale)
    return errors


async def save_customer(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    customer = await _own_customer(request)
    if customer is None:
        return not_found(request)
    typed = {key: form.get(key, "").strip() for key in FIELDS}
    errors = field_errors(customer, typed, page_locale(request))
    if errors:
        return await _render_customer(request, customer, status=400, typed=typed, errors=errors)
    admin = current(request)
    pairs = [(key, value or ("default" if key == "locale" else "")) for key, value in typed.items()]
    await customer_sync.change_customer(request.app[payments_key], admin.vendor, customer.contact, pairs)
    raise web.HTTPSeeOther(f"/admin/customers/{customer.id}?done=saved")


def customer_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/admin/customers", customers_page),
        web.get("/admin/customers/{customer_id}", customer_page),
        web.post("/admin/customers/{customer_id}", save_customer),
    ]
