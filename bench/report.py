"""Payment report benchmark (DESIGN.md §8, issue 16), run by hand:

    .venv/bin/python bench/report.py [--database-url postgresql://...] [--sizes 10000,100000,1000000]

For each size, a fresh Postgres database (``bench_report_<random>``, dropped afterwards) gets one vendor
(Europe/Paris) and that many received payments, all in November 2026 (the worst case for a month's report),
written by one INSERT ... SELECT from generate_series: half card links, a quarter cash, a tenth saved
card, the rest guarantee captures; one in ten in USD; one in twenty refunded in part, with its refund row.
Then it measures:

- the month's report by day (``services.reports.report``: two grouped statements), best of three;
- the CSV export of every payment of the month (``payment_rows`` + ``csv_chunks``, written nowhere), its
  time from a run without tracing and the peak of Python memory (tracemalloc) from a second, traced run.

Target: the month's report under 2 s at 100k payments; the export's peak memory flat as the size grows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scratch_db import create_database, drop_database  # noqa: E402
from bot.domain.vendor import Vendor  # noqa: E402
from bot.services import reports, vendors as vendor_service  # noqa: E402
from bot.services.reports import ReportQuery  # noqa: E402
from bot.store import migrate  # noqa: E402
from bot.store.database import create_engine  # noqa: E402
from bot.store.uow import UnitOfWorkFactory  # noqa: E402

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
NOVEMBER = ReportQuery(date(2026, 11, 1), date(2026, 12, 1), "day")
CUSTOMERS = 1000

SEED = """
INSERT INTO customers (id, vendor_id, phone, name, created_at, updated_at)
SELECT gen_random_uuid(), $1, '3369900' || lpad(g::text, 4, '0'), 'Client ' || g, now(), now()
FROM generate_series(1, $2) g;

INSERT INTO card_tokens (id, vendor_id, customer_id, provider, token, consent_at, consent_source)
SELECT gen_random_uuid(), $1, id, 'stripe', 'pm_bench', now(), 'checkout' FROM customers LIMIT 1;
"""
ORDERS = """
INSERT INTO commandes (id, vendor_id, number, customer_id, label, price, currency, status, created_at,
                       updated_at)
SELECT gen_random_uuid(), $1, g, c.id, 'Commande ' || g, 500, 'EUR', 'accepted', now(), now()
FROM generate_series(1, $2) g
JOIN (SELECT id, row_number() OVER () AS n FROM customers) c ON c.n = 1 + g % $3
"""
GUARANTEE = """
INSERT INTO payment_transactions (id, commande_id, montant, devise, type, label, status, vendor_id, provider,
                                  is_guarantee, held_amount, captured_amount, created_at, updated_at)
SELECT gen_random_uuid(), id, 200, 'EUR', 'acompte', 'Garantie', 'captured', $1, 'stripe', true, 200, 200,
       now(), now()
FROM commandes WHERE number = 1
RETURNING id
"""
PAYMENTS = """
WITH o AS (SELECT id, number FROM commandes)
INSERT INTO payment_transactions (id, commande_id, montant, devise, type, label, payment_method, status,
                                  paid_at, vendor_id, provider, refunded_amount, guarantee_id, card_token_id,
                                  created_at, updated_at)
SELECT gen_random_uuid(), o.id, 10 + g % 90, CASE WHEN g % 10 = 0 THEN 'USD' ELSE 'EUR' END, 'acompte',
       'Acompte', CASE WHEN g % 4 = 1 THEN 'cash_register' END,
       (CASE WHEN g % 20 = 3 THEN 'partially_refunded' ELSE 'paid' END)::payment_transaction_status,
       timestamptz '2026-10-31 23:00:00+00' + (g::float / $2) * interval '30 days', $1,
       CASE WHEN g % 4 = 1 THEN NULL WHEN g % 8 = 2 THEN 'icount' ELSE 'stripe' END,
       CASE WHEN g % 20 = 3 THEN 5 ELSE 0 END,
       CASE WHEN g % 20 = 7 OR g % 20 = 11 THEN $3::uuid END,
       CASE WHEN g % 10 = 6 THEN $4::uuid END,
       now(), now()
FROM generate_series(0, $2 - 1) g JOIN o ON o.number = 1 + g % $5
"""
REFUNDS = """
INSERT INTO refunds (id, vendor_id, transaction_id, amount, currency, status, requested_by, created_at,
                     updated_at)
SELECT gen_random_uuid(), vendor_id, id, refunded_amount, devise, 'succeeded', 'cli',
       paid_at + interval '1 day', paid_at + interval '1 day'
FROM payment_transactions WHERE refunded_amount > 0
"""


async def seed(url: str, vendor_id: uuid.UUID, size: int) -> float:
    started = time.perf_counter()
    connection = await asyncpg.connect(url)
    try:
        orders = max(size // 10, 1)
        await connection.execute(SEED.replace("$1", f"'{vendor_id}'").replace("$2", str(CUSTOMERS)))
        await connection.execute(ORDERS, vendor_id, orders, CUSTOMERS)
        guarantee = await connection.fetchval(GUARANTEE, vendor_id)
        token = await connection.fetchval("SELECT id FROM card_tokens LIMIT 1")
        await connection.execute(PAYMENTS, vendor_id, size, guarantee, token, orders)
        await connection.execute(REFUNDS)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return time.perf_counter() - started


async def export(uow: UnitOfWorkFactory, vendor: Vendor) -> tuple[int, int]:
    rows = reports.payment_rows(uow, vendor, NOVEMBER)
    written = lines = 0
    async for chunk in reports.csv_chunks(rows, vendor.timezone):
        written += len(chunk.encode("utf-8"))
        lines += chunk.count("\n")
    return written, lines - 1


async def run_size(admin_url: str, size: int) -> dict[str, float]:
    url = await create_database(admin_url, "bench_report")
    engine = create_engine(url, pool_size=5)
    try:
        await migrate.upgrade(engine)
        uow = UnitOfWorkFactory(engine)
        new = vendor_service.NewVendor(name="Bench", admin_phones=["+33612345678"], timezone="Europe/Paris")
        vendor = (await vendor_service.add_vendor(uow, new, NOW)).vendor
        seeded = await seed(url, vendor.id, size)
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            found = await reports.report(uow, vendor, NOVEMBER)
            timings.append(time.perf_counter() - started)
        counted = sum(c.total.payments for c in found.currencies)
        started = time.perf_counter()
        written, lines = await export(uow, vendor)
        export_time = time.perf_counter() - started
        tracemalloc.start()
        await export(uow, vendor)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {
            "seed_s": seeded, "report_s": min(timings), "counted": counted, "export_s": export_time,
            "rows": lines, "mb": written / 1e6, "peak_mb": peak / 1e6,
        }  # fmt: skip
    finally:
        await engine.dispose()
        await drop_database(admin_url, url)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    print(f"{'payments':>9} {'seed s':>7} {'report s':>9} {'counted':>8} {'csv s':>7} {'csv rows':>9} "
          f"{'csv MB':>7} {'peak MB':>8}")  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",")):
        r = await run_size(args.database_url, size)
        print(f"{size:>9} {r['seed_s']:>7.1f} {r['report_s']:>9.3f} {r['counted']:>8.0f} "
              f"{r['export_s']:>7.1f} {r['rows']:>9.0f} {r['mb']:>7.1f} {r['peak_mb']:>8.1f}",
              flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
