"""The sandbox page (``/sandbox``): the vendor's phone and a customer's, side by side, and an Instagram
customer's (typed there: a signed Instagram webhook to ``/webhooks/instagram``; the bot's answers come
through the Send API to the sandbox's fake Instagram).

What is typed in a phone goes to the bot as a signed WhatsApp webhook through the real inbound path
(``/webhooks/whatsapp``); what the bot sends goes through the real pywa sender to the built-in fake Graph
API, which the page follows as server-sent events (``/sandbox/events``), ticks included. A clock control
moves the sandbox's time forward and sweeps reminders at once. The guide's last step opens the vendor's
dashboard signed in as the vendor's admin (``/sandbox/dashboard``, a one-time link as ``bot admin link``'s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from aiohttp import web
from babel.dates import format_datetime

from bot.jobs.catalogue import REMINDER_SWEEP
from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.clock import SandboxClock
from bot.sandbox.demo import People, ensure_sandbox_templates, people
from bot.sandbox.graph import FakeGraphAPI
from bot.sandbox.journal import INSTAGRAM_KEY, Event, SandboxJournal
from bot.sandbox.keys import graph_key, instagram_fake_key, journal_key, sandbox_demo_key
from bot.sandbox.ui import page_locale, render_sandbox, vendor_commands, words
from bot.services import admin_auth, reminders
from bot.web.keys import clock_key, instagram_key, jobs_key, settings_key, uow_key, whatsapp_key

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
FAVICON = STATIC / "favicon.svg"
KEEP_ALIVE_SECONDS = 15.0
# The fake WhatsApp ticks a little apart, so that the page shows them moving.
TICK_DELAY_SECONDS = 0.25
STEPS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}
PHONE = re.compile(r"\d{8,15}")
MAX_TEXT = 4096
MAX_INSTAGRAM_TEXT = 1000
# The sandbox's Instagram customer: an Instagram-scoped id and the username its profile gives.
INSTAGRAM_CUSTOMER = "6871234500000042"
INSTAGRAM_USERNAME = "lea.gourmande"


def install(app: web.Application, graph: FakeGraphAPI) -> list[web.AbstractRouteDef]:
    """Sandbox mode's page on ``app`` (the fake Graph API is ``graph``); returns its routes, which the
    composition root adds to the route table."""
    journal = SandboxJournal(lambda: app[uow_key], app[clock_key])
    journal.attach(graph)
    if instagram_fake_key in app:
        app[instagram_fake_key].usernames[INSTAGRAM_CUSTOMER] = INSTAGRAM_USERNAME
        journal.attach_instagram(app[instagram_fake_key])
    graph.status_delay = TICK_DELAY_SECONDS
    app[journal_key] = journal
    app.on_shutdown.append(_close_streams)
    return [
        web.get("/sandbox", page),
        web.get("/sandbox/", page),
        web.get("/sandbox/events", events),
        web.post("/sandbox/send", send),
        web.post("/sandbox/reply", reply),
        web.post("/sandbox/send-instagram", send_instagram),
        web.post("/sandbox/clock", move_clock),
        web.post("/sandbox/dashboard", dashboard),
        web.static("/sandbox/static", STATIC),
        # Browsers ask for it whatever the page says: without it, each visit logs a 404 in the console.
        web.get("/favicon.ico", favicon),
    ]


async def _close_streams(app: web.Application) -> None:
    await app[journal_key].close()


# -- the page ---------------------------------------------------------------------------------------


def _clock_offset(app: web.Application) -> timedelta:
    clock = app[clock_key]
    return clock.offset if isinstance(clock, SandboxClock) else timedelta(0)


def _clock_now(app: web.Application) -> Event:
    """The sandbox's time and how far ahead of real time it is: what every page needs to show (and tick)
    the clock in its own language, so the same for all."""
    return {"now": app[clock_key]().isoformat(), "offset": int(_clock_offset(app).total_seconds())}


def _clock_details(app: web.Application, found: People | None, locale: str) -> Event:
    """``_clock_now`` with its words in the page's language, for that page alone."""
    moment, offset = app[clock_key](), _clock_offset(app)
    zone = found.timezone if found is not None else "UTC"
    return {
        "now": moment.isoformat(),
        "offset": int(offset.total_seconds()),
        "label": now_label(moment, zone, locale),
        "ahead": ahead_label(offset, locale),
        "zone": zone,
    }


