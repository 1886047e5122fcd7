"""The checks ``bot doctor`` makes for each vendor: its admins, its WhatsApp number and templates (the
Graph API), its payment provider (the connection test) and the secret its provider's webhooks need."""

from __future__ import annotations

from collections.abc import Mapping

from bot.config import Settings
from bot.domain.vendor import ProviderName, Vendor
from bot.payments.credentials import CredentialCipher
from bot.services import providers as provider_service
from bot.services.context import PaymentDeps
from bot.services.doctor_report import Check, Status
from bot.services.whatsapp_account import (
    PERMISSION_ERROR_CODES,
    TOKEN_ERROR_CODES,
    UNKNOWN_OBJECT_CODE,
    GraphReadError,
    PhoneNumber,
    TemplateState,
    WhatsAppAccount,
)

APPROVED = "APPROVED"
TOKEN_FIX = (
    "set WHATSAPP_TOKEN to a System User's permanent token with whatsapp_business_messaging and "
    "whatsapp_business_management (Meta Business Settings > System users)"
)


class _GraphCache:
    """One Graph call per number and per business account, however many vendors share them."""

    def __init__(self, account: WhatsAppAccount) -> None:
        self.account = account
        self._numbers: dict[str, PhoneNumber | GraphReadError] = {}
        self._templates: dict[str, list[TemplateState] | GraphReadError] = {}

    async def number(self, phone_id: str) -> PhoneNumber | GraphReadError:
        if phone_id not in self._numbers:
            try:
                self._numbers[phone_id] = await self.account.phone_number(phone_id)
            except GraphReadError as error:
                self._numbers[phone_id] = error
        return self._numbers[phone_id]

    async def templates(self, waba_id: str) -> list[TemplateState] | GraphReadError:
        if waba_id not in self._templates:
            try:
                self._templates[waba_id] = await self.account.templates(waba_id)
            except GraphReadError as error:
                self._templates[waba_id] = error
        return self._templates[waba_id]


async def vendor_checks(
    settings: Settings,
    payments: PaymentDeps,
    cipher: CredentialCipher | None,
    whatsapp: WhatsAppAccount | None,
) -> list[Check]:
    async with payments.uow() as uow:
        vendors = await uow.vendors.all()
        admins = {v.id: await uow.vendors.admin_phones(v.id) for v in vendors}
        sealed = {v.id: await uow.vendors.credentials(v.id) for v in vendors}
    graph = _GraphCache(whatsapp) if whatsapp is not None else None
    checks: list[Check] = []
    if not vendors:
        fix = "`bot serve` creates one from the VENDOR_* settings at start, or `bot vendor add`"
        checks.append(Check("vendors", Status.WARN, "none yet", fix))
        if graph is not None:
            checks.append(await _number(graph, "whatsapp number", settings.whatsapp_phone_id))
        return checks
    for vendor in vendors:
        label = vendor.name
        checks.append(_admins(label, admins[vendor.id]))
        if graph is not None:
            checks.append(
                await _number(
                    graph, f"{label}: whatsapp number", vendor.phone_number_id or settings.whatsapp_phone_id
                )
            )
            checks.append(await _templates(graph, label, vendor, settings.whatsapp_business_account_id))
        checks.append(await _provider(payments, label, vendor, settings))
        stored = _stored_keys(cipher, sealed[vendor.id])
        secret = _webhook_secret(label, vendor, settings, stored)
        if secret is not None:
            checks.append(secret)
    return checks


def _admins(label: str, phones: list[str]) -> Check:
    name = f"{label}: admins"
    if not phones:
        return Check(
            name,
            Status.WARN,
            "no admin phone: nobody can command the bot",
            "`bot vendor set` or VENDOR_ADMIN_PHONES",
        )
    return Check(name, Status.OK, f"{len(phones)} admin phone" + ("s" if len(phones) > 1 else ""))


def _graph_failure(name: str, error: GraphReadError, what: str, fix: str) -> Check:
    code = f" (Graph error {error.code})" if error.code is not None else ""
    if error.code in TOKEN_ERROR_CODES:
        return Check(name, Status.FAIL, f"the token is refused{code}: {error.message}", TOKEN_FIX)
    if error.code in PERMISSION_ERROR_CODES:
        detail = f"the token may not read {what}{code}: {error.message}"
        return Check(
            name, Status.FAIL, detail, "give the System User the WhatsApp account and its permissions"
        )
    if error.code == UNKNOWN_OBJECT_CODE:
        return Check(name, Status.FAIL, f"{what} not found with this token{code}", fix)
    return Check(
        name, Status.FAIL, f"{error.message}{code}", "check the network and WHATSAPP_GRAPH_URL, then retry"
    )


