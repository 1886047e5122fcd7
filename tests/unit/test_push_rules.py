"""Web Push rules: what a push service's answer means, the backoff, which endpoints the bot posts to, the
subscription keys it accepts, and the notification texts in every language."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.domain.money import Money
from bot.domain.push import (
    BODY_LIMIT,
    MAX_ATTEMPTS,
    Delivery,
    delivery_of,
    endpoint_allowed,
    retry_delay,
    shortened,
    subscription_problem,
)
from bot.services.push_notes import notification
from tests.push_support import BrowserKeys

HOSTS = (
    "fcm.googleapis.com",
    "push.services.mozilla.com",
    "notify.windows.com",
    "push.apple.com",
    "127.0.0.1",
)


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        (201, Delivery.SENT), (200, Delivery.SENT), (202, Delivery.SENT), (404, Delivery.GONE),
        (410, Delivery.GONE), (429, Delivery.RETRY), (500, Delivery.RETRY), (503, Delivery.RETRY),
        (None, Delivery.RETRY), (400, Delivery.REJECTED), (401, Delivery.REJECTED), (403, Delivery.REJECTED),
        (413, Delivery.REJECTED),
    ],
)  # fmt: skip
def test_a_push_services_answer_says_sent_gone_retry_or_rejected(
    status: int | None, meaning: Delivery
) -> None:
    assert delivery_of(status) is meaning


def test_failures_wait_longer_each_time_and_stop_after_the_last_attempt() -> None:
    delays = [retry_delay(attempts) for attempts in range(1, MAX_ATTEMPTS)]
    assert delays[0] == timedelta(seconds=30)
    assert all(delay is not None for delay in delays)
    assert delays == sorted(delays, key=lambda d: d or timedelta(0))
    assert retry_delay(MAX_ATTEMPTS) is None


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
        "https://wns2-par02p.notify.windows.com/w/?token=x",
        "https://web.push.apple.com/QGuQ",
        "http://127.0.0.1:8123/push/1",
    ],
)
def test_endpoints_of_known_push_services_are_allowed(endpoint: str) -> None:
    assert endpoint_allowed(endpoint, HOSTS)


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/abc",  # plain http to a real service
        "https://evilfcm.googleapis.com.example/x",
        "https://notfcm.googleapis.com.attacker.test/x",
        "https://10.0.0.8/push",
        "http://localhost:8080/push",  # loopback, but not listed
        "https://user:pass@fcm.googleapis.com/x",
        "https://fcm.googleapis.com:notaport/x",
        "ftp://fcm.googleapis.com/x",
        "",
        "https://fcm.googleapis.com/" + "a" * 2100,
    ],
)
def test_any_other_endpoint_is_refused(endpoint: str) -> None:
    assert not endpoint_allowed(endpoint, HOSTS)


def test_a_subscription_needs_a_p256_key_and_a_16_byte_auth_secret() -> None:
    keys = BrowserKeys()
    endpoint = "https://fcm.googleapis.com/fcm/send/abc"
    assert subscription_problem(endpoint, keys.p256dh, keys.auth_b64, HOSTS) is None
    assert subscription_problem(endpoint, keys.p256dh[:-4], keys.auth_b64, HOSTS) == "keys"
    assert subscription_problem(endpoint, keys.p256dh, keys.auth_b64[:-2], HOSTS) == "keys"
    assert subscription_problem(endpoint, "!" * 87, keys.auth_b64, HOSTS) == "keys"
    assert subscription_problem("https://evil.test/x", keys.p256dh, keys.auth_b64, HOSTS) == "endpoint"


def test_a_long_body_is_cut_to_fit_a_push() -> None:
    assert shortened("a  b\n c") == "a b c"
    cut = shortened("word " * 200)
    assert len(cut) == BODY_LIMIT and cut.endswith("…")


EUR = Money(Decimal("45.00"), "EUR")
CONTEXTS = {
    "payment_received": {
        "kind": "acompte", "amount": EUR, "order": "#12", "label": "Gâteau", "covered": False, "balance": EUR,
    },
    "request_failed": {"amount": EUR, "order": "#12", "retry_same_link": True},
    "guarantee_held": {"amount": EUR, "order": "#12", "card_on_file": False, "release_on": "3 déc. 14:00"},
    "guarantee_lapsing": {"amount": EUR, "order": "#12", "lapses": "3 décembre 14:00"},
    "customer_message": {"note": "💬 Message de Léa : bonjour"},
}  # fmt: skip


@pytest.mark.parametrize("locale", ["fr", "en", "he"])
@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_every_notification_has_a_title_and_a_body_in_every_language(template: str, locale: str) -> None:
    note = notification(template, locale, "/admin/orders/12", **CONTEXTS[template])
    assert note.title and "\n" not in note.title and not note.title.startswith("{")
    assert note.body and note.url == "/admin/orders/12"
    if template != "customer_message":
        assert "#12" in note.title + note.body


def test_a_payment_notification_reads_as_the_vendor_says_it() -> None:
    note = notification("payment_received", "en", "/admin/orders/12", **CONTEXTS["payment_received"])
    assert note.payload() == {
        "title": "💶 Deposit received: €45.00",
        "body": "Order #12 (Gâteau). Still to pay: €45.00.",
        "url": "/admin/orders/12",
    }
