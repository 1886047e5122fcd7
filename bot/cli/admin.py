"""``bot admin``: a one-time sign-in link to the vendor's dashboard (``/admin``), for operators and demos."""

from __future__ import annotations

import argparse

from bot.cli.common import _fail, _print_json, _with_store
from bot.config import Settings
from bot.domain.phone import normalise_phone
from bot.services import admin_auth, vendors as vendor_service
from bot.services.clock import system_clock
from bot.store.uow import UnitOfWorkFactory


async def cmd_admin_link(args: argparse.Namespace, settings: Settings) -> int:
    phone = normalise_phone(args.phone)

    async def work(uow: UnitOfWorkFactory) -> int:
        if args.vendor is not None:
            summary = await vendor_service.show_vendor(uow, args.vendor)
            if phone not in summary.admin_phones:
                return _fail(f"+{phone} is not an admin of {summary.vendor.name!r}", 1)
            names = [summary.vendor.name]
        else:
            names = [s.vendor.name for s in await vendor_service.list_vendors(uow) if phone in s.admin_phones]
        now = system_clock()
        url = await admin_auth.make_link(uow, phone, settings.base_url, now)
        if url is None or not names:
            return _fail(f"+{phone} is no vendor's admin (`bot vendor list` shows the admins)", 1)
        expires_at = now + admin_auth.CODE_LIFETIME
        if args.json:
            _print_json(
                {"url": url, "phone": f"+{phone}", "vendors": names, "expires_at": expires_at.isoformat()}
            )
            return 0
        print(url)
        print(
            f"it works once, until {expires_at:%Y-%m-%d %H:%M} UTC: open it to sign in to the dashboard as "
            f"+{phone} ({', '.join(names)})"
        )
        return 0

    return await _with_store(settings, work)
