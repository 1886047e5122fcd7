"""What the sandbox page's two phones show: every message the bot sent through the fake Graph API, every
message typed in a phone, and their ticks, as a numbered list of events that the page replays on load
and then follows as server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bot.sandbox.graph import FakeGraphAPI, SentMessage
from bot.sandbox.instagram import FakeInstagramAPI, InstagramSent
from bot.store.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)
Event = dict[str, Any]
Side = Literal["bot", "me"]
# Ticks only move forward: a late "delivered" after "read" changes nothing.
RANK = {"sending": 0, "sent": 1, "delivered": 2, "read": 3}
KEPT_EVENTS = 5000
# The Instagram customer's messages are those of "phone" ig:<Instagram-scoped id>.
INSTAGRAM_KEY = "ig:"
TEMPLATE_TEXT_WAIT_SECONDS = 3.0


@dataclass(slots=True)
class Bubble:
    """One message in one phone: ``side`` "bot" for what the bot sent to the phone, "me" for what was
    typed (or tapped) in it."""

    id: str
    phone: str  # digits only, or ig:<Instagram-scoped id> for the Instagram customer
    side: Side
    text: str
    at: datetime
    order: int
    status: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    list_button: str | None = None
    rows: list[dict[str, str | None]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    header: str | None = None
    footer: str | None = None
    template: str | None = None

    def as_json(self) -> Event:
        return {
            "id": self.id,
            "phone": self.phone,
            "side": self.side,
            "text": self.text,
            "at": self.at.isoformat(),
            "order": self.order,
            "status": self.status,
            "buttons": self.buttons,
            "list_button": self.list_button,
            "rows": self.rows,
            "links": self.links,
            "header": self.header,
            "footer": self.footer,
            "template": self.template,
        }

    def choice(self, choice_id: str) -> tuple[Literal["button", "list"], dict[str, Any]] | None:
        """The reply button or list row ``choice_id`` of this message, if it has one."""
        for button in self.buttons:
            if button["id"] == choice_id:
                return "button", button
        for row in self.rows:
            if row["id"] == choice_id:
                return "list", row
        return None


def _bubble(message: SentMessage, order: int) -> Bubble:
    bubble = Bubble(
        id=message.wamid,
        phone=message.to,
        side="bot",
        text=message.text,
        at=message.at,
        order=order,
        status="sent",
        header=message.header,
        footer=message.footer,
        template=message.template_name,
    )
    if message.interactive_type == "button":
        bubble.buttons = [{"id": c.id, "title": c.title} for c in message.buttons]
    elif message.interactive_type == "list":
        bubble.list_button = message.list_button
        bubble.rows = [
            {"id": c.id, "title": c.title, "description": c.description, "section": c.section}
            for c in message.buttons
        ]
    bubble.links = [{"title": c.title, "url": c.url} for c in message.buttons if c.url is not None]
    return bubble


class SandboxJournal:
    def __init__(self, uow: Callable[[], UnitOfWorkFactory], clock: Callable[[], datetime]) -> None:
        self._uow = uow
        self._clock = clock
        # Which run of the bot: a page that reconnects to a restarted bot starts again from scratch.
        self.instance = secrets.token_hex(8)
        self._seq = itertools.count(1)
        self._order = itertools.count(1)
        self._events: list[tuple[int, Event]] = []
        self._bubbles: dict[str, Bubble] = {}
        self._shown: set[str] = set()
        self._subscribers: list[asyncio.Queue[tuple[int, Event] | None]] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, graph: FakeGraphAPI) -> None:
        graph.listen(self._on_send, self._on_status)

    def attach_instagram(self, instagram: FakeInstagramAPI) -> None:
        """The Instagram customer's phone: its messages are keyed ``ig:<their id>``."""
        instagram.listen(self._on_instagram)

    def _on_instagram(self, message: InstagramSent) -> None:
        bubble = Bubble(
            message.mid,
            INSTAGRAM_KEY + message.to,
            "bot",
            message.text,
            self._clock(),
            next(self._order),
            "sent",
        )
        self._bubbles[bubble.id] = bubble
        self._show(bubble)

    # -- what happens -------------------------------------------------------------------------------

    def _on_send(self, message: SentMessage) -> None:
        bubble = _bubble(message, next(self._order))
        self._bubbles[bubble.id] = bubble
        if message.kind == "template":
            # The phone shows the approved template filled in: the bot's own text for this message.
            task = asyncio.create_task(self._show_template(bubble))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._show(bubble)

    def _on_status(self, message: SentMessage, status: str) -> None:
        bubble = self._bubbles.get(message.wamid)
        if bubble is not None:
            self.set_status(bubble, status)

    def typed(self, phone: str, wamid: str, text: str) -> Bubble:
        """A message typed or tapped in a phone, about to be posted to the bot."""
        bubble = Bubble(wamid, phone, "me", text, self._clock(), next(self._order), "sending")
        self._bubbles[wamid] = bubble
        self._show(bubble)
        return bubble

    def set_status(self, bubble: Bubble, status: str) -> None:
        if status != "failed" and RANK.get(status, 0) <= RANK.get(bubble.status, 0):
            return
        bubble.status = status
        if bubble.id in self._shown:
            self._emit({"type": "status", "id": bubble.id, "status": status})

    def clock_moved(self, details: Event) -> None:
        self._emit({"type": "clock", **details})

    def find(self, wamid: str) -> Bubble | None:
        return self._bubbles.get(wamid)

    def _show(self, bubble: Bubble) -> None:
        self._shown.add(bubble.id)
        while len(self._bubbles) > KEPT_EVENTS:  # the oldest messages are forgotten, as their events are
            oldest = next(iter(self._bubbles))
            del self._bubbles[oldest]
            self._shown.discard(oldest)
        self._emit({"type": "message", "message": bubble.as_json()})

    async def _show_template(self, bubble: Bubble) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TEMPLATE_TEXT_WAIT_SECONDS
        try:
            while loop.time() < deadline:
                # The sender records the message id right after Graph answers.
                async with self._uow()() as uow:
                    row = await uow.outbox.by_wamid(bubble.id)
                if row is not None:
                    bubble.text = str(row.payload.get("text") or bubble.text)
                    break
                await asyncio.sleep(0.05)
        except Exception:  # noqa: BLE001 - shown with its parameters rather than not at all
            log.exception("sandbox: the text of template message %s could not be read", bubble.id)
        self._show(bubble)

    # -- followers ----------------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        seq = next(self._seq)
        self._events.append((seq, event))
        if len(self._events) > KEPT_EVENTS:
            del self._events[: len(self._events) - KEPT_EVENTS]
        for queue in self._subscribers:
            queue.put_nowait((seq, event))

    def since(self, after: int) -> list[tuple[int, Event]]:
        """The events after number ``after``: all of them for a page that just loaded."""
        if after > self.last_seq or (self._events and self._events[0][0] > after + 1):
            # A follower from before a restart, or one that missed events no longer kept: from scratch.
            after = 0
        return [(seq, event) for seq, event in self._events if seq > after]

    @property
    def last_seq(self) -> int:
        return self._events[-1][0] if self._events else 0

    def subscribe(self) -> asyncio.Queue[tuple[int, Event] | None]:
        queue: asyncio.Queue[tuple[int, Event] | None] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[tuple[int, Event] | None]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    async def close(self) -> None:
        """Ends every follower's stream (so the server can stop) and the pending template look-ups."""
        for queue in self._subscribers:
            queue.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
