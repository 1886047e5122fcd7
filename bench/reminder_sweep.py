"""Reminder sweep benchmark (DESIGN.md §8), run by hand:

    .venv/bin/python bench/reminder_sweep.py [--database-url postgresql://...] [--sizes 1000,10000,100000]

For each size, a fresh Postgres database gets that many due reminders (one per open request, each with an
active link), then sweeps run until none is left. Prints reminders/s (claimed, rendered and queued in the
outbox) from a run without tracing, and the peak of Python memory during the sweeps (tracemalloc) from a
second run on a fresh database, since tracing slows Python down several times. The peak should stay flat as
the size grows: a sweep takes at most SWEEP_BATCH reminders at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.services import (
    orders as order_service,  # noqa: E402
    reminders,  # noqa: E402
    vendors as vendor_service,  # noqa: E402
)
from bot.store import migrate  # noqa: E402
from bot.store.database import create_engine  # noqa: E402
from bot.store.uow import UnitOfWorkFactory  # noqa: E402

FILL = """
WITH links AS (
  INSERT INTO payment_links (id, vendor_id, provider, provider_link_id, url, amount, currency, active,
                             created_at, updated_at)
  SELECT gen_random_uuid(), $1, 'sandbox', 'sbx_bench_' || g, 'http://127.0.0.1:8080/sandbox/checkout/' || g,
         1.00, 'EUR', true, now(), now()
  FROM generate_series(1, $3) g RETURNING id
), requests AS (
  INSERT INTO payment_transactions (id, commande_id, montant, devise, type, label, status, vendor_id,
                                    provider, payment_link_id, created_at, updated_at)
  SELECT gen_random_uuid(), $2, 1.00, 'EUR', 'acompte', 'Acompte', 'pending', $1, 'sandbox', links.id,
         now() - interval '2 days', now() - interval '2 days'
  FROM links RETURNING id
)
INSERT INTO reminders (vendor_id, transaction_id, sequence, due_at, status, created_at, updated_at)
SELECT $1, requests.id, 1, now() - interval '1 hour', 'pending', now(), now() FROM requests
"""


async def run_size(admin_url: str, size: int, traced: bool) -> tuple[float, float, int]:
    name = f"bot_bench_rem_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(url, pool_size=5)
    try:
        await migrate.upgrade(engine)
        uow = UnitOfWorkFactory(engine)
        now = datetime.now(UTC)
        new = vendor_service.NewVendor(name="Bench", admin_phones=["+33612345678"], quiet_hours=None)
        summary = await vendor_service.add_vendor(uow, new, now)
        order = await order_service.create_order(uow, None, "+33699887766", "99999", "", True, now)
        connection = await asyncpg.connect(url)
        await connection.execute(FILL, summary.vendor.id, order.id, size)
        await connection.close()
        clock = lambda: datetime.now(UTC) + timedelta(minutes=1)  # noqa: E731
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        queued = 0
        while (done := await reminders.sweep(uow, clock)) > 0:
            queued += done
        elapsed = time.perf_counter() - started
        peak = 0
        if traced:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        return queued / elapsed, peak / 1e6, queued
    finally:
        await engine.dispose()
        admin = await asyncpg.connect(admin_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    print(f"{'due reminders':>14} {'queued':>8} {'reminders/s':>12} {'peak MB':>8}")
    for size in (int(s) for s in args.sizes.split(",")):
        rate, _, queued = await run_size(args.database_url, size, traced=False)
        _, peak, _ = await run_size(args.database_url, size, traced=True)
        print(f"{size:>14} {queued:>8} {rate:>12.0f} {peak:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
