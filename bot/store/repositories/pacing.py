"""WhatsApp's pace kept in Postgres, so that every sender process keeps one pace between them.

Per recipient: a token bucket (``tokens``, ``stamp``) in the app's clock. Per business number: the next free
slot, moved on atomically in the database's own clock (the one clock every process shares). A send takes
both in one statement: the recipient's token under its row's lock, then, only if it got one, the number's
slot."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store.tables import send_pacing

# The recipient's bucket refilled to now (a clock read before waiting for the lock never moves the stamp
# back, which would count the same refill twice).
_REFILLED = (
    "LEAST(CAST(:burst AS double precision), p.tokens + EXTRACT(EPOCH FROM "
    "GREATEST(CAST(:now AS timestamptz), COALESCE(p.stamp, CAST(:now AS timestamptz))) "
    "- COALESCE(p.stamp, CAST(:now AS timestamptz))) / CAST(:interval AS double precision))"
)
# One statement, one commit per send. ``pair`` updates (and returns) the recipient's row only when it has
# a token: the row is locked either way, so two processes never share a token. ``number`` takes the slot
# after the latest one taken (or a pause), never before now, only when ``pair`` returned its row. The last
# column, read from the statement's snapshot, only says how long to wait when no token was left.
_TAKE = text(
    "WITH pair AS ("
    " INSERT INTO send_pacing AS p (key, tokens, stamp)"
    " VALUES (:pair, CAST(:burst AS double precision) - 1, CAST(:now AS timestamptz))"
    f" ON CONFLICT (key) DO UPDATE SET tokens = {_REFILLED} - 1,"
    " stamp = GREATEST(CAST(:now AS timestamptz), COALESCE(p.stamp, CAST(:now AS timestamptz)))"
    f" WHERE {_REFILLED} >= 1"
    " RETURNING 1 AS taken"
    "), number AS ("
    " INSERT INTO send_pacing AS n (key, tokens, next_slot_at)"
    " SELECT :number, 0, clock_timestamp() + CAST(:step AS interval) FROM pair"
    " ON CONFLICT (key) DO UPDATE SET next_slot_at ="
    " GREATEST(n.next_slot_at, n.paused_until, clock_timestamp()) + CAST(:step AS interval)"
    " RETURNING EXTRACT(EPOCH FROM (n.next_slot_at - CAST(:step AS interval) - clock_timestamp())) AS wait"
    ") SELECT (SELECT wait FROM number) AS number_wait,"
    f" (SELECT {_REFILLED} FROM send_pacing AS p WHERE p.key = :pair) AS tokens"
)
_PAUSE = text(
    "INSERT INTO send_pacing (key, tokens, paused_until) VALUES (:key, 0, clock_timestamp() + :pause) "
    "ON CONFLICT (key) DO UPDATE SET paused_until = "
    "GREATEST(send_pacing.paused_until, clock_timestamp() + :pause)"
)
# A recipient refused a token waits at least this long (its wait, read from the statement's snapshot, may
# be a moment short when another process took the token meanwhile).
MIN_PAIR_WAIT = 0.1


class PacingRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def take(
        self, pair: str, number: str, now: datetime, interval: float, burst: float, step: float
    ) -> tuple[float, float]:
        """Takes the recipient's next token and then the number's next slot: ``(0, seconds until the
        slot)``; or, with no token left, ``(seconds to wait for the recipient, 0)`` and nothing used."""
        row = (
            await self._conn.execute(
                _TAKE,
                {
                    "pair": pair,
                    "number": number,
                    "now": now,
                    "interval": interval,
                    "burst": burst,
                    "step": timedelta(seconds=step),
                },
            )
        ).one()
        if row.number_wait is not None:
            return 0.0, max(float(row.number_wait), 0.0)
        tokens = float(row.tokens) if row.tokens is not None else 0.0
        return max((1 - tokens) * interval, MIN_PAIR_WAIT), 0.0

    async def penalise_pair(self, key: str, now: datetime, seconds: float, interval: float) -> None:
        """After a 131056: nothing more to this recipient for ``seconds``."""
        await self._conn.execute(
            postgresql.insert(send_pacing)
            .values(key=key, tokens=-seconds / interval, stamp=now)
            .on_conflict_do_update(index_elements=["key"], set_={"tokens": -seconds / interval, "stamp": now})
        )

    async def pause(self, key: str, seconds: float) -> None:
        await self._conn.execute(_PAUSE, {"key": key, "pause": timedelta(seconds=seconds)})

    async def forget_full(self, before: datetime) -> int:
        """Drops the recipients' buckets last used before ``before`` (full again: the same as no row)."""
        result = await self._conn.execute(
            delete(send_pacing).where(send_pacing.c.stamp.is_not(None), send_pacing.c.stamp < before)
        )
        return int(result.rowcount)
