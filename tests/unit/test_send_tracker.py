"""The tracker each WhatsApp send carries: it names its outbox rows, and only ours are read back."""

from __future__ import annotations

import pytest

from bot.domain.outgoing import send_tracker, tracked_rows


def test_a_tracker_names_the_row_then_the_notes_carried_in_it_and_reads_back_the_same() -> None:
    assert send_tracker(42) == "wpa-outbox:42"
    assert tracked_rows(send_tracker(42, [43, 50])) == [42, 43, 50]


@pytest.mark.parametrize(
    "tracker",
    [
        None,
        7,
        "",
        "inv:42",
        "wpa-outbox:",
        "wpa-outbox:1,,2",
        "wpa-outbox:-1",
        "wpa-outbox:١٢",
        "wpa-outbox:" + "9" * 19,
    ],
)
def test_anything_that_is_not_one_of_our_trackers_names_no_row(tracker: object) -> None:
    assert tracked_rows(tracker) == []
