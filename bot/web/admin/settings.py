"""The payment settings page (``/admin/settings``, roadmap step 3): one form per section, each saved
all or nothing through ``change_settings`` (the validation of ``bot vendor set``) and written to the
audit log under the admin's phone; credentials stored encrypted and never shown back; "Tester la
connexion"; and a preview of the vendor's own wording of each message, rendered from sample data.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.domain.deposit import DepositMode
from bot.domain.errors import (
    DomainError,
    SecretKeyRequired,
    UnknownTimezone,
    UnsupportedLocale,
)
from bot.domain.guarantee import GuaranteeMode
from bot.domain.order import ConfirmationRule
from bot.domain.vendor import (
    ALL_LOCALES,
    SECRET_SETTINGS,
    TEMPLATE_PREFIX,
    TEXT_PREFIX,
    VENDOR_LOCALES,
    ProviderName,
    Vendor,
    apply_setting,
    describe_settings,
)
from bot.payments.credentials import CredentialCipher
from bot.rendering import environment, explain, render
from bot.services import providers as provider_service, vendors as vendor_service
from bot.web.admin.session import checked_form, current
from bot.web.admin.ui import page_locale, render_admin, words
from bot.web.admin.wording import Preview, message_data, preview, wording_problem
from bot.web.keys import clock_key, payments_key, settings_key, uow_key

log = logging.getLogger(__name__)

# The credential form, by provider: every key is sealed with SECRET_KEY and never shown back.
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "icount": (
        "icount_cid", "icount_user", "icount_pass", "icount_api_token", "icount_paypage_id",
        "icount_guarantee_paypage_id", "icount_save_card_paypage_id",
    ),
    "stripe": ("stripe_api_key", "stripe_webhook_secret"),
}  # fmt: skip
CREDENTIAL_KEYS = tuple(key for keys in CREDENTIALS.values() for key in keys)
# Typed, not shown as they are typed (the others are identifiers: cid, user, pay page ids).
HIDDEN_TYPING = frozenset({"icount_pass", "icount_api_token", "stripe_api_key", "stripe_webhook_secret"})
CHECKBOXES = frozenset({"saved_cards", "reminders"})
# Chat replies go out as messages of these kinds too (an approved template each, outside 24 hours).
CHAT_KINDS = ("customer_reply", "vendor_reply", "vendor_customer_message")
# Parts of other messages, not messages of their own.
NOT_MESSAGES = frozenset({"transaction_kind", "transaction_label"})
HISTORY_ROWS = 50
# "Tester la connexion" answers within this time, whatever the provider (Stripe's client alone may retry
# for a minute and more).
CHECK_TIMEOUT_SECONDS = 15.0


# The customer's messages in the order a payment goes; the others (the vendor's) by name after them.
_FIRST = (
    "payment_request", "payment_reminder", "payment_receipt", "payment_refunded", "invoice_issued",
    "guarantee_request", "guarantee_held", "guarantee_released",
)  # fmt: skip


def _customers_first(kind: str) -> tuple[int, str]:
    return (_FIRST.index(kind) if kind in _FIRST else len(_FIRST)), kind


@lru_cache(maxsize=1)
def message_kinds() -> tuple[str, ...]:
    """Every message of ``bot/templates/<locale>/messages/``: the customer's first, then the vendor's."""
    names = {
        name.rsplit("/", 1)[-1].removesuffix(".j2")
        for name in environment().list_templates(extensions=["j2"])
        if name.split("/")[0] in ALL_LOCALES and name.split("/")[1:2] == ["messages"]
    }
    return tuple(sorted(names - NOT_MESSAGES, key=_customers_first))


def template_kinds() -> tuple[str, ...]:
    return (*message_kinds(), *CHAT_KINDS)


@lru_cache(maxsize=1)
def sections() -> dict[str, tuple[str, ...]]:
    """Each form of the page and the setting keys (``bot vendor set``'s) it changes."""
    return {
        "provider": ("provider",),
        "credentials": CREDENTIAL_KEYS,
        "deposit": ("deposit_mode", "deposit_percent", "deposit_fixed"),
        "confirmation": ("confirmation_rule", "hold_minutes"),
        "guarantee": ("guarantee_mode", "guarantee_amount", "guarantee_release_days", "saved_cards"),
        "reminders": (
            "reminders", "reminder_schedule", "reminder_repeat_every", "reminder_repeat_count",
            "reminder_quiet_hours",
        ),
        "language": ("locale", "timezone"),
        "templates": tuple(TEMPLATE_PREFIX + kind for kind in template_kinds()),
        "texts": tuple(f"{TEXT_PREFIX}{kind}.{locale}" for kind in message_kinds() for locale in ALL_LOCALES),
    }  # fmt: skip


def _cipher(request: web.Request) -> CredentialCipher | None:
    secret = request.app[settings_key].secret_key
    return CredentialCipher(secret.get_secret_value()) if secret else None


def _vendor(request: web.Request) -> Vendor:
    vendor = current(request).vendor
    if vendor is None:  # pragma: no cover - the middleware sends an admin of several to pick one first
        raise web.HTTPFound("/admin/vendors")
    return vendor


# Values as the forms show them


def _as_field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def current_values(vendor: Vendor) -> dict[str, str]:
    """Every plain setting of the page as its field shows it (credentials are never among them)."""
    described = describe_settings(vendor)
    values: dict[str, str] = {}
    for name, keys in sections().items():
        if name == "credentials":
            continue
        for key in keys:
            if key.startswith(TEXT_PREFIX):
                kind, _, locale = key[len(TEXT_PREFIX) :].rpartition(".")
                values[key] = vendor.message_overrides.get(kind, {}).get(locale, "")
            elif key.startswith(TEMPLATE_PREFIX):
                values[key] = vendor.whatsapp_templates.get(key[len(TEMPLATE_PREFIX) :], "")
            else:
                values[key] = _as_field(described[key])
    values["deposit_percent"] = values["deposit_percent"].rstrip("%")
    return values


def _typed(form: Mapping[str, str], key: str) -> str:
    if key in CHECKBOXES:
        # A hidden "off" comes before the box: a ticked box's "on" is the last value, kept.
        return "on" if form.get(key) == "on" else "off"
    # Browsers send a textarea's new lines as CRLF.
    return form.get(key, "").replace("\r\n", "\n")


def _changes(
    section: str, form: Mapping[str, str], values: dict[str, str], stored: frozenset[str]
) -> list[tuple[str, str]]:
    """The ``KEY=VALUE`` pairs of the section's fields that differ from what is set now (a field the
    form does not carry is left as it is). A credential left empty keeps what is stored; "remove"
    (``unset.KEY``) removes it."""
    if section == "credentials":
        pairs = []
        for key in CREDENTIAL_KEYS:
            typed = form.get(key, "").strip()
            if typed:
                pairs.append((key, typed))
            elif form.get(f"unset.{key}") == "1" and key in stored:
                pairs.append((key, ""))
        return pairs
    return [
        (key, _typed(form, key))
        for key in sections()[section]
        if key in form and _typed(form, key).strip() != values.get(key, "").strip()
    ]


# The page


def _setting_label(key: str, said: Mapping[str, Any]) -> str:
    """A key as the page names it ("Pourcentage par défaut"; "Demande de paiement (English)")."""
    kinds, locales = said["kinds"], said["options"]["locale"]
    if key.startswith(TEXT_PREFIX):
        kind, _, locale = key[len(TEXT_PREFIX) :].rpartition(".")
        return f"{kinds.get(kind, kind)} ({locales.get(locale, locale)})"
    if key.startswith(TEMPLATE_PREFIX):
        kind = key[len(TEMPLATE_PREFIX) :]
        return f"{said['sections']['templates']}: {kinds.get(kind, kind)}"
    return str(said["labels"].get(key, key))


def _phone(actor: str) -> str:
    return f"+{actor}" if actor.isdigit() else actor


def _history(overview: vendor_service.SettingsOverview, locale: str) -> list[dict[str, str]]:
    zone = ZoneInfo(overview.vendor.timezone)
    said = words(locale, "settings")
    return [
        {
            "who": said["cli"] if entry.actor == "cli" else _phone(entry.actor),
            "when": entry.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "setting": entry.setting,
            "label": _setting_label(entry.setting, said),
        }
        for entry in overview.history
    ]


def _previews_of_defaults(
    vendor: Vendor, values: Mapping[str, str], now: datetime, base_url: str
) -> dict[str, str]:
    """Our own wording of each message, as placeholder of the vendor's empty fields."""
    shown_defaults = {}
    for kind in message_kinds():
        for locale in ALL_LOCALES:
            key = f"{TEXT_PREFIX}{kind}.{locale}"
            if not values.get(key):
                shown_defaults[key] = preview(vendor, kind, locale, "", now, base_url).text
    return shown_defaults


def _open_kinds(vendor: Vendor, errors: Mapping[str, str], shown_preview: Preview | None) -> set[str]:
    """The messages whose wording the page shows unfolded: the vendor's own, and those just worked on."""
    keys = [*errors, *([shown_preview.key] if shown_preview else [])]
    worked_on = {key[len(TEXT_PREFIX) :].rpartition(".")[0] for key in keys if key.startswith(TEXT_PREFIX)}
    return set(vendor.message_overrides) | worked_on


async def _page(
    request: web.Request,
    *,
    status: int = 200,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    section: str | None = None,
    check: dict[str, object] | None = None,
    shown_preview: Preview | None = None,
) -> web.Response:
    cipher = _cipher(request)
    overview = await vendor_service.settings_overview(
        request.app[uow_key], str(_vendor(request).id), cipher, HISTORY_ROWS
    )
    vendor = overview.vendor
    now = request.app[clock_key]()
    base_url = request.app[settings_key].base_url
    fields = current_values(vendor)
    fields.update(values or {})
    locale = page_locale(request)
    saved, unchanged = request.query.get("saved"), request.query.get("unchanged")
    context: dict[str, Any] = {
        "vendor": vendor,
        "values": fields,
        "errors": errors or {},
        "active": section,
        "saved": saved if saved in sections() else None,
        "unchanged": unchanged if unchanged in sections() else None,
        "open_kinds": _open_kinds(vendor, errors or {}, shown_preview),
        "check": check,
        "preview": shown_preview,
        "credentials": CREDENTIALS,
        "hidden_typing": HIDDEN_TYPING,
        "credentials_set": overview.credentials_set,
        "credentials_unreadable": overview.credentials_unreadable,
        "can_store_credentials": cipher is not None,
        "history": _history(overview, locale),
        "providers": [p.value for p in ProviderName],
        "deposit_modes": [m.value for m in DepositMode],
        "confirmation_rules": [r.value for r in ConfirmationRule],
        "guarantee_modes": [m.value for m in GuaranteeMode],
        "vendor_locales": VENDOR_LOCALES,
        "all_locales": ALL_LOCALES,
        "message_kinds": message_kinds(),
        "template_kinds": template_kinds(),
        "message_data": {kind: message_data(kind) for kind in message_kinds()},
        "defaults": _previews_of_defaults(vendor, fields, now, base_url),
        "text_prefix": TEXT_PREFIX,
        "template_prefix": TEMPLATE_PREFIX,
    }
    return render_admin(request, "settings", "settings", status=status, **context)


async def settings_page(request: web.Request) -> web.Response:
    return await _page(request)


def _error_key(error: DomainError, pairs: list[tuple[str, str]]) -> str:
    if isinstance(error, UnsupportedLocale):
        return "locale"
    if isinstance(error, UnknownTimezone):
        return "timezone"
    key = error.params.get("key")
    return str(key) if key else pairs[0][0]


def field_errors(
    vendor: Vendor, pairs: list[tuple[str, str]], cipher: CredentialCipher | None, locale: str
) -> dict[str, str]:
    """Each field's problem, all at once: the pairs tried in order on a copy of the vendor, with the
    checks of ``bot vendor set`` (and, for wordings, what a message may use)."""
    trial = copy.deepcopy(vendor)
    errors: dict[str, str] = {}
    for key, value in pairs:
        try:
            if key in SECRET_SETTINGS:
                if cipher is None:
                    raise SecretKeyRequired(key=key)
                continue
            if key.startswith(TEXT_PREFIX) and value.strip():
                problem = wording_problem(value, locale)
                if problem is not None:
                    errors[key] = problem.message
                    continue
            apply_setting(trial, key, value)
        except DomainError as error:
            errors[key] = explain(error, locale)
    return errors


async def save_settings(request: web.Request) -> web.StreamResponse:
    form = await checked_form(request)
    section = form.get("section", "")
    if section not in sections():
        raise web.HTTPBadRequest(text="unknown section")
    admin = current(request)
    cipher = _cipher(request)
    locale = page_locale(request)
    uow = request.app[uow_key]
    overview = await vendor_service.settings_overview(uow, str(_vendor(request).id), cipher, history=0)
    vendor = overview.vendor
    values = current_values(vendor)
    pairs = _changes(section, form, values, overview.credentials_set)
    # What the admin typed stays in the fields on error; credentials never go back to the browser.
    typed = {} if section == "credentials" else {k: _typed(form, k) for k in sections()[section] if k in form}
    errors = field_errors(vendor, pairs, cipher, locale)
    if not errors and pairs:
        try:
            await vendor_service.change_settings(
                request.app[uow_key], str(vendor.id), pairs, cipher, request.app[clock_key](),
                actor=admin.phone,
            )  # fmt: skip
        except DomainError as error:
            errors = {_error_key(error, pairs): explain(error, locale)}
    if errors:
        return await _page(request, status=400, values=typed, errors=errors, section=section)
    done = "saved" if pairs else "unchanged"
    raise web.HTTPSeeOther(f"/admin/settings?{done}={section}#{section}")


async def test_connection(request: web.Request) -> web.Response:
    """The "Tester la connexion" button: the stored credentials tried at the vendor's provider. Whatever the
    provider answers (or not), the page says it; never a 500."""
    await checked_form(request)
    vendor = _vendor(request)
    locale = page_locale(request)
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            result = await provider_service.check_provider(request.app[payments_key], str(vendor.id))
        ok, company, detail = result.ok, result.company, result.detail
    except TimeoutError:
        log.warning("connection test of vendor %s: no answer in %s s", vendor.id, CHECK_TIMEOUT_SECONDS)
        ok, company, detail = False, None, str(words(locale, "settings")["test_unreachable"])
    except Exception:  # a provider that answers nonsense: said, not raised
        log.exception("connection test of vendor %s failed", vendor.id)
        ok, company, detail = False, None, str(words(locale, "settings")["test_unreachable"])
    provider = vendor.payment.provider.value
    message = render("chat/provider_check", locale, ok=ok, provider=provider, company=company, detail=detail)
    return await _page(request, check={"ok": ok, "message": message}, section="credentials")


async def preview_message(request: web.Request) -> web.Response:
    """The vendor's wording of one message rendered from sample data: plain text for the page's script
    (``Accept: text/plain``), else the whole page with the preview under its field (no script needed)."""
    form = await checked_form(request)
    kind, _, locale = form.get("preview", "").rpartition(".")
    if kind not in message_kinds() or locale not in ALL_LOCALES:
        raise web.HTTPBadRequest(text="unknown message")
    vendor = _vendor(request)
    key = f"{TEXT_PREFIX}{kind}.{locale}"
    text = _typed(form, key)
    shown_preview = preview(
        vendor, kind, locale, text, request.app[clock_key](), request.app[settings_key].base_url
    )
    status = 200 if shown_preview.ok else 400
    if "text/plain" in request.headers.get("Accept", ""):
        return web.Response(
            text=shown_preview.text, status=status, content_type="text/plain",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )  # fmt: skip
    typed = {key: _typed(form, key) for key in sections()["texts"] if key in form}
    return await _page(request, status=status, values=typed, section="texts", shown_preview=shown_preview)


def settings_routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/admin/settings", settings_page),
        web.post("/admin/settings", save_settings),
        web.post("/admin/settings/test", test_connection),
        web.post("/admin/settings/preview", preview_message),
    ]