def ahead_label(offset: timedelta, locale: str) -> str:
    hours = int(offset.total_seconds() // 3600)
    if not hours:
        return ""
    return str(words(locale)["script"]["ahead"]).format(days=hours // 24, hours=hours % 24)


async def page(request: web.Request) -> web.Response:
    locale = page_locale(request.query.get("lang"), request.headers.get("Accept-Language"))
    if request.app[sandbox_demo_key]:
        # A vendor added (``bot vendor add``) while the bot runs gets its templates here.
        await ensure_sandbox_templates(request.app[uow_key], request.app[clock_key]())
    found = await people(request.app[uow_key])
    # The bot speaks the vendor's language: the guide and the placeholders name what to type in it.
    vendor_locale = found.locale if found else request.app[settings_key].vendor_locale
    clock = _clock_details(request.app, found, locale)
    instagram = None
    if instagram_fake_key in request.app:
        instagram = {"key": INSTAGRAM_KEY + INSTAGRAM_CUSTOMER, "username": INSTAGRAM_USERNAME}
    config = {
        "instagram": instagram,
        "vendorPhone": found.vendor_phone if found else None,
        "vendorName": found.vendor_name if found else "",
        "customers": [{"phone": p.phone, "name": p.name} for p in found.customers] if found else [],
        "timezone": clock["zone"],
        "lang": locale,
        "locale": "en-GB" if locale == "en" else locale,  # 24-hour times, as the vendor's clock shows
        "clock": {"now": clock["now"], "offset": clock["offset"]},
        "words": words(locale)["script"],
    }
    html = render_sandbox(
        "page",
        locale,
        people=found,
        clock=clock,
        vendor_locale=vendor_locale,
        commands=vendor_commands(vendor_locale),
        adjustable=isinstance(request.app[clock_key], SandboxClock),
        instagram=instagram,
        config=json.dumps(config, ensure_ascii=False),
    )
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


async def favicon(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(FAVICON, headers={"Content-Type": "image/svg+xml"})


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: everything so far (or since ``Last-Event-ID``), then each event as it comes."""
    journal = request.app[journal_key]
    try:
        after = int(request.headers.get("Last-Event-ID") or request.query.get("after") or 0)
    except ValueError:
        after = 0
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    queue = journal.subscribe()
    try:
        # ``last``: the events up to it are the history a page replays, not news to point out.
        hello = json.dumps({"instance": journal.instance, "last": journal.last_seq})
        await response.write(f"event: hello\ndata: {hello}\n\n".encode())
        last = after
        for seq, event in journal.since(after):
            await _write(response, seq, event)
            last = seq
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), KEEP_ALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:
                break
            seq, event = item
            if seq > last:
                await _write(response, seq, event)
                last = seq
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        journal.unsubscribe(queue)
    with contextlib.suppress(ConnectionError):
        await response.write_eof()
    return response


async def _write(response: web.StreamResponse, seq: int, event: Event) -> None:
    data = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    await response.write(f"id: {seq}\nevent: {event['type']}\ndata: {data}\n\n".encode())


# -- typing and tapping in a phone --------------------------------------------------------------------


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="a JSON object is expected") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    return body


def _phone(body: dict[str, Any]) -> str:
    phone = payloads.digits(str(body.get("phone", "")))
    if not PHONE.fullmatch(phone):
        raise web.HTTPBadRequest(text="phone: an international number, 8 to 15 digits")
    return phone


async def _sender_details(app: web.Application, phone: str) -> tuple[str, str]:
    """The business number the phones write to, and the WhatsApp profile name of ``phone``."""
    found = await people(app[uow_key])
    phone_id = (found.phone_number_id if found else None) or app[whatsapp_key].config.default_phone_id
    name = "Client"
    if found is not None:
        if phone == found.vendor_phone:
            name = found.vendor_name
        name = next((p.name for p in found.customers if p.phone == phone and p.name), name)
    return phone_id, name


async def _post(app: web.Application, phone: str, shown: str, payload: Event) -> web.Response:
    """Shows the message in the phone, then posts it, signed, to the bot's WhatsApp webhook."""
    journal = app[journal_key]
    wamid = str(payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"])
    bubble = journal.typed(phone, wamid, shown)
    delivery = await app[graph_key].deliver(payload)
    journal.set_status(bubble, "delivered" if delivery.ok else "failed")
    return web.json_response({"id": wamid, "status": bubble.status}, status=200 if delivery.ok else 502)


async def send(request: web.Request) -> web.Response:
    """``{"phone": "336...", "text": "payé 1"}``: a text typed in a phone."""
    body = await _json(request)
    phone = _phone(body)
    text = str(body.get("text", "")).strip()
    if not text or len(text) > MAX_TEXT:
        raise web.HTTPBadRequest(text=f"text: 1 to {MAX_TEXT} characters")
    phone_id, name = await _sender_details(request.app, phone)
    stamp = request.app[clock_key]().timestamp()
    payload = payloads.text_message(phone_id, phone, text, name=name, timestamp=stamp)
    return await _post(request.app, phone, text, payload)


async def reply(request: web.Request) -> web.Response:
    """``{"phone": ..., "context": wamid, "id": choice}``: a tap on a reply button or a list row."""
    body = await _json(request)
    phone = _phone(body)
    journal = request.app[journal_key]
    message = journal.find(str(body.get("context", "")))
    if message is None or message.side != "bot" or message.phone != phone:
        raise web.HTTPBadRequest(text="context: a message the bot sent to this phone")
    found = message.choice(str(body.get("id", "")))
    if found is None:
        raise web.HTTPBadRequest(text="id: one of that message's buttons or rows")
    kind, choice = found
    phone_id, name = await _sender_details(request.app, phone)
    stamp = request.app[clock_key]().timestamp()
    title = str(choice["title"])
    if kind == "button":
        payload = payloads.button_reply(
            phone_id, phone, str(choice["id"]), title, context_wamid=message.id, name=name, timestamp=stamp
        )
    else:
        payload = payloads.list_reply(
            phone_id, phone, str(choice["id"]), title, context_wamid=message.id,
            description=choice.get("description"), name=name, timestamp=stamp,
        )  # fmt: skip
    return await _post(request.app, phone, title, payload)


async def send_instagram(request: web.Request) -> web.Response:
    """``{"text": "Bonjour"}``: typed by the Instagram customer; posted to the bot, signed, as Instagram's
    webhook (``/webhooks/instagram``), the way Meta would."""
    if instagram_fake_key not in request.app:
        raise web.HTTPNotFound(text="the sandbox has no Instagram here")
    body = await _json(request)
    text = str(body.get("text", "")).strip()
    if not text or len(text) > MAX_INSTAGRAM_TEXT:
        raise web.HTTPBadRequest(text=f"text: 1 to {MAX_INSTAGRAM_TEXT} characters")
    fake = request.app[instagram_fake_key]
    account = request.app[instagram_key].account_id
    payload = fake.text_message(account, INSTAGRAM_CUSTOMER, text)
    mid = str(payload["entry"][0]["messaging"][0]["message"]["mid"])
    journal = request.app[journal_key]
    bubble = journal.typed(INSTAGRAM_KEY + INSTAGRAM_CUSTOMER, mid, text)
    delivery = await fake.deliver(payload)
    journal.set_status(bubble, "delivered" if delivery.ok else "failed")
    return web.json_response({"id": mid, "status": bubble.status}, status=200 if delivery.ok else 502)


# -- the dashboard ------------------------------------------------------------------------------------


async def dashboard(request: web.Request) -> web.Response:
    """The guide's button: the dashboard, signed in as the page's vendor phone (the vendor's first admin),
    through a one-time sign-in link made as ``bot admin link`` makes it, which the browser follows."""
    origin = request.headers.get("Origin")
    ours = {request.host, urlsplit(request.app[settings_key].base_url).netloc}
    if origin and urlsplit(origin).netloc not in ours:
        raise web.HTTPForbidden(text="the dashboard opens from the sandbox page only")
    found = await people(request.app[uow_key])
    url = None
    if found is not None and found.vendor_phone is not None:
        # Relative: the browser stays at the address it opened the sandbox page at.
        url = await admin_auth.make_link(
            request.app[uow_key], found.vendor_phone, "", request.app[clock_key]()
        )
    if url is None:
        raise web.HTTPConflict(text="no vendor admin to sign in as: add a vendor with bot vendor add")
    log.info("sandbox: the dashboard opened as the vendor's admin")
    raise web.HTTPSeeOther(url)


# -- the clock ----------------------------------------------------------------------------------------


async def move_clock(request: web.Request) -> web.Response:
    """``{"advance": "1h"|"1d"}``: moves the sandbox's time forward, then sweeps reminders at once. Answers
    in the page's language (``?lang=``): the clock, and what the sweep did or when the next reminder comes."""
    clock = request.app[clock_key]
    if not isinstance(clock, SandboxClock):
        raise web.HTTPConflict(text="this clock cannot be moved")
    body = await _json(request)
    step = STEPS.get(str(body.get("advance", "")))
    if step is None:
        raise web.HTTPBadRequest(text=f"advance: one of {', '.join(STEPS)}")
    clock.advance(step)
    uow = request.app[uow_key]
    # The job itself, so that it never runs twice at once (the runner wakes the sender after it).
    queued = await request.app[jobs_key].run_now(REMINDER_SWEEP) or 0
    # Every page hears of the move; each one words it in its own language.
    request.app[journal_key].clock_moved(_clock_now(request.app))
    locale = page_locale(request.query.get("lang"), request.headers.get("Accept-Language"))
    details = _clock_details(request.app, await people(uow), locale)
    upcoming = None if queued else await reminders.next_reminder(uow, clock())
    log.info("sandbox: clock moved forward %s (%s ahead); %d reminders queued", step, clock.offset, queued)
    return web.json_response({**details, "queued": queued, "result": sweep_result(queued, upcoming, locale)})


def sweep_result(queued: int, upcoming: reminders.NextReminder | None, locale: str) -> str:
    """What a move of the clock did: the reminders sent, or when the next one comes and why not now."""
    page_words = words(locale)
    if queued:
        return str(page_words["queued"]).format(n=queued)
    if upcoming is None:
        return str(page_words["next_none"])
    when = now_label(upcoming.at, upcoming.timezone, locale)
    if upcoming.held_by is not None:
        quiet = str(page_words["quiet_hours"]).format(start=upcoming.held_by.start, end=upcoming.held_by.end)
        return str(page_words["next_quiet"]).format(quiet=quiet, when=when)
    return str(page_words["next_due"]).format(when=when)


def now_label(moment: datetime, zone: str, locale: str) -> str:
    return format_datetime(moment, "EEEE d MMMM, HH:mm", tzinfo=ZoneInfo(zone), locale=locale)
