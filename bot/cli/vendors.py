"""``bot vendor``: add, list, set, show and check vendors."""

from __future__ import annotations

import argparse

from bot.cli.common import _fail, _payment_deps, _print_json, _with_store
from bot.config import Settings
from bot.domain.vendor import SECRET_SETTINGS, TEMPLATE_PREFIX, TEXT_PREFIX, ProviderName, describe_settings
from bot.payments.credentials import CredentialCipher
from bot.services import providers as provider_service, vendors as vendor_service
from bot.services.clock import system_clock
from bot.store.uow import UnitOfWorkFactory
from bot.views import shown_setting, vendor_json, vendor_lines


async def cmd_vendor_add(args: argparse.Namespace, settings: Settings) -> int:
    new = vendor_service.NewVendor(
        name=args.name,
        admin_phones=args.admin,
        currency=args.currency,
        locale=args.locale,
        timezone=args.timezone,
        provider=ProviderName(args.provider),
        phone_number_id=args.phone_id,
        deposit_percent=settings.default_deposit_percent,
        reminder_schedule=settings.reminder_offsets,
        quiet_hours=settings.quiet_hours,
    )

    async def work(uow: UnitOfWorkFactory) -> int:
        summary = await vendor_service.add_vendor(uow, new, system_clock())
        print(f"vendor {summary.vendor.name!r} added, id {summary.vendor.id}")
        return 0

    return await _with_store(settings, work)


async def cmd_vendor_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        summaries = await vendor_service.list_vendors(uow)
        if args.json:
            _print_json([vendor_json(s) for s in summaries])
        elif not summaries:
            print("no vendor yet: bot vendor add --name NAME --admin +33612345678")
        for summary in [] if args.json else summaries:
            v = summary.vendor
            admins = ", ".join(f"+{p}" for p in summary.admin_phones) or "no admin"
            where = f"{v.currency} {v.locale} {v.timezone}"
            print(f"{v.name}  {v.short_id}  {where}  {v.payment.provider}  {admins}")
        return 0

    return await _with_store(settings, work)


async def cmd_vendor_set(args: argparse.Namespace, settings: Settings) -> int:
    cipher = None if settings.secret_key is None else CredentialCipher(settings.secret_key.get_secret_value())

    async def work(uow: UnitOfWorkFactory) -> int:
        summary = await vendor_service.change_settings(
            uow, args.vendor, args.pairs, cipher, system_clock(), actor="cli"
        )
        current = describe_settings(summary.vendor)
        templates = summary.vendor.whatsapp_templates
        for key, value in args.pairs:
            name = key.strip().lower()
            if name in SECRET_SETTINGS:
                shown: object = "(stored encrypted)" if value.strip() else "(removed)"
            elif name.startswith(TEMPLATE_PREFIX):
                shown = templates.get(name.removeprefix(TEMPLATE_PREFIX), "(none)")
            elif name.startswith(TEXT_PREFIX):
                shown = "(set)" if value.strip() else "(back to the default)"
            else:
                shown = shown_setting(current.get(name))
            print(f"{name} = {shown}")
        return 0

    return await _with_store(settings, work)


async def cmd_vendor_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        summary = await vendor_service.show_vendor(uow, args.vendor)
        if args.json:
            _print_json(vendor_json(summary))
        else:
            print("\n".join(vendor_lines(summary)))
        return 0

    return await _with_store(settings, work)


async def cmd_vendor_check(args: argparse.Namespace, settings: Settings) -> int:
    """The connection test: the vendor's provider credentials tried against the provider (auth/info)."""

    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            check = await provider_service.check_provider(deps, args.vendor)
        finally:
            await deps.providers.close()
        if check.ok:
            print(f"{check.provider}: connected" + (f" ({check.company})" if check.company else ""))
            return 0
        return _fail(f"{check.provider}: connection failed: {check.detail}", 1)

    return await _with_store(settings, work)
