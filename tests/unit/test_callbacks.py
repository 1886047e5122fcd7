"""Buttons and list rows: what they carry back decodes to what was encoded, and nothing else does."""

from __future__ import annotations

import pytest

from bot.domain.deposit import AskKind
from bot.handlers import callbacks


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (callbacks.PayChoice(12, "deposit"), "pay:12:deposit"),
        (callbacks.AmountPick(12, "45.00"), "amt:12:45.00"),
        (callbacks.OtherAmount(12), "other:12"),
        (callbacks.ConfirmRequest(12, AskKind.BALANCE, "105.00"), "ok:12:balance:105.00"),
        (callbacks.Resend(3), "resend:3"),
        (callbacks.ConfirmRefund(7, "20.00"), "rf:7:20.00"),
        (callbacks.CancelRefund(7), "rf:7:cancel"),
    ],
)
def test_each_tap_decodes_to_what_its_button_encoded_in_the_form_sent_before(
    data: callbacks.Callback, wire: str
) -> None:
    assert callbacks.encode(data) == wire
    assert callbacks.decode(wire) == data


@pytest.mark.parametrize(
    "wire",
    ["", "pay", "pay:x:full", "pay:0:full", "pay:12:everything", "amt:12:-5", "ok:12:refund:45", "rf:12:",
     "other:12:more", "ok:1234567890:full:1", "amt:12:1e9"],
)  # fmt: skip
def test_a_stale_or_forged_tap_decodes_to_nothing(wire: str) -> None:
    assert callbacks.decode(wire) is None
