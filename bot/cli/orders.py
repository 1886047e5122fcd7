"""``bot order``: create, accept, list and show orders."""

from __future__ import annotations

import argparse
from dataclasses import replace

from bot.cli.cards import guarantee_line, with_guarantees
from bot.cli.common import CLI_LOCALE, _payment_deps, _print_json, _with_store
from bot.config import Settings
from bot.domain.order import OrderStatus
from bot.rendering import explain
from bot.services import acceptance, orders as order_service
from bot.store.uow import UnitOfWorkFactory
from bot.views import order_json, order_lines


def _acceptance_lines(accepted: acceptance.Accepted, first: str) -> list[str]:
    lines = [first]
    if accepted.request is not None:
        transaction = accepted.request.transaction
        lines.append(
            f"payment request sent: {transaction.label}, {transaction.amount}, {accepted.request.url}"
        )
    elif accepted.problem is not None:
        lines.append(f"no payment request sent: {explain(accepted.problem, CLI_LOCALE)}")
    return lines


async def cmd_order_create(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            accepted = await acceptance.create_order(
                deps, args.vendor, args.customer, args.price, args.label, args.accept, items=args.item or ()
            )
        finally:
            await deps.providers.close()
        order = accepted.order
        price = "no price" if order.price is None else str(order.price)
        first = f"order {order.reference} created, {order.status}, {price}"
        items = [f"  {line.quantity} x {line.sku}  {line.name}  {line.total}" for line in accepted.lines]
        summary = _acceptance_lines(accepted, first)
        print("\n".join([summary[0], *items, *summary[1:]]))
        return 0

    return await _with_store(settings, work)


async def cmd_order_accept(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            accepted = await acceptance.accept_order(deps, args.vendor, args.number)
        finally:
            await deps.providers.close()
        order = accepted.order
        print("\n".join(_acceptance_lines(accepted, f"order {order.reference} {order.status}")))
        return 0

    return await _with_store(settings, work)


async def cmd_order_list(args: argparse.Namespace, settings: Settings) -> int:
    statuses = {OrderStatus(s) for s in args.status} if args.status else None

    async def work(uow: UnitOfWorkFactory) -> int:
        found = await order_service.list_orders(uow, args.vendor, statuses, args.limit)
        if args.json:
            _print_json([{"number": o.number, "status": o.status.value, "label": o.label,
                          "price": None if o.price is None else f"{o.price.amount:f}",
                          "currency": o.currency, "created_at": o.created_at.isoformat()}
                         for o in found])  # fmt: skip
            return 0
        if not found:
            print("no order")
        for o in found:
            price = "-" if o.price is None else str(o.price)
            print(f"{o.reference:>6}  {o.status:<11}  {price:>14}  {o.label}")
        return 0

    return await _with_store(settings, work)


async def cmd_order_show(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        view = await order_service.show_order(uow, args.vendor, args.number)
        if args.json:
            _print_json(with_guarantees(view, order_json(view)))
            return 0
        # Guarantees are not payments: listed apart, with their state and dates.
        payments = replace(view, transactions=[t for t in view.transactions if not t.is_guarantee])
        lines = order_lines(payments)
        lines += [guarantee_line(t) for t in view.transactions if t.is_guarantee]
        print("\n".join(lines))
        return 0

    return await _with_store(settings, work)
