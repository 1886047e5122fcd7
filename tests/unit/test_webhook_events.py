from __future__ import annotations

import json

import pytest

from bot.sandbox import whatsapp_payloads as payloads
from bot.whatsapp.webhook_events import MalformedWebhook, signature_valid, split_webhook

PHONE_ID = "100000000000001"


def test_a_batch_is_split_into_one_event_per_message_and_status() -> None:
    body = payloads.encode(
        payloads.batch(
            payloads.text_message(PHONE_ID, "33600000001", "un"),
            payloads.text_message(PHONE_ID, "33600000002", "deux"),
            payloads.status(PHONE_ID, "wamid.A", "delivered", "33600000001"),
        )
    )
    events = split_webhook(body)
    assert [e.event_type for e in events] == ["message", "message", "status"]
    assert events[2].key == "wamid.A:delivered"
    for event in events:
        single = json.loads(event.payload)
        value = single["entry"][0]["changes"][0]["value"]
        assert len(value.get("messages", [])) + len(value.get("statuses", [])) == 1
        assert value["contacts"][0]["user_id"]
    assert (
        json.loads(events[1].payload)["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"]
        == "deux"
    )
    assert events[0].sender == "33600000001"


def test_a_lone_status_is_kept_as_it_came() -> None:
    body = payloads.encode(payloads.status(PHONE_ID, "wamid.B", "read", "33600000001"))
    [event] = split_webhook(body)
    assert event.payload == body.decode()
    assert (event.key, event.phone_number_id) == ("wamid.B:read", PHONE_ID)


def test_a_lone_message_is_kept_as_it_came_with_its_sender() -> None:
    body = payloads.encode(payloads.text_message(PHONE_ID, "33600000001", "bonjour", wamid="wamid.C"))
    [event] = split_webhook(body)
    assert event.payload == body.decode()
    assert (event.key, event.event_type, event.sender, event.phone_number_id) == (
        "wamid.C",
        "message",
        "33600000001",
        PHONE_ID,
    )


def test_a_lone_message_whose_contact_lacks_its_user_id_is_given_one() -> None:
    message = payloads.text_message(PHONE_ID, "33600000001", "bonjour", wamid="wamid.D")
    del message["entry"][0]["changes"][0]["value"]["contacts"][0]["user_id"]
    [event] = split_webhook(payloads.encode(message))
    contact = json.loads(event.payload)["entry"][0]["changes"][0]["value"]["contacts"][0]
    assert contact["user_id"] == "33600000001"


def test_card_numbers_are_redacted_before_storing() -> None:
    body = payloads.encode(payloads.text_message(PHONE_ID, "33600000001", "carte 4242424242424242"))
    [event] = split_webhook(body)
    assert "4242" not in event.payload


@pytest.mark.parametrize(
    "body", [b"", b"nope", b"[]", b'{"entry": 3}', b'{"entry": [{"changes": [{"x": 1}]}]}']
)
def test_bodies_that_are_not_webhooks_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        split_webhook(body)


def test_the_signature_is_checked_on_the_exact_bytes() -> None:
    body = b'{"a": 1}'
    header = payloads.sign(body, "secret")
    assert signature_valid(body, header, "secret")
    assert not signature_valid(body + b" ", header, "secret")
    assert not signature_valid(body, header, "other")
    assert not signature_valid(body, None, "secret")


def test_a_lone_surrogate_is_stored_escaped_rather_than_breaking_the_commit() -> None:
    body = payloads.encode(payloads.text_message(PHONE_ID, "33600000001", "x\ud800y"))
    [event] = split_webhook(body)
    event.payload.encode("utf-8")
