"""The WhatsApp webhook and outbox rules, over HTTP against the real app and the fake Graph API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.domain.deposit import AskKind
from bot.domain.outgoing import OutgoingMessage
from bot.sandbox import whatsapp_payloads as payloads
from bot.services import orders as order_service, payments as payment_service, vendors as vendor_service
from bot.store.tables import inbound_events, outbox_messages
from bot.web.keys import payments_key, uow_key, whatsapp_key
from bot.whatsapp.clients import SANDBOX_PHONE_ID
from bot.whatsapp.dispatch import process_whatsapp_event
from bot.whatsapp.sender import template_parameter
from tests.whatsapp_support import ADMIN, CUSTOMER, RunningBot, start_bot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[RunningBot]:
    async for running in start_bot(tmp_path):
        yield running


async def count(bot: RunningBot, table: object, *where: object) -> int:
    async with bot.app[uow_key]() as uow:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        if where:
            query = query.where(*where)  # type: ignore[arg-type]
        return int((await uow.connection.execute(query)).scalar_one())


async def outbox_statuses(bot: RunningBot, kind: str) -> list[tuple[str, str]]:
    async with bot.app[uow_key]() as uow:
        rows = await uow.connection.execute(
            select(outbox_messages.c.status, outbox_messages.c.send_mode).where(
                outbox_messages.c.kind == kind
            )
        )
        return [(r.status, r.send_mode) for r in rows]


async def open_admin_window(bot: RunningBot) -> None:
    await bot.says(ADMIN, "aide")
    await bot.next_to(ADMIN)


async def test_the_same_webhook_twice_has_one_effect(bot: RunningBot) -> None:
    await open_admin_window(bot)
    payload = payloads.text_message(SANDBOX_PHONE_ID, CUSTOMER, "Bonjour")
    assert await bot.post_webhook(payload) == 200
    assert await bot.post_webhook(payload) == 200
    await bot.settle()
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert await count(bot, inbound_events, inbound_events.c.event_key == wamid) == 1
    assert len(bot.graph.sent_to(CUSTOMER)) == 1
    assert len(bot.graph.sent_to(ADMIN)) == 2


async def test_a_batch_of_fifty_events_has_fifty_effects_once(bot: RunningBot) -> None:
    customers = [f"3369900{i:04d}" for i in range(50)]
    batch = payloads.batch(*(payloads.text_message(SANDBOX_PHONE_ID, c, f"message {c}") for c in customers))
    assert await bot.post_webhook(batch) == 200
    assert await bot.post_webhook(batch) == 200
    await bot.settle()
    assert await count(bot, inbound_events, inbound_events.c.event_type == "message") == 50
    assert await count(bot, outbox_messages, outbox_messages.c.kind == "customer_reply") == 50
    # Fifty customers within one batch reach the vendor as one note (WhatsApp paces each recipient).
    assert await count(bot, outbox_messages, outbox_messages.c.kind == "vendor_customer_message") == 1
    async with bot.app[uow_key]() as uow:
        [payload] = (
            await uow.connection.execute(
                select(outbox_messages.c.payload).where(outbox_messages.c.kind == "vendor_customer_message")
            )
        ).scalars()
    text = payload["text"] if isinstance(payload, dict) else json.loads(payload)["text"]
    assert text.startswith("💬 50 messages de clients") and all(f"message {c}" in text for c in customers)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 403),
        ({"X-Hub-Signature-256": "md5=x"}, 403),
    ],
)
async def test_unsigned_or_wrongly_signed_posts_are_refused_and_store_nothing(
    bot: RunningBot, headers: dict[str, str], status: int
) -> None:
    body = payloads.encode(payloads.text_message(SANDBOX_PHONE_ID, CUSTOMER, "Bonjour"))
    async with bot.http.post(f"{bot.base}/webhooks/whatsapp", data=body, headers=headers) as response:
        assert response.status == status
    assert (
        await bot.post_webhook(payloads.text_message(SANDBOX_PHONE_ID, CUSTOMER, "x"), secret="wrong") == 403
    )
    assert await count(bot, inbound_events) == 0


@pytest.mark.parametrize(
    "body", [b"\x00\xff\x13random", b'{"object": "whatsapp_business_account", "entry": [{', b"[]"]
)
async def test_random_bytes_and_truncated_json_get_400(bot: RunningBot, body: bytes) -> None:
    headers = {"X-Hub-Signature-256": payloads.sign(body, "sandbox-app-secret")}
    async with bot.http.post(f"{bot.base}/webhooks/whatsapp", data=body, headers=headers) as response:
        assert response.status == 400
    assert await count(bot, inbound_events) == 0


async def test_the_verification_challenge_is_answered_only_with_our_token(bot: RunningBot) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": "sandbox-verify-token", "hub.challenge": "1234"}
    async with bot.http.get(f"{bot.base}/webhooks/whatsapp", params=query) as response:
        assert (response.status, await response.text()) == (200, "1234")
    async with bot.http.get(
        f"{bot.base}/webhooks/whatsapp", params={**query, "hub.verify_token": "no"}
    ) as response:
        assert response.status == 403


async def test_a_card_number_is_refused_and_stored_redacted(bot: RunningBot) -> None:
    """Refused with an explanation, stored redacted, and not forwarded to the vendor."""
    await bot.says(CUSTOMER, "ma carte 4242 4242 4242 4242 exp 12/28")
    reply = await bot.next_to(CUSTOMER)
    assert "carte" in reply.text and "4242" not in reply.text
    async with bot.app[uow_key]() as uow:
        stored = (
            await uow.connection.execute(
                select(inbound_events.c.payload).where(inbound_events.c.event_type == "message")
            )
        ).scalar_one()
    assert "4242" not in stored and "[card number removed]" in stored
    assert bot.graph.sent_to(ADMIN) == []


async def new_request(bot: RunningBot, phone: str = CUSTOMER) -> str:
    deps = bot.app[payments_key]
    order = await order_service.create_order(deps.uow, None, f"+{phone}", "150", "", True, deps.clock())
    outcome = await payment_service.request_payment(deps, None, order.number, AskKind.FULL)
    return outcome.url


async def test_a_customer_outside_the_window_gets_the_approved_template(bot: RunningBot) -> None:
    deps = bot.app[payments_key]
    await vendor_service.change_settings(
        deps.uow, None, [("template.payment_request", "payment_link")], None, deps.clock()
    )
    url = await new_request(bot)
    sent = await bot.next_to(CUSTOMER)
    assert sent.kind == "template" and sent.template_name == "payment_link"
    assert "150.00 EUR" in sent.text and url in sent.text
    await bot.settle()
    assert await outbox_statuses(bot, "payment_request") in (
        [("sent", "template")],
        [("delivered", "template")],
        [("read", "template")],
    )


async def test_without_a_template_the_message_fails_and_the_vendor_is_told(bot: RunningBot) -> None:
    await open_admin_window(bot)
    await new_request(bot)
    note = await bot.next_to(ADMIN)
    assert "modèle" in note.text and "payment_request" in note.text
    await bot.settle()
    assert await outbox_statuses(bot, "payment_request") == [("failed", "auto")]
    assert bot.graph.sent_to(CUSTOMER) == []


async def test_a_131047_failed_status_turns_the_message_into_a_template(bot: RunningBot) -> None:
    deps = bot.app[payments_key]
    await vendor_service.change_settings(
        deps.uow, None, [("template.payment_request", "payment_link")], None, deps.clock()
    )
    await bot.says(CUSTOMER, "Bonjour")
    await bot.next_to(CUSTOMER)
    bot.graph.auto_statuses = ()
    await new_request(bot)
    free_text = await bot.next_to(CUSTOMER)
    assert free_text.kind == "text"
    await bot.graph.send_failed_status(free_text.wamid, 131047)
    again = await bot.next_to(CUSTOMER)
    assert again.kind == "template" and again.template_name == "payment_link"


async def test_a_130429_answer_is_retried_later_and_nothing_is_lost(bot: RunningBot) -> None:
    await bot.says(CUSTOMER, "Bonjour")
    await bot.next_to(CUSTOMER)
    bot.graph.fail_next(130429, to=CUSTOMER)
    await new_request(bot)
    sent = await bot.next_to(CUSTOMER, wait=30)
    assert "150.00 EUR" in sent.text
    assert bot.graph.attempts_to(CUSTOMER) == 3
    await bot.settle()
    assert (await outbox_statuses(bot, "payment_request"))[0][0] in {"sent", "delivered", "read"}


async def test_a_customer_cannot_run_vendor_commands(bot: RunningBot) -> None:
    deps = bot.app[payments_key]
    order = await order_service.create_order(deps.uow, None, f"+{CUSTOMER}", "150", "", True, deps.clock())
    await bot.says(CUSTOMER, f"annuler {order.number}")
    await bot.settle()
    view = await order_service.show_order(deps.uow, None, order.number)
    assert view.order.status.value == "accepted"
    assert all("Commande" not in m.text or "annul" not in m.text for m in bot.graph.sent_to(CUSTOMER))


async def test_one_vendor_s_admin_cannot_touch_another_vendor_s_orders(bot: RunningBot) -> None:
    await open_admin_window(bot)
    deps = bot.app[payments_key]
    other = vendor_service.NewVendor(
        name="Traiteur", admin_phones=["+33611111111"], phone_number_id="200000000000002"
    )
    await vendor_service.add_vendor(deps.uow, other, deps.clock())
    theirs = await order_service.create_order(
        deps.uow, "Traiteur", "+33622222222", "90", "", True, deps.clock()
    )
    await bot.says(ADMIN, f"annuler {theirs.number}")
    reply = await bot.next_to(ADMIN)
    assert "pas de commande" in reply.text
    await bot.says(ADMIN, f"caisse {theirs.number} 90")
    assert "pas de commande" in (await bot.next_to(ADMIN)).text
    view = await order_service.show_order(deps.uow, "Traiteur", theirs.number)
    assert view.transactions == []


async def test_status_webhooks_update_the_outbox_row(bot: RunningBot) -> None:
    await bot.says(CUSTOMER, "Bonjour")
    reply = await bot.next_to(CUSTOMER)
    await bot.graph.drain()
    await bot.settle()
    async with bot.app[uow_key]() as uow:
        status = (
            await uow.connection.execute(
                select(outbox_messages.c.status).where(outbox_messages.c.wamid == reply.wamid)
            )
        ).scalar_one()
    assert status == "read"
    assert json.loads(reply.raw)["to"].lstrip("+") == CUSTOMER


async def test_the_vendor_reminds_now_stops_reminders_and_sees_the_history(bot: RunningBot) -> None:
    await open_admin_window(bot)
    await bot.says(CUSTOMER, "Bonjour")
    await bot.next_to(CUSTOMER)
    await bot.next_to(ADMIN)
    await new_request(bot)
    await bot.next_to(CUSTOMER)
    await bot.says(ADMIN, "rappel 1")
    reminder = await bot.next_to(CUSTOMER)
    assert "Petit rappel" in reminder.text and "150.00 EUR" in reminder.text
    assert "Rappel envoyé" in (await bot.next_to(ADMIN)).text
    await bot.says(ADMIN, "rappels 1 off")
    assert "Plus de rappels" in (await bot.next_to(ADMIN)).text
    await bot.says(ADMIN, "statut 1")
    status = (await bot.next_to(ADMIN)).text
    assert "rappel 4 : envoyé" in status and "rappel 1 : annulé" in status


async def test_a_message_left_sending_by_a_send_that_raised_is_queued_again_without_a_restart(
    tmp_path: Path,
) -> None:
    # The sender_release job, run every 0.1 s here.
    async for bot in start_bot(tmp_path, recovery_seconds=0.1):
        await open_admin_window(bot)
        deps = bot.app[payments_key]
        stuck_since = deps.clock() - timedelta(minutes=10)
        async with deps.uow() as uow:
            vendor_id = (await uow.vendors.all())[0].id
            message = OutgoingMessage(
                vendor_id, ADMIN, "vendor_reply", "fr", "Toujours là ?", dedupe_key="stuck"
            )
            await uow.outbox.add(message, stuck_since)
            await uow.connection.execute(
                update(outbox_messages)
                .where(outbox_messages.c.dedupe_key == "stuck")
                .values(status="sending", updated_at=stuck_since)
            )
            await uow.commit()
        sent = await bot.next_to(ADMIN, wait=10)
        assert sent.text == "Toujours là ?"


def test_template_parameters_are_made_one_line_as_meta_requires() -> None:
    assert template_parameter("Payé :\n45,00 €\tmerci") == "Payé : · 45,00 € · merci"
    assert template_parameter("a      b") == "a · b"
    assert template_parameter("") == "-"


async def test_a_vendor_command_cut_off_by_a_crash_is_not_done_twice_and_the_vendor_is_told(
    bot: RunningBot,
) -> None:
    await open_admin_window(bot)
    deps = bot.app[payments_key]
    order = await order_service.create_order(deps.uow, None, f"+{CUSTOMER}", "150", "", True, deps.clock())
    payload = payloads.text_message(SANDBOX_PHONE_ID, ADMIN, f"caisse {order.number} 20")
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    now = deps.clock()
    async with deps.uow() as uow:
        event_id = await uow.inbox.add("whatsapp", wamid, "message", json.dumps(payload), now)
        # A processor took it, maybe recorded the cash, and stopped before marking it processed.
        await uow.connection.execute(
            update(inbound_events)
            .where(inbound_events.c.id == event_id)
            .values(locked_until=now - timedelta(seconds=1))
        )
        await uow.commit()
    assert event_id is not None
    assert await process_whatsapp_event(deps.uow, bot.app[whatsapp_key], deps.clock, event_id)
    notice = await bot.next_to(ADMIN)
    assert "interrompu" in notice.text and f"caisse {order.number} 20" in notice.text
    view = await order_service.show_order(deps.uow, None, order.number)
    assert view.transactions == []


async def test_statut_lists_each_reminder_and_says_when_an_order_s_reminders_are_off(bot: RunningBot) -> None:
    await open_admin_window(bot)
    await new_request(bot)

    async def status_reply() -> str:
        after = bot.graph.sent[-1].seq if bot.graph.sent else 0
        await bot.says(ADMIN, "statut 1")
        found = await bot.graph.wait_for(
            lambda m: m.to == ADMIN and m.seq > after and "Commande #1" in m.text
        )
        return found.text

    status = await status_reply()
    assert "rappel 1 : prévu" in status and "rappel 3 : prévu" in status
    await bot.says(ADMIN, "rappels 1 off")
    await bot.graph.wait_for(lambda m: m.to == ADMIN and "Plus de rappels" in m.text)
    status = await status_reply()
    assert "rappel 1 : annulé" in status and "Rappels désactivés pour cette commande" in status
