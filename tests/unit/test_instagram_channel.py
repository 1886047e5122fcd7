"""Instagram's pieces alone: the webhook's split, the Send API client at the wire (httpx.MockTransport),
and how a vendor names an Instagram customer."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from bot.channels.instagram.client import MAX_TEXT, InstagramClient, InstagramError, text_parts
from bot.channels.instagram.config import InstagramConfig
from bot.channels.instagram.webhook_events import MalformedInstagramWebhook, split_instagram_webhook
from bot.domain.channel import Channel, instagram_reference
from bot.domain.customer import Customer, apply_customer_setting
from bot.domain.errors import InvalidCustomerReference, InvalidSetting
from tests.conftest import NOW
from tests.payment_support import settings_for

ACCOUNT = "17841405822304914"


def messaging(mid: str, sender: str, text: str | None = "Bonjour", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid, **extra}
    if text is not None:
        message["text"] = text
    return {
        "sender": {"id": sender},
        "recipient": {"id": ACCOUNT},
        "timestamp": 1764000000000,
        "message": message,
    }


def body(*items: dict[str, Any], entries: int = 1) -> bytes:
    return json.dumps(
        {
            "object": "instagram",
            "entry": [{"id": ACCOUNT, "time": 1764000000, "messaging": list(items)}] * entries,
        }
    ).encode()


def test_a_batch_is_split_into_one_message_per_mid_in_order() -> None:
    found = split_instagram_webhook(body(messaging("m_1", "111", "un"), messaging("m_2", "222", "deux")))
    assert [(m.mid, m.sender, m.recipient, m.text) for m in found] == [
        ("m_1", "111", ACCOUNT, "un"),
        ("m_2", "222", ACCOUNT, "deux"),
    ]


def test_echoes_deleted_messages_and_non_messages_are_left_out() -> None:
    read = {"sender": {"id": "111"}, "recipient": {"id": ACCOUNT}, "timestamp": 1, "read": {"mid": "m_0"}}
    found = split_instagram_webhook(
        body(
            messaging("m_1", ACCOUNT, "echo", is_echo=True),
            messaging("m_2", "111", None, is_deleted=True),
            read,
        )
    )
    assert found == []


def test_a_photo_without_text_is_a_message_with_no_text_and_a_reply_keeps_what_it_answers() -> None:
    [photo] = split_instagram_webhook(
        body(messaging("m_1", "111", None, attachments=[{"type": "image"}], reply_to={"mid": "m_0"}))
    )
    assert (photo.text, photo.reply_to) == ("", "m_0")


def test_a_card_number_is_redacted_in_the_split() -> None:
    [message] = split_instagram_webhook(body(messaging("m_1", "111", "carte 4242 4242 4242 4242")))
    assert "4242 4242" not in message.text


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b'{"object": "instagram"}',
        b'{"object": "whatsapp_business_account", "entry": []}',
        json.dumps({"object": "instagram", "entry": [{"messaging": {}}]}).encode(),
        json.dumps({"object": "instagram", "entry": [{"messaging": [{"message": {"text": "x"}}]}]}).encode(),
        json.dumps(
            {"object": "instagram", "entry": [{"messaging": [messaging("m_1", "111") | {"timestamp": "x"}]}]}
        ).encode(),
    ],
)
def test_a_body_that_is_not_an_instagram_messaging_webhook_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedInstagramWebhook):
        split_instagram_webhook(raw)


def config(**overrides: Any) -> InstagramConfig:
    settings = settings_for(
        "sqlite://",
        instagram_token="IGtoken-secret",
        instagram_account_id=ACCOUNT,
        whatsapp_app_secret="s",
        instagram_graph_url="https://graph.example.test/v26.0",
        **overrides,
    )
    return InstagramConfig(settings, "wa-secret", "wa-verify")


async def test_the_send_api_gets_the_recipient_and_the_text_with_the_token_in_a_header_only() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"recipient_id": "111", "message_id": f"m_{len(seen)}"})

    client = InstagramClient(config(), transport=httpx.MockTransport(answer))
    try:
        assert await client.send_text("111", "Bonjour") == "m_1"
    finally:
        await client.close()
    [request] = seen
    assert str(request.url) == f"https://graph.example.test/v26.0/{ACCOUNT}/messages"
    assert json.loads(request.content) == {"recipient": {"id": "111"}, "message": {"text": "Bonjour"}}
    assert request.headers["Authorization"] == "Bearer IGtoken-secret"
    assert "IGtoken" not in str(request.url)


async def test_a_long_text_goes_in_several_messages_cut_at_line_ends() -> None:
    texts: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        texts.append(json.loads(request.content)["message"]["text"])
        return httpx.Response(200, json={"recipient_id": "111", "message_id": f"m_{len(texts)}"})

    long = "\n".join(f"ligne {i} " + "x" * 80 for i in range(30))
    client = InstagramClient(config(), transport=httpx.MockTransport(answer))
    try:
        assert await client.send_text("111", long) == f"m_{len(texts)}"
    finally:
        await client.close()
    assert len(texts) > 1 and all(len(t) <= MAX_TEXT for t in texts)
    assert "\n".join(texts) == long
    assert text_parts("") == [""]


@pytest.mark.parametrize(
    ("status", "error", "outside", "throttled", "retryable"),
    [
        (
            403,
            {"code": 10, "error_subcode": 2534022, "message": "outside of allowed window"},
            True,
            False,
            False,
        ),
        (
            400,
            {"code": 613, "message": "Calls to this api have exceeded the rate limit."},
            False,
            True,
            False,
        ),
        (
            500,
            {"code": 2, "message": "Service temporarily unavailable", "is_transient": True},
            False,
            False,
            True,
        ),
        (400, {"code": 100, "message": "(#100) Invalid parameter"}, False, False, False),
    ],
)
async def test_meta_refusals_are_read_from_their_error_object(
    status: int, error: dict[str, Any], outside: bool, throttled: bool, retryable: bool
) -> None:
    client = InstagramClient(
        config(), transport=httpx.MockTransport(lambda _r: httpx.Response(status, json={"error": error}))
    )
    try:
        with pytest.raises(InstagramError) as raised:
            await client.send_text("111", "x")
    finally:
        await client.close()
    found = raised.value
    assert (found.outside_window, found.throttled, found.retryable) == (outside, throttled, retryable)


def test_the_app_secret_and_verify_token_default_to_whatsapps_and_the_token_is_never_shown() -> None:
    found = config()
    assert (found.app_secret, found.verify_token) == ("wa-secret", "wa-verify")
    assert "IGtoken" not in repr(found)
    assert config(instagram_app_secret="ig-secret").app_secret == "ig-secret"


def instagram_customer(handle: str | None = None, phone: str | None = None) -> Customer:
    return Customer(
        uuid.uuid4(),
        uuid.uuid4(),
        phone,
        NOW,
        channel=Channel.INSTAGRAM,
        address="6871234567345678",
        handle=handle,
    )


def test_an_instagram_customer_is_named_by_username_or_the_end_of_their_id() -> None:
    assert instagram_customer("dana.cakes").contact == "ig:dana.cakes"
    assert instagram_customer().contact == "ig:345678"
    assert instagram_customer().reach() == (Channel.INSTAGRAM, "6871234567345678")
    assert Customer(uuid.uuid4(), uuid.uuid4(), "33612345678", NOW).contact == "+33612345678"
    assert instagram_reference("IG:@Dana.Cakes") == "dana.cakes"
    with pytest.raises(InvalidCustomerReference):
        instagram_reference("ig:")


def test_only_an_instagram_customer_gets_a_phone_set_by_the_vendor() -> None:
    customer = instagram_customer()
    apply_customer_setting(customer, "phone", "+33 6 55 51 23 45", ("fr",))
    assert customer.phone == "33655512345"
    apply_customer_setting(customer, "phone", "", ("fr",))
    assert customer.phone is None
    with pytest.raises(InvalidSetting):
        apply_customer_setting(
            Customer(uuid.uuid4(), uuid.uuid4(), "33612345678", NOW), "phone", "+33", ("fr",)
        )
