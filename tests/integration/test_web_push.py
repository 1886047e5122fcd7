"""Web Push to the vendor's dashboard, at the wire: an admin subscribes a browser (its own P-256 keys and
auth secret) through the dashboard, a real payment is recorded through the service layer, and the local
push service gets a POST whose body is decrypted here as RFC 8291 says and whose VAPID header is signed
by the key the server stored. On SQLite and a real Postgres."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import http_ece
import pytest
from aiohttp.test_utils import TestServer
from pydantic import SecretStr
from pytest_aiohttp import AiohttpClient, AiohttpServer

from bot.app import create_app
from bot.channels.push.sender import CLAIM_LEASE
from bot.domain.deposit import AskKind
from bot.domain.money import Money
from bot.domain.outgoing import OutgoingMessage
from bot.domain.push import MAX_ATTEMPTS
from bot.payments.port import PaymentEvent, PaymentEventKind
from bot.sandbox.keys import graph_key
from bot.services import guarantee_sweep, messages, orders as order_service, payments
from bot.services.settlement import Outcome, record_failure, record_payment
from bot.store.tables import push_outbox, push_subscriptions, web_push_keys
from bot.store.uow import UnitOfWorkFactory
from bot.web.keys import payments_key, push_sender_key
from tests.admin_support import ADMIN, Browser, Dashboard, add_vendor
from tests.conftest import NOW, FrozenClock
from tests.integration.test_guarantees import cards_on, held_guarantee
from tests.payment_support import settings_for
from tests.push_support import BrowserKeys, FakePushService, decrypt_rfc8291, verify_vapid
from tests.whatsapp_support import free_port

SUBJECT = "mailto:ops@bot.test"
CUSTOMER = "+33699887766"
PAGE = "/admin/settings/notifications"


class PushWorld:
    def __init__(self, dashboard: Dashboard, service: FakePushService, server: TestServer) -> None:
        self.dashboard = dashboard
        self.service = service
        self.server = server

    @property
    def uow(self) -> UnitOfWorkFactory:
        return self.dashboard.uow

    def endpoint(self, token: str = "abc") -> str:
        return str(self.server.make_url(f"/push/{token}"))

    async def subscribe(self, browser: Browser, keys: BrowserKeys, token: str = "abc") -> Any:
        return await browser.post(
            f"{PAGE}/subscribe",
            {"csrf": browser.cookies["bot_csrf"], "endpoint": self.endpoint(token), "p256dh": keys.p256dh,
             "auth": keys.auth_b64},
            headers={"Accept": "application/json"},
        )  # fmt: skip

    async def send(self) -> int:
        return await self.dashboard.app[push_sender_key].send_due()

    async def rows(self, table: Any) -> list[dict[str, Any]]:
        return await self.dashboard.rows(table)

    async def paid_deposit(self, amount: str = "45", reference: str = "pay_1") -> tuple[int, PaymentEvent]:
        """An order of 150 EUR, a deposit asked and paid (``record_payment``, as a provider's webhook)."""
        deps = self.dashboard.app[payments_key]
        order = await order_service.create_order(self.uow, None, CUSTOMER, "150", "Gâteau", True, NOW)
        request = await payments.request_payment(deps, None, order.number, AskKind.DEPOSIT, amount)
        event = paid_event(request.transaction.id, amount, reference)
        assert await record_payment(deps, event) is Outcome.RECORDED
        return order.number, event


def paid_event(
    transaction_id: uuid.UUID, amount: str, reference: str, kind: PaymentEventKind = PaymentEventKind.PAID
) -> PaymentEvent:
    return PaymentEvent(
        provider="sandbox", event_id=f"evt_{reference}", kind=kind, occurred_at=NOW,
        transaction_id=transaction_id, reference=reference, amount=Money(Decimal(amount), "EUR"),
        method="card",
    )  # fmt: skip


async def start_world(
    aiohttp_client: AiohttpClient, aiohttp_server: AiohttpServer, uow: UnitOfWorkFactory, database_url: str,
    *, secret: str | None = "a long random secret for the tests",
) -> PushWorld:  # fmt: skip
    service = FakePushService()
    server = await aiohttp_server(service.app())
    vendor = await add_vendor(uow, "Boulangerie", ADMIN)
    port = free_port()
    update: dict[str, Any] = {
        "public_base_url": "http://bot.test",
        "whatsapp_graph_url": f"http://127.0.0.1:{port}/sandbox/graph",
        "secret_key": None if secret is None else SecretStr(secret),
        "web_push_subject": SUBJECT,
        # The local push service, by name: plain http is accepted for a listed loopback host only.
        "web_push_hosts": "127.0.0.1",
        # The sender's own loop never gets there in a test: each test sends when it means to.
        "web_push_poll_seconds": 3600.0,
    }
    settings = settings_for(database_url).model_copy(update=update)
    clock = FrozenClock()
    app = create_app(settings, clock=clock, pair_interval=0.01)
    app[graph_key].auto_statuses = ()
    client = await aiohttp_client(app, server_kwargs={"port": port})
    return PushWorld(Dashboard(client, uow, clock, vendor), service, server)


@pytest.fixture
async def world(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    uow_factory: UnitOfWorkFactory,
    database_url: str,
) -> PushWorld:
    return await start_world(aiohttp_client, aiohttp_server, uow_factory, database_url)


async def signed_in_with_page(world: PushWorld) -> tuple[Browser, str]:
    browser = await world.dashboard.sign_in()
    page = await browser.get(PAGE)
    assert page.status == 200
    return browser, await page.text()


async def test_a_subscribed_admin_gets_the_payment_notification_encrypted_to_their_browser(
    world: PushWorld,
) -> None:
    browser, html = await signed_in_with_page(world)
    [stored_keys] = await world.rows(web_push_keys)
    assert f'data-key="{stored_keys["public_key"]}"' in html, "the page subscribes with the stored VAPID key"
    assert ">Activer les notifications</button>" in html, "in the vendor's language"
    keys = BrowserKeys()
    answer = await world.subscribe(browser, keys)
    assert answer.status == 200 and json.loads(await answer.text()) == {"ok": True}

    number, _event = await world.paid_deposit()
    assert await world.send() == 1

    [post] = world.service.received
    assert post.path == "/push/abc"
    assert post.headers["Content-Encoding"] == "aes128gcm"
    assert post.headers["TTL"] == "43200"
    payload = json.loads(decrypt_rfc8291(post.body, keys))
    assert payload == {
        "title": "💶 Acompte reçu : 45.00 EUR",
        "body": "Commande #1 (Gâteau). Reste à payer : 105.00 EUR.",
        "url": f"/admin/orders/{number}",
    }
    # The same bytes open with http_ece too (the library pywebpush encrypts with), from the keys alone.
    assert http_ece.decrypt(
        post.body, private_key=keys.private_key, auth_secret=keys.auth
    ) == decrypt_rfc8291(post.body, keys)
    vapid_key, claims = verify_vapid(post.headers["Authorization"])
    assert vapid_key == stored_keys["public_key"]
    assert claims == {
        "aud": str(world.server.make_url("/")).rstrip("/"),
        "sub": SUBJECT,
        "exp": int((NOW + timedelta(hours=12)).timestamp()),
    }
    [row] = await world.rows(push_outbox)
    assert row["status"] == "sent" and row["sent_at"] == NOW and row["attempts"] == 1
    [subscription] = await world.rows(push_subscriptions)
    assert subscription["last_success_at"] == NOW
    assert await world.send() == 0, "sent once"
    assert "4242" not in json.dumps(payload) and "+33" not in json.dumps(payload), "no card, no phone"


async def test_a_redelivered_payment_queues_no_second_notification(world: PushWorld) -> None:
    browser, _ = await signed_in_with_page(world)
    await world.subscribe(browser, BrowserKeys())
    _number, event = await world.paid_deposit()
    assert await record_payment(world.dashboard.app[payments_key], event) is Outcome.DUPLICATE
    assert len(await world.rows(push_outbox)) == 1
    assert await world.send() == 1
    assert len(world.service.received) == 1


async def test_a_subscription_its_push_service_says_is_gone_is_deleted_and_not_tried_again(
    world: PushWorld,
) -> None:
    browser, _ = await signed_in_with_page(world)
    await world.subscribe(browser, BrowserKeys(), token="gone")
    await world.subscribe(browser, BrowserKeys(), token="alive")
    world.service.answers["/push/gone"] = 410
    await world.paid_deposit()
    assert await world.send() == 2
    [left] = await world.rows(push_subscriptions)
    assert left["endpoint"] == world.endpoint("alive")
    [row] = await world.rows(push_outbox)
    assert row["status"] == "sent", "the gone subscription took its notification with it"
    world.dashboard.clock.advance(timedelta(days=1))
    assert await world.send() == 0
    assert sorted(r.path for r in world.service.received) == ["/push/alive", "/push/gone"]
    page = await (await browser.get(PAGE)).text()
    assert world.endpoint("gone") not in page and world.endpoint("alive") in page


async def test_a_push_service_that_fails_is_tried_again_with_backoff_a_bounded_number_of_times(
    world: PushWorld,
) -> None:
    browser, _ = await signed_in_with_page(world)
    await world.subscribe(browser, BrowserKeys(), token="busy")
    world.service.answers["/push/busy"] = [503, 500, 201]
    await world.paid_deposit()
    assert await world.send() == 1
    [row] = await world.rows(push_outbox)
    assert row["status"] == "pending" and row["attempts"] == 1 and row["last_error"] == "HTTP 503"
    assert row["next_attempt_at"] == NOW + timedelta(seconds=30)
    assert await world.send() == 0, "not before its time"
    world.dashboard.clock.advance(timedelta(seconds=30))
    assert await world.send() == 1
    [row] = await world.rows(push_outbox)
    assert row["attempts"] == 2 and row["next_attempt_at"] == world.dashboard.clock() + timedelta(minutes=2)
    world.dashboard.clock.advance(timedelta(minutes=2))
    assert await world.send() == 1
    [row] = await world.rows(push_outbox)
    assert row["status"] == "sent" and row["attempts"] == 3
    [subscription] = await world.rows(push_subscriptions)
    assert subscription["last_failure_at"] == NOW + timedelta(seconds=30)
    assert subscription["last_success_at"] == world.dashboard.clock()

    # A push service that never recovers: given up after MAX_ATTEMPTS tries, the subscription kept.
    world.service.answers["/push/busy"] = 500
    await world.paid_deposit(reference="pay_2")
    for _ in range(MAX_ATTEMPTS):
        assert await world.send() == 1
        world.dashboard.clock.advance(timedelta(hours=3))
    assert await world.send() == 0
    failed = [r for r in await world.rows(push_outbox) if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["attempts"] == MAX_ATTEMPTS
    assert len(await world.rows(push_subscriptions)) == 1


async def test_a_kind_switched_off_sends_nothing_while_the_others_still_come(world: PushWorld) -> None:
    browser, _ = await signed_in_with_page(world)
    keys = BrowserKeys()
    await world.subscribe(browser, keys)
    kept = [("kind", "guarantee"), ("kind", "request_failed"), ("kind", "customer_message")]
    saved = await browser.request("POST", PAGE, data=[("csrf", browser.cookies["bot_csrf"]), *kept])
    assert saved.status == 303 and saved.headers["Location"] == f"{PAGE}?saved=1"
    page = await (await browser.get(saved.headers["Location"])).text()
    assert 'value="payment_received">' in page and 'value="request_failed" checked>' in page

    await world.paid_deposit()
    assert await world.rows(push_outbox) == []
    assert await world.send() == 0 and world.service.received == []

    # A failed attempt is still notified ("a request failed" is on).
    deps = world.dashboard.app[payments_key]
    order = await order_service.create_order(world.uow, None, CUSTOMER, "80", "Tarte", True, NOW)
    request = await payments.request_payment(deps, None, order.number, AskKind.FULL)
    failed = paid_event(request.transaction.id, "80", "fail_1", PaymentEventKind.FAILED)
    assert await record_failure(deps, failed) is Outcome.RECORDED
    assert await world.send() == 1
    payload = json.loads(decrypt_rfc8291(world.service.received[0].body, keys))
    assert payload["title"] == f"❌ Paiement échoué : commande #{order.number}"
    assert payload["url"] == f"/admin/orders/{order.number}"


async def test_a_customer_message_forwarded_to_the_vendor_is_pushed_once_per_browser(
    world: PushWorld,
) -> None:
    browser, _ = await signed_in_with_page(world)
    keys = BrowserKeys()
    await world.subscribe(browser, keys)
    vendor = world.dashboard.vendor
    note = "💬 Message de Léa (+33699887766) : Bonjour, je passe à 17 h ?"
    forwarded = [
        OutgoingMessage(
            vendor_id=vendor.id, to_phone=phone, kind="vendor_customer_message", locale="fr", text=note
        )
        for phone in ("33612345678", "33611112222")
    ]
    await messages.queue(world.uow, forwarded, NOW)
    assert await world.send() == 1
    payload = json.loads(decrypt_rfc8291(world.service.received[0].body, keys))
    assert payload == {"title": "💬 Nouveau message d'un client", "body": note, "url": "/admin/customers"}


async def test_disable_removes_this_browsers_subscription(world: PushWorld) -> None:
    browser, _ = await signed_in_with_page(world)
    await world.subscribe(browser, BrowserKeys())
    removed = await browser.post(
        f"{PAGE}/unsubscribe", {"csrf": browser.cookies["bot_csrf"], "endpoint": world.endpoint()}
    )
    assert removed.status == 303 and removed.headers["Location"] == f"{PAGE}?removed=1"
    assert await world.rows(push_subscriptions) == []
    await world.paid_deposit()
    assert await world.rows(push_outbox) == []


async def test_a_subscription_to_an_unknown_push_service_or_with_bad_keys_is_refused(
    world: PushWorld,
) -> None:
    browser, _ = await signed_in_with_page(world)
    csrf = browser.cookies["bot_csrf"]
    keys = BrowserKeys()
    tries = {
        "endpoint": {
            "endpoint": "https://intranet.example/push/1",
            "p256dh": keys.p256dh,
            "auth": keys.auth_b64,
        },
        "http elsewhere": {
            "endpoint": "http://10.0.0.8/push/1",
            "p256dh": keys.p256dh,
            "auth": keys.auth_b64,
        },
        "short key": {"endpoint": world.endpoint(), "p256dh": keys.p256dh[:20], "auth": keys.auth_b64},
        "not on the curve": {"endpoint": world.endpoint(), "p256dh": "BA" + "A" * 85, "auth": keys.auth_b64},
        "long auth": {"endpoint": world.endpoint(), "p256dh": keys.p256dh, "auth": keys.auth_b64 * 2},
    }
    for name, fields in tries.items():
        answer = await browser.post(
            f"{PAGE}/subscribe", {"csrf": csrf, **fields}, headers={"Accept": "application/json"}
        )
        assert answer.status == 400, name
        assert json.loads(await answer.text())["ok"] is False, name
    page = await browser.post(f"{PAGE}/subscribe", {"csrf": csrf, **tries["endpoint"]})
    assert page.status == 400 and "auxquels le bot envoie" in await page.text()
    no_token = await browser.post(f"{PAGE}/subscribe", {"csrf": "wrong", **tries["endpoint"]})
    assert no_token.status == 403
    assert await world.rows(push_subscriptions) == []


async def test_the_service_worker_is_served_for_the_dashboards_scope_without_a_session(
    world: PushWorld,
) -> None:
    response = await world.dashboard.browser().get("/push/sw.js")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert response.headers["Service-Worker-Allowed"] == "/admin/"
    script = await response.text()
    assert "showNotification" in script and "notificationclick" in script and "openWindow" in script


async def test_a_vapid_key_that_no_longer_opens_is_replaced_and_its_subscriptions_dropped(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    uow_factory: UnitOfWorkFactory,
    database_url: str,
) -> None:
    first = await start_world(
        aiohttp_client, aiohttp_server, uow_factory, database_url, secret="the first secret key"
    )
    browser, _ = await signed_in_with_page(first)
    await first.subscribe(browser, BrowserKeys())
    [old] = await first.rows(web_push_keys)
    assert "PRIVATE" not in old["sealed_private_key"], "sealed, not stored as PEM"
    await first.dashboard.client.close()

    second = PushWorld(first.dashboard, first.service, first.server)
    port = free_port()
    update: dict[str, Any] = {
        "whatsapp_graph_url": f"http://127.0.0.1:{port}/sandbox/graph",
        "secret_key": SecretStr("another secret"),
        "web_push_subject": SUBJECT, "web_push_hosts": "127.0.0.1", "web_push_poll_seconds": 3600.0,
    }  # fmt: skip
    app = create_app(
        settings_for(database_url).model_copy(update=update), clock=FrozenClock(), pair_interval=0.01
    )
    app[graph_key].auto_statuses = ()
    await aiohttp_client(app, server_kwargs={"port": port})
    keys = await app[push_sender_key].keys()
    assert keys.public_key != old["public_key"]
    assert await second.rows(push_subscriptions) == [], "made for the old key: the admins enable again"
    [new] = await second.rows(web_push_keys)
    assert new["public_key"] == keys.public_key


async def test_without_secret_key_the_page_says_notifications_need_it_and_nothing_is_sent(
    aiohttp_client: AiohttpClient,
    aiohttp_server: AiohttpServer,
    uow_factory: UnitOfWorkFactory,
    database_url: str,
) -> None:
    world = await start_world(aiohttp_client, aiohttp_server, uow_factory, database_url, secret=None)
    _browser, html = await signed_in_with_page(world)
    assert "SECRET_KEY" in html and 'data-key=""' in html
    assert await world.send() == 0
    assert await world.rows(web_push_keys) == []


async def test_a_guarantee_held_then_about_to_lapse_is_pushed_each_time(world: PushWorld) -> None:
    browser, _ = await signed_in_with_page(world)
    keys = BrowserKeys()
    await world.subscribe(browser, keys)
    await cards_on(world.uow, ("guarantee_release_days", "7"))
    deps = world.dashboard.app[payments_key]
    order = await order_service.create_order(world.uow, None, CUSTOMER, "150", "Salle", True, NOW)
    await held_guarantee(deps, order.number)
    world.dashboard.clock.advance(timedelta(days=6, hours=1))
    assert await guarantee_sweep.sweep_guarantees(deps) == 1
    assert await world.send() == 2
    titles = sorted(json.loads(decrypt_rfc8291(post.body, keys))["title"] for post in world.service.received)
    assert titles == [
        f"⏰ Garantie bientôt expirée : commande #{order.number}",
        "🔒 Garantie bloquée : 50.00 EUR",
    ]


async def test_a_notification_claimed_by_a_sender_that_died_is_sent_after_its_lease(world: PushWorld) -> None:
    browser, _ = await signed_in_with_page(world)
    await world.subscribe(browser, BrowserKeys())
    await world.paid_deposit()
    async with world.uow() as uow:  # a sender claims it, then the process dies before sending
        [claimed] = await uow.push.claim_due(world.dashboard.clock(), CLAIM_LEASE, 10)
        await uow.commit()
    assert await world.send() == 0, "claimed: no second sender takes it meanwhile"
    world.dashboard.clock.advance(CLAIM_LEASE)
    assert await world.send() == 1
    assert len(world.service.received) == 1
    [row] = await world.rows(push_outbox)
    assert row["id"] == claimed.id and row["status"] == "sent" and row["attempts"] == 2