async def _number(graph: _GraphCache, name: str, phone_id: str | None) -> Check:
    if not phone_id:
        return Check(
            name, Status.FAIL, "no phone number id", "set WHATSAPP_PHONE_ID or `bot vendor set phone_id=...`"
        )
    found = await graph.number(phone_id)
    if isinstance(found, GraphReadError):
        fix = "set WHATSAPP_PHONE_ID (or `bot vendor set phone_id=`) to the number's id in WhatsApp Manager"
        return _graph_failure(name, found, f"phone number id {phone_id}", fix)
    shown = found.display_phone_number or phone_id
    detail = f"{phone_id}: {shown}" + (f" ({found.verified_name})" if found.verified_name else "")
    if found.quality_rating:
        detail += f", quality {found.quality_rating}"
    if (found.quality_rating or "").upper() == "RED":
        return Check(name, Status.WARN, detail, "low quality: Meta may limit this number's messages")
    return Check(name, Status.OK, detail)


async def _templates(graph: _GraphCache, label: str, vendor: Vendor, waba_id: str | None) -> Check:
    name = f"{label}: templates"
    chosen = vendor.whatsapp_templates
    if not chosen:
        detail = "none set: outside the 24-hour window, messages to customers cannot be sent"
        return Check(name, Status.WARN, detail, "`bot vendor set template.<kind>=<approved template name>`")
    if not waba_id:
        detail = f"{len(chosen)} set, not checked: WHATSAPP_BUSINESS_ACCOUNT_ID is unset"
        return Check(
            name, Status.WARN, detail, "set WHATSAPP_BUSINESS_ACCOUNT_ID (WhatsApp Manager, the account's id)"
        )
    found = await graph.templates(waba_id)
    if isinstance(found, GraphReadError):
        return _graph_failure(
            name,
            found,
            f"business account {waba_id}'s templates",
            "set WHATSAPP_BUSINESS_ACCOUNT_ID to the account that owns the number",
        )
    problems = _template_problems(chosen, found, vendor.locale)
    if problems:
        fix = "create or fix them in WhatsApp Manager, or `bot vendor set template.<kind>=<name>`"
        return Check(name, Status.FAIL, "; ".join(problems), fix)
    return Check(
        name,
        Status.OK,
        f"{len(chosen)} approved in {vendor.locale}: " + ", ".join(sorted(set(chosen.values()))),
    )


def _template_problems(chosen: Mapping[str, str], found: list[TemplateState], locale: str) -> list[str]:
    problems = []
    for kind, template in sorted(chosen.items()):
        states = [t for t in found if t.name == template]
        approved = sorted(t.language for t in states if t.status.upper() == APPROVED)
        if not states:
            problems.append(f"{template} ({kind}) not found")
        elif not approved:
            statuses = ", ".join(sorted({t.status for t in states}))
            problems.append(f"{template} ({kind}) not approved ({statuses})")
        elif locale not in approved:
            # Sent in the customer's language, the vendor's by default: the exact code must exist.
            problems.append(f"{template} ({kind}) approved in {', '.join(approved)}, not in {locale}")
    return problems


async def _provider(payments: PaymentDeps, label: str, vendor: Vendor, settings: Settings) -> Check:
    name = f"{label}: payment provider"
    check = await provider_service.check_provider(payments, vendor)
    if not check.ok:
        fix = "`bot vendor set` its credentials (or the STRIPE_*/ICOUNT_* settings), then `bot vendor check`"
        return Check(name, Status.FAIL, f"{check.provider}: {check.detail}", fix)
    if vendor.payment.provider is ProviderName.SANDBOX:
        detail = "sandbox: no real payment"
        if settings.sandbox_whatsapp:
            return Check(name, Status.OK, detail)
        return Check(
            name, Status.WARN, detail, "`bot vendor set provider=stripe` (or icount) and its credentials"
        )
    company = f" ({check.company})" if check.company else ""
    return Check(name, Status.OK, f"{check.provider}: connected{company}")


def _stored_keys(cipher: CredentialCipher | None, sealed: str | None) -> frozenset[str]:
    """Which credentials the vendor stored (their names only); none when they cannot be opened (the
    provider check says so)."""
    if not sealed or cipher is None:
        return frozenset()
    try:
        return frozenset(key for key, value in cipher.open(sealed).items() if value)
    except ValueError:
        return frozenset()


def _webhook_secret(label: str, vendor: Vendor, settings: Settings, stored: frozenset[str]) -> Check | None:
    provider = vendor.payment.provider
    if provider is ProviderName.STRIPE:
        name = f"{label}: stripe webhook secret"
        if "stripe_webhook_secret" in stored:
            return Check(name, Status.OK, "the vendor's own, set")
        if settings.stripe_webhook_secret is not None:
            return Check(name, Status.OK, "STRIPE_WEBHOOK_SECRET set")
        detail = "missing: Stripe's events would be refused, and no payment recorded"
        fix = (
            "set STRIPE_WEBHOOK_SECRET (the endpoint's signing secret, whsec_...) or "
            "`bot vendor set stripe_webhook_secret=...`"
        )
        return Check(name, Status.FAIL, detail, fix)
    if provider is ProviderName.ICOUNT:
        name = f"{label}: icount ipn"
        if settings.secret_key is not None:
            return Check(name, Status.OK, "each sale's IPN address is signed with SECRET_KEY")
        detail = "IPN addresses are signed with the iCount token: they stop working when it changes"
        return Check(name, Status.WARN, detail, "set SECRET_KEY")
    return None
