"""``bot customer``: list, show and set a vendor's customers."""

from __future__ import annotations

import argparse

from bot.cli.common import _print_json, _with_store
from bot.config import Settings
from bot.services import customers as customer_service
from bot.services.clock import system_clock
from bot.store.uow import UnitOfWorkFactory
from bot.views import customer_json, customer_line


async def cmd_customer_list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        found = await customer_service.list_customers(uow, args.vendor)
        if args.json:
            _print_json([customer_json(c) for c in found])
            return 0
        if not found:
            print("no customer yet")
        for customer in found:
            print(customer_line(customer))
        return 0

    return await _with_store(settings, work)


async def cmd_customer_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        customer = await customer_service.show_customer(uow, args.vendor, args.phone)
        if args.json:
            _print_json(customer_json(customer))
        else:
            print(customer_line(customer))
        return 0

    return await _with_store(settings, work)


async def cmd_customer_set(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        customer = await customer_service.set_customer(
            uow, args.vendor, args.phone, args.pairs, system_clock()
        )
        print(customer_line(customer))
        return 0

    return await _with_store(settings, work)
