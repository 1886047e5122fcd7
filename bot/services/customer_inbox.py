"""Customers' plain messages to their vendor, many at a time: what the inbox worker does with a burst.

Each message is marked processed in the same transaction that records the customer (created if new, its
24-hour window opened) and queues the replies, so a crash applies a batch wholly or not at all: each
message is forwarded once. WhatsApp paces every recipient (about one message per 6 s), so the messages
of many customers within one batch reach each admin as one note (several only when too long for one
WhatsApp message), not one note each.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from bot.domain.customer import Customer
from bot.domain.outgoing import OutgoingMessage
from bot.domain.vendor import Vendor
from bot.rendering import render_for
from bot.services.messages import customer_locale
from bot.store.repositories.customer_batch import Arrival
from bot.store.uow import UnitOfWork, UnitOfWorkFactory

CUSTOMER_REPLY = "customer_reply"
VENDOR_NOTE = "vendor_customer_message"
# WhatsApp takes 4096 characters in a text; a note is cut well before, between two messages.
NOTE_CHARACTERS = 3500


@dataclass(frozen=True, slots=True)
class CustomerText:
    """A text a customer (or, as far as the caller knows, someone) sent to a business number."""

    event_id: int
    phone_number_id: str | None
    sender: str
    at: datetime
    name: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Forwarded:
    forwarded: int  # messages forwarded now (those processed before are not counted)
    left: list[int]  # events for the full handler: an admin wrote, or no vendor has the number
    queued: bool  # replies were queued: the sender has work


async def forward_customer_texts(
    uow_factory: UnitOfWorkFactory, default_phone_id: str, texts: list[CustomerText], now: datetime
) -> Forwarded:
    if not texts:
        return Forwarded(0, [], False)
    async with uow_factory() as uow:
        vendor_of, left = await _vendors_of_senders(uow, default_phone_id, texts)
        mine = [t for t in texts if t.event_id in vendor_of]
        # Claimed in this transaction: a message another worker applied is not applied again.
        claimed = await uow.inbox.claim_many_processed([t.event_id for t in mine], now)
        mine = [t for t in mine if t.event_id in claimed]
        vendors = {vendor.id: vendor for vendor, _ in vendor_of.values()}
        found = await uow.customer_batch.arrive(
            [Arrival(vendor_of[t.event_id][0].id, t.sender, t.at, t.name) for t in mine]
        )
        messages = _replies(vendors, vendor_of, mine, found)
        await uow.outbox.add_many(messages, now)
        await uow.commit()
    return Forwarded(len(mine), left, bool(messages))


async def _vendors_of_senders(
    uow: UnitOfWork, default_phone_id: str, texts: list[CustomerText]
) -> tuple[dict[int, tuple[Vendor, list[str]]], list[int]]:
    """Each customer's message with its vendor and that vendor's admin phones, as ``identify`` picks
    them (the vendor of the number who knows the customer, else the number's first vendor); admins'
    messages and numbers of no vendor are left out."""
    numbers: dict[str | None, list[Vendor]] = {}
    for number in {t.phone_number_id for t in texts}:
        numbers[number] = await uow.vendors.for_number(number, default_phone_id)
    every = list({v.id: v for found in numbers.values() for v in found}.values())
    admins = await uow.customer_batch.admins([v.id for v in every])
    known = await uow.customer_batch.existing([v.id for v in every], list({t.sender for t in texts}))
    chosen: dict[int, tuple[Vendor, list[str]]] = {}
    left: list[int] = []
    for text in texts:
        candidates = numbers[text.phone_number_id]
        if not candidates or any(text.sender in admins[v.id] for v in candidates):
            left.append(text.event_id)
            continue
        vendor = next((v for v in candidates if (v.id, text.sender) in known), candidates[0])
        chosen[text.event_id] = (vendor, admins[vendor.id])
    return chosen, left


def _replies(
    vendors: dict[uuid.UUID, Vendor],
    vendor_of: dict[int, tuple[Vendor, list[str]]],
    texts: list[CustomerText],
    found: dict[tuple[uuid.UUID, str], Customer],
) -> list[OutgoingMessage]:
    messages: list[OutgoingMessage] = []
    thanked: set[tuple[uuid.UUID, str]] = set()
    lines: dict[uuid.UUID, list[dict[str, str | None]]] = {}
    for text in texts:
        vendor = vendor_of[text.event_id][0]
        customer = found[(vendor.id, text.sender)]
        if (vendor.id, text.sender) not in thanked:  # one thank-you per customer and batch
            thanked.add((vendor.id, text.sender))
            locale = customer_locale(vendor, customer)
            reply = render_for(vendor, "chat/forwarded", locale, vendor=vendor.name)
            messages.append(
                OutgoingMessage(
                    vendor.id, customer.phone or text.sender, CUSTOMER_REPLY, locale, reply, (reply,),
                    customer_id=customer.id,
                )
            )  # fmt: skip
        name = customer.name or text.name
        lines.setdefault(vendor.id, []).append(
            {"customer": f"+{text.sender}", "name": name, "text": text.text}
        )
    for vendor_id, said in lines.items():
        vendor = vendors[vendor_id]
        admins = next(phones for v, phones in vendor_of.values() if v.id == vendor_id)
        for note in _notes(vendor, said):
            messages += [
                OutgoingMessage(vendor.id, phone, VENDOR_NOTE, vendor.locale, note, (note,))
                for phone in admins
            ]
    return messages


def _notes(vendor: Vendor, said: list[dict[str, str | None]]) -> list[str]:
    """One note for one message (the words of a single forward), else as few notes as fit."""
    if len(said) == 1:
        return [render_for(vendor, "chat/customer_message", vendor.locale, **said[0])]
    notes: list[str] = []
    chunk: list[dict[str, str | None]] = []
    size = 0
    for line in said:
        length = len(line["text"] or "") + len(line["name"] or "") + 40
        if chunk and size + length > NOTE_CHARACTERS:
            notes.append(_note(vendor, chunk))
            chunk, size = [], 0
        chunk.append(line)
        size += length
    notes.append(_note(vendor, chunk))
    return notes


def _note(vendor: Vendor, chunk: list[dict[str, str | None]]) -> str:
    if len(chunk) == 1:
        return render_for(vendor, "chat/customer_message", vendor.locale, **chunk[0])
    return render_for(vendor, "chat/customer_messages", vendor.locale, count=len(chunk), messages=chunk)
