"""Notes to a vendor that piled up for one admin behind WhatsApp's per-user pace, sent as one digest
("5 payments received: #3, #7, ...", then each note) instead of one message every 6 s."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.rendering import render

# The notes a digest may carry: about the vendor's orders, with no buttons. Forwarded customer messages
# and the replies to the vendor's own commands are not notes.
DIGEST_KINDS = frozenset(
    {
        "vendor_payment_received",
        "vendor_refund_done",
        "vendor_payment_anomaly",
        "vendor_payment_failed",
        "vendor_delivery_failed",
        "vendor_hold_expired",
        "vendor_guarantee_held",
        "vendor_guarantee_released",
        "vendor_guarantee_lapsing",
        "vendor_reminders_exhausted",
    }
)
# How many notes one digest takes at most (its text is also bounded by the channel's limit).
MAX_NOTES = 50
# WhatsApp's limit for a text body; a template parameter is much shorter.
TEXT_LIMIT = 4096
TEMPLATE_PARAMETER_LIMIT = 1000
# Notes name their order as "#12" (``Order.reference``), first in their text.
_ORDER = re.compile(r"#\d+")


@dataclass(frozen=True, slots=True)
class Note:
    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class _Group:
    kind: str
    count: int
    orders: list[str]


def can_join(kind: str, payload: dict[str, object]) -> bool:
    """Whether a queued message is a note a digest may carry."""
    return kind in DIGEST_KINDS and not payload.get("buttons") and not payload.get("list")


def digest(locale: str, notes: Sequence[Note], limit: int = TEXT_LIMIT) -> tuple[str, int]:
    """The digest of the first notes that fit within ``limit`` characters (always at least the first);
    returns its text and how many notes it carries (the rest wait for the next one)."""
    taken = len(notes)
    while True:
        text = _render(locale, notes[:taken])
        if len(text) <= limit or taken == 1:
            return text, taken
        taken -= 1


def _render(locale: str, notes: Sequence[Note]) -> str:
    groups: dict[str, _Group] = {}
    for note in notes:
        group = groups.setdefault(note.kind, _Group(note.kind, 0, []))
        found = _ORDER.search(note.text)
        if found is not None and found.group() not in group.orders:
            group.orders.append(found.group())
        groups[note.kind] = _Group(note.kind, group.count + 1, group.orders)
    return render("digest/vendor_notes", locale, groups=list(groups.values()), texts=[n.text for n in notes])
