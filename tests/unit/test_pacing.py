"""WhatsApp's sending limits as the sender keeps them: per business number and per user."""

from __future__ import annotations

import asyncio
import time

from bot.whatsapp.pacing import NumberRate, PairPacing


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_user_gets_a_burst_of_ten_then_one_message_every_six_seconds() -> None:
    clock = FakeTime()
    pacing = PairPacing(6.0, burst=10, monotonic=clock)
    assert [pacing.take("phone", "user") for _ in range(10)] == [0.0] * 10
    assert pacing.take("phone", "user") == 6.0
    assert pacing.take("phone", "other user") == 0.0
    clock.now += 6.0
    assert pacing.take("phone", "user") == 0.0
    assert pacing.take("phone", "user") == 6.0


def test_a_slot_refused_is_not_used_up() -> None:
    clock = FakeTime()
    pacing = PairPacing(6.0, burst=1, monotonic=clock)
    assert pacing.take("phone", "user") == 0.0
    for _ in range(5):
        assert pacing.take("phone", "user") == 6.0
    clock.now += 6.0
    assert pacing.take("phone", "user") == 0.0


async def test_a_number_s_sends_are_spaced_evenly_with_no_burst() -> None:
    rate = NumberRate(50.0)
    started = time.monotonic()
    for _ in range(11):
        await rate.acquire("phone")
    # Eleven sends at 50/s take at least ten intervals of 20 ms: no bucket let a batch through at once.
    assert time.monotonic() - started >= 0.19
    await asyncio.wait_for(rate.acquire("another phone"), timeout=0.05)
