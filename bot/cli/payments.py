"""Money asked for, taken and given back: ``bot pay`` (by a link, on the saved card, by phone, or cash),
``bot refund`` and ``bot reminders run``."""

from __future__ import annotations

import argparse

from bot.cli.cards import pay_by_phone, pay_saved_card, required_guarantee_lines
from bot.cli.common import _payment_deps, _with_store
from bot.config import Settings
from bot.domain.deposit import AskKind
from bot.services import (
    cash as cash_service,
    payments as payment_service,
    refunds,
    reminders as reminder_service,
)
from bot.services.clock import system_clock
from bot.store.uow import UnitOfWorkFactory


async def cmd_pay(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            if args.cash is not None:
                cash = await cash_service.record_cash_payment(deps, args.vendor, args.number, args.cash)
                order, ledger = cash.order, cash.ledger
                print(f"cash payment of {cash.transaction.amount} recorded for {order.reference}: "
                      f"order {order.status}, paid {ledger.paid}, balance {ledger.balance}")  # fmt: skip
                for stopped in cash.cancelled:
                    print(f"open request cancelled (its link stopped): {stopped.label}, {stopped.amount}")
                return 0
            if args.saved_card or args.phone:
                lines = await (pay_saved_card(deps, args) if args.saved_card else pay_by_phone(deps, args))
                if args.saved_card:
                    lines += await required_guarantee_lines(deps, args.vendor, args.number)
                print("\n".join(lines))
                return 0
            if args.full:
                ask, typed = AskKind.FULL, None
            elif args.balance:
                ask, typed = AskKind.BALANCE, None
            else:
                ask, typed = AskKind.DEPOSIT, args.deposit
            outcome = await payment_service.request_payment(deps, args.vendor, args.number, ask, typed)
            print(f"{outcome.transaction.label}: {outcome.transaction.amount} requested, "
                  f"link {outcome.url}")  # fmt: skip
            for line in await required_guarantee_lines(deps, args.vendor, args.number):
                print(line)
            return 0
        finally:
            await deps.providers.close()

    return await _with_store(settings, work)


async def cmd_refund(args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        deps = _payment_deps(settings, uow)
        try:
            if args.resolve is not None:
                settled = await refunds.settle_by_hand(deps, args.vendor, args.number, args.resolve == "made")
                for refund in settled:
                    print(f"refund of {refund.amount} on #{args.number} recorded as {args.resolve}")
                return 0
            outcome = await refunds.refund(deps, args.vendor, args.number, args.amount)
        finally:
            await deps.providers.close()
        ledger = outcome.ledger
        print(
            f"{outcome.amount} refunded on {outcome.order.reference}: paid {ledger.received}, "
            f"refunded {ledger.refunded} in all, net {ledger.paid}; order {outcome.order.status}"
        )
        return 0

    return await _with_store(settings, work)


async def cmd_reminders_run(_args: argparse.Namespace, settings: Settings) -> int:
    async def work(uow: UnitOfWorkFactory) -> int:
        queued = await reminder_service.sweep_all(uow, system_clock)
        print(f"{queued} reminders queued")
        return 0

    return await _with_store(settings, work)
