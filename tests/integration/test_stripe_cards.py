"""Stripe guarantees, saved cards and phone payments: the provider against the fake Stripe, at the wire."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.money import Money
from bot.payments.port import (
    CardGuarantee,
    CardHold,
    ChargeStatus,
    ClientDetails,
    ClientSync,
    HoldState,
    HostedCheckout,
    LinkRequest,
    PaymentEvent,
    PaymentEventKind,
    SavedCard,
    SavedCardCharge,
    SavedCardRequest,
)
from bot.payments.stripe.provider import StripeProvider
from bot.payments.stripe.webhooks import PLATFORM, payment_events, stored_payload
from tests.conftest import NOW, FrozenClock
from tests.fakes.stripe_api import TEST_CARD_NUMBERS, FakeStripe, SessionNotOpen

# stripe-python's HTTPXClient posts its form body as data=<str>, which httpx 0.28 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
BASE = "http://bot.test"
VENDOR = uuid.UUID(int=0xB0)


def eur(value: int | str) -> Money:
    return Money(Decimal(value), "EUR")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def fake(clock: FrozenClock) -> AsyncIterator[FakeStripe]:
    async with FakeStripe(clock=clock) as server:
        yield server


@pytest.fixture
async def provider(fake: FakeStripe, clock: FrozenClock) -> AsyncIterator[StripeProvider]:
    stripe_provider = StripeProvider(fake.api_key, fake.base_url, base_url=BASE, clock=clock)
    yield stripe_provider
    await stripe_provider.close()


@pytest.fixture
async def impatient(fake: FakeStripe, clock: FrozenClock) -> AsyncIterator[StripeProvider]:
    """Gives up on an answer after 0.3 s (stripe-python then tries twice more with the same key)."""
    stripe_provider = StripeProvider(fake.api_key, fake.base_url, timeout=0.3, base_url=BASE, clock=clock)
    yield stripe_provider
    await stripe_provider.close()


def link_request(
    amount: int = 50, customer: str | None = None, *, transaction: uuid.UUID | None = None, **flags: bool
) -> LinkRequest:
    transaction_id = transaction or uuid.uuid4()
    return LinkRequest(
        transaction_id=transaction_id,
        vendor_id=VENDOR,
        order_id=uuid.uuid4(),
        amount=eur(amount),
        description="Guarantee for a cake",
        vendor_name="Boulangerie",
        customer_phone="+33699887766",
        locale="fr",
        success_url=f"{BASE}/pay/success?tx={transaction_id}",
        cancel_url=f"{BASE}/pay/cancelled?tx={transaction_id}",
        provider_client_id=customer,
        **flags,
    )


async def new_customer(provider: StripeProvider, name: str = "Dana") -> str:
    return await provider.ensure_client(ClientDetails(str(uuid.uuid4()), name, "+33699887766"))


def session_at(fake: FakeStripe, url: str) -> dict[str, Any]:
    [session] = [s for s in fake.sessions.values() if s["url"] == url]
    return session


def hold_of(request: LinkRequest, reference: str | None, held: int = 50) -> CardHold:
    return CardHold(
        transaction_id=request.transaction_id,
        vendor_id=VENDOR,
        held=eur(held),
        reference=reference,
        provider_link_id=f"pay_{request.transaction_id.hex}",
        created_at=NOW,
        provider_client_id=request.provider_client_id,
    )


async def authorised(
    provider: StripeProvider, fake: FakeStripe, amount: int = 50, *, save_card: bool = False
) -> tuple[LinkRequest, str, list[dict[str, Any]]]:
    """A guarantee asked, opened and authorised by the customer: its request, PaymentIntent and events."""
    customer = await new_customer(provider)
    request = link_request(amount, customer, hold=True, offer_save_card=save_card)
    session = session_at(fake, await provider.checkout_url(request))
    events = fake.complete_session(session["id"], save_card=save_card)
    return request, fake.sessions[session["id"]]["payment_intent"], events


def mapped(event: dict[str, Any]) -> list[PaymentEvent]:
    return payment_events(stored_payload(json.dumps(event), PLATFORM))


def one_event(events: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    [found] = [event for event in events if event["type"] == event_type]
    return found


# Links and checkout pages


async def test_the_stripe_provider_has_every_card_capability_and_wants_customers_only_for_cards(
    provider: StripeProvider,
) -> None:
    for capability in (CardGuarantee, SavedCardCharge, ClientSync, HostedCheckout):
        assert isinstance(provider, capability)
    assert provider.clients_for_every_link is False
    assert provider.hold_window == timedelta(days=7)


async def test_a_guarantee_is_our_own_page_and_no_payment_link(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    for flags in ({"hold": True}, {"offer_save_card": True}, {"by_phone": True}):
        request = link_request(**flags)
        link = await provider.create_link(request)
        tx = request.transaction_id
        assert (link.provider, link.provider_link_id) == ("stripe", f"pay_{tx.hex}")
        assert link.url == f"{BASE}/pay/stripe/{tx}"
    assert not fake.payment_links and not fake.sessions
    assert fake.created["product"] == 1, "the vendor's product is made (and the key checked) at once"
    plain = await provider.create_link(link_request())
    assert plain.provider_link_id in fake.payment_links


async def test_opening_a_guarantee_makes_a_manual_capture_session_for_the_customer(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    customer = await new_customer(provider)
    request = link_request(50, customer, hold=True, offer_save_card=True)
    url = await provider.checkout_url(request)
    session = session_at(fake, url)
    sent = fake.session_params[session["id"]]
    assert url.startswith("https://checkout.stripe.com/c/pay/cs_test_")
    assert sent["mode"] == "payment" and sent["customer"] == customer
    assert sent["payment_intent_data"]["capture_method"] == "manual"
    assert sent["payment_intent_data"]["metadata"]["purpose"] == "guarantee"
    assert sent["metadata"]["transaction_id"] == str(request.transaction_id)
    assert sent["saved_payment_method_options"] == {"payment_method_save": "enabled"}
    assert sent["line_items"][0]["price_data"] == {
        "currency": "eur",
        "unit_amount": "5000",
        "product": f"bot_vendor_{VENDOR.hex}",
    }
    assert "invoice_creation" not in sent, "nothing is paid when a hold completes"
    assert sent["locale"] == "fr" and sent["success_url"] == request.success_url
    lifetime = session["expires_at"] - fake.timestamp()
    assert 3600 <= lifetime <= 3900


async def test_a_phone_payment_page_makes_a_plain_session_with_an_invoice_and_no_customer(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request = replace(link_request(80, by_phone=True), locale="he")
    sent = fake.session_params[session_at(fake, await provider.checkout_url(request))["id"]]
    assert "customer" not in sent and "saved_payment_method_options" not in sent
    assert "capture_method" not in sent["payment_intent_data"]
    assert sent["payment_intent_data"]["metadata"]["purpose"] == "payment"
    assert sent["invoice_creation"]["enabled"] == "true"
    assert sent["locale"] == "auto", "Checkout has no Hebrew page"


async def test_repeated_taps_reuse_the_session_for_ten_minutes_then_get_a_fresh_one(
    provider: StripeProvider, fake: FakeStripe, clock: FrozenClock
) -> None:
    request = link_request(by_phone=True)
    first = await provider.checkout_url(request)
    clock.advance(timedelta(minutes=9))
    assert await provider.checkout_url(request) == first
    assert fake.created["checkout_session"] == 1
    clock.advance(timedelta(minutes=2))
    fresh = await provider.checkout_url(request)
    assert fresh != first and fake.created["checkout_session"] == 2
    keys = [
        r.idempotency_key for r in fake.requests if r.path == "/v1/checkout/sessions" and r.method == "POST"
    ]
    assert len(set(keys)) == 2 and all(str(request.transaction_id) in (key or "") for key in keys)


async def test_a_session_whose_answer_timed_out_is_made_once(
    impatient: StripeProvider, fake: FakeStripe
) -> None:
    request = link_request(by_phone=True)
    await impatient.create_link(request)  # the product, answered at once
    fake.delay_next("/v1/checkout/sessions", 1.0, times=2)
    url = await impatient.checkout_url(request)
    assert fake.created["checkout_session"] == 1 and session_at(fake, url)
    posts = [r for r in fake.requests if r.path == "/v1/checkout/sessions" and r.method == "POST"]
    assert len(posts) == 3 and len({r.idempotency_key for r in posts}) == 1


async def test_deactivating_our_page_expires_its_open_sessions(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request = link_request(by_phone=True)
    link = await provider.create_link(request)
    session = session_at(fake, await provider.checkout_url(request))
    other = session_at(fake, await provider.checkout_url(link_request(by_phone=True)))
    await provider.deactivate_link(link.provider_link_id)
    assert fake.sessions[session["id"]]["status"] == "expired"
    assert fake.sessions[other["id"]]["status"] == "open", "another request's page is left alone"
    with pytest.raises(SessionNotOpen):
        fake.complete_session(session["id"])
    await provider.deactivate_link(link.provider_link_id)  # again: harmless


# Customers


async def test_a_customer_is_made_once_with_our_id_and_found_again(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    details = ClientDetails("customer-42", "Dana Levi", "+972501234567")
    first = await provider.ensure_client(details)
    again = await provider.ensure_client(details)
    assert first == again and fake.created["customer"] == 1
    made = fake.customers[first]
    assert (made["name"], made["phone"], made["metadata"]) == (
        "Dana Levi",
        "+972501234567",
        {"custom_id": "customer-42"},
    )
    posts = [r for r in fake.requests if r.path == "/v1/customers"]
    assert [r.idempotency_key for r in posts] == ["customer-customer-42"]


# Guarantees


async def test_a_hold_of_50_authorised_then_20_captured_releases_the_rest(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake, 50)
    assert fake.payment_intents[intent_id]["status"] == "requires_capture"
    hold = hold_of(request, intent_id)
    attempt = await provider.capture_hold(hold, eur(20), "capture-1")
    assert (attempt.status, attempt.reference, attempt.amount) == (ChargeStatus.SUCCEEDED, intent_id, eur(20))
    intent = fake.payment_intents[intent_id]
    assert (intent["status"], intent["amount_received"], intent["amount_capturable"]) == (
        "succeeded",
        2000,
        0,
    )
    charge = fake.charges[intent["latest_charge"]]
    assert (charge["amount"], charge["amount_captured"], charge["amount_refunded"]) == (5000, 2000, 0)
    again = await provider.capture_hold(hold, eur(20), "capture-1")
    assert again == attempt and len(fake.events_of("charge.captured")) == 1
    other_key = await provider.capture_hold(hold, eur(20), "capture-2")
    assert other_key.status is ChargeStatus.SUCCEEDED and other_key.amount == eur(20), "told, not redone"
    check = await provider.check_hold(hold)
    assert (check.state, check.captured, check.reference) == (HoldState.CAPTURED, eur(20), intent_id)


async def test_a_capture_whose_answer_was_lost_is_unknown_and_the_hold_shows_it_captured(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake)
    fake.lose_answer_next(f"/v1/payment_intents/{intent_id}/capture", times=3)
    attempt = await provider.capture_hold(hold_of(request, intent_id), eur(50), "capture-1")
    assert attempt.status is ChargeStatus.UNKNOWN
    assert (await provider.check_hold(hold_of(request, intent_id))).state is HoldState.CAPTURED
    assert (await provider.capture_hold(hold_of(request, intent_id), eur(50), "capture-1")).amount == eur(50)
    assert len(fake.events_of("charge.captured")) == 1


async def test_capturing_more_than_is_held_fails_and_keeps_the_hold(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake, 50)
    attempt = await provider.capture_hold(hold_of(request, intent_id), eur(60), "capture-1")
    assert attempt.status is ChargeStatus.FAILED and "amount_too_large" in (attempt.reason or "")
    assert fake.payment_intents[intent_id]["status"] == "requires_capture"


async def test_releasing_a_hold_cancels_it_and_doing_it_again_is_harmless(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake)
    hold = hold_of(request, intent_id)
    await provider.release_hold(hold)
    intent = fake.payment_intents[intent_id]
    assert (intent["status"], intent["amount_capturable"]) == ("canceled", 0)
    await provider.release_hold(hold)
    assert (await provider.check_hold(hold)).state is HoldState.RELEASED
    failed = await provider.capture_hold(hold, eur(50), "capture-late")
    assert failed.status is ChargeStatus.FAILED and "canceled" in (failed.reason or "")


async def test_check_hold_reads_what_is_held_and_until_when(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    fake.capture_window = timedelta(days=5)  # this card's network keeps it less than the usual 7 days
    request, intent_id, _events = await authorised(provider, fake, 50, save_card=True)
    check = await provider.check_hold(hold_of(request, intent_id))
    assert (check.state, check.reference, check.held) == (HoldState.HELD, intent_id, eur(50))
    assert check.lapses_at == NOW + timedelta(days=5), "the charge's capture_before"
    assert (
        check.saved_card is not None and check.saved_card.provider_customer_id == request.provider_client_id
    )


async def test_a_hold_without_a_reference_yet_is_found_through_its_transaction(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake)
    unnamed = hold_of(request, None)
    check = await provider.check_hold(unnamed)
    assert (check.state, check.reference, check.held) == (HoldState.HELD, intent_id, eur(50))
    attempt = await provider.capture_hold(unnamed, eur(30), "capture-1")
    assert (attempt.status, attempt.reference) == (ChargeStatus.SUCCEEDED, intent_id)
    customerless = hold_of(request, None)
    customerless = replace(customerless, provider_client_id=None)
    assert (await provider.check_hold(customerless)).state is HoldState.CAPTURED


async def test_a_hold_never_authorised_is_requested_and_releasing_it_expires_its_page(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    customer = await new_customer(provider)
    request = link_request(50, customer, hold=True)
    session = session_at(fake, await provider.checkout_url(request))
    hold = hold_of(request, None)
    assert (await provider.check_hold(hold)).state is HoldState.REQUESTED
    await provider.release_hold(hold)
    assert fake.sessions[session["id"]]["status"] == "expired"
    assert (await provider.check_hold(hold)).state is HoldState.REQUESTED
    await provider.release_hold(hold)


async def test_releasing_a_hold_without_a_reference_cancels_what_was_authorised(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake)
    await provider.release_hold(hold_of(request, None))
    assert fake.payment_intents[intent_id]["status"] == "canceled"


async def test_a_hold_stripe_let_lapse_is_released(provider: StripeProvider, fake: FakeStripe) -> None:
    request, intent_id, _events = await authorised(provider, fake)
    fake.hold_lapses(intent_id)
    assert (await provider.check_hold(hold_of(request, intent_id))).state is HoldState.RELEASED
    [released] = mapped(fake.events_of("payment_intent.canceled")[-1])
    assert (released.kind, released.reference, released.detail) == (
        PaymentEventKind.RELEASED,
        intent_id,
        "expired",
    )
    attempt = await provider.capture_hold(hold_of(request, intent_id), eur(50), "capture-1")
    assert attempt.status is ChargeStatus.FAILED


async def test_an_unreachable_stripe_makes_a_hold_unknown_and_a_capture_unknown(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake)
    fake.fail_next("/v1/payment_intents", status=503, times=6)
    assert (await provider.check_hold(hold_of(request, intent_id))).state is HoldState.UNKNOWN
    fake.fail_next("/v1/payment_intents", status=503, times=6)
    attempt = await provider.capture_hold(hold_of(request, intent_id), eur(50), "capture-1")
    assert attempt.status is ChargeStatus.UNKNOWN


# Saved cards


def saved_charge(card: dict[str, Any], amount: int = 30, asked_at: Any = NOW) -> SavedCardRequest:
    saved = SavedCard(token=card["id"], provider_customer_id=card["customer"])
    return SavedCardRequest(
        transaction_id=uuid.uuid4(),
        vendor_id=VENDOR,
        order_id=uuid.uuid4(),
        card=saved,
        amount=eur(amount),
        description="Balance for a cake",
        asked_at=asked_at,
    )


async def test_a_saved_card_is_charged_off_session_once_even_when_asked_twice(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    card = fake.add_card("pm_card_visa", customer=await new_customer(provider))
    charge = saved_charge(card)
    first = await provider.charge_saved_card(charge)
    again = await provider.charge_saved_card(charge)
    assert first.status is ChargeStatus.SUCCEEDED and first.amount == eur(30)
    assert again == first and fake.created["payment_intent"] == 1
    intent = fake.payment_intents[first.reference or ""]
    assert (intent["customer"], intent["payment_method"]) == (card["customer"], card["id"])
    assert intent["metadata"]["purpose"] == "saved_card"
    sent = next(r for r in fake.requests if r.path == "/v1/payment_intents" and r.method == "POST")
    assert (sent.params["off_session"], sent.params["confirm"], sent.idempotency_key) == (
        "true",
        "true",
        charge.key,
    )
    assert await provider.find_saved_card_charge(charge) == replace(first, reason=None)


@pytest.mark.parametrize("trouble", ["timeout", "server error"])
async def test_a_charge_without_an_answer_is_found_and_never_made_twice(
    impatient: StripeProvider, fake: FakeStripe, trouble: str
) -> None:
    card = fake.add_card("pm_card_visa", customer=await new_customer(impatient))
    charge = saved_charge(card)
    if trouble == "timeout":
        fake.delay_next("/v1/payment_intents", 1.0, times=3)
    else:
        fake.lose_answer_next("/v1/payment_intents", status=502, times=3)
    attempt = await impatient.charge_saved_card(charge)
    assert attempt.status is ChargeStatus.UNKNOWN and fake.created["payment_intent"] == 1
    found = await impatient.find_saved_card_charge(charge)
    [made] = fake.payment_intents
    assert (found.status, found.reference, found.amount) == (ChargeStatus.SUCCEEDED, made, eur(30))
    retried = await impatient.charge_saved_card(charge)
    assert (retried.status, retried.reference) == (ChargeStatus.SUCCEEDED, made)
    assert fake.created["payment_intent"] == 1


async def test_a_charge_asked_more_than_a_day_ago_is_looked_up_before_asking_again(
    provider: StripeProvider, fake: FakeStripe, clock: FrozenClock
) -> None:
    card = fake.add_card("pm_card_visa", customer=await new_customer(provider))
    charge = saved_charge(card)
    made = await provider.charge_saved_card(charge)
    clock.advance(timedelta(hours=30))
    fake._idempotent.clear()  # Stripe forgot the key
    assert await provider.charge_saved_card(charge) == replace(made, reason=None)
    assert fake.created["payment_intent"] == 1


async def test_a_charge_never_made_is_failed_when_looked_up(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    card = fake.add_card("pm_card_visa", customer=await new_customer(provider))
    assert (await provider.find_saved_card_charge(saved_charge(card))).status is ChargeStatus.FAILED
    fake.fail_next("/v1/payment_intents", status=500, times=3)
    assert (await provider.find_saved_card_charge(saved_charge(card))).status is ChargeStatus.UNKNOWN


async def test_a_card_that_wants_authentication_gets_authentication_required_and_nothing_stays_open(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    card = fake.add_card("pm_card_authenticationRequired", customer=await new_customer(provider))
    charge = saved_charge(card)
    attempt = await provider.charge_saved_card(charge)
    assert attempt.status is ChargeStatus.AUTHENTICATION_REQUIRED and attempt.reference is None
    [intent] = fake.payment_intents.values()
    assert intent["status"] == "canceled", "nobody can complete it later"
    assert (await provider.find_saved_card_charge(charge)).status is ChargeStatus.FAILED


async def test_a_declined_card_fails_with_the_decline_reason_and_is_not_charged_again(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    card = fake.add_card("pm_card_chargeCustomerFail", customer=await new_customer(provider))
    charge = saved_charge(card)
    attempt = await provider.charge_saved_card(charge)
    assert attempt.status is ChargeStatus.FAILED and attempt.reference is None
    assert "card_declined (generic_decline)" in (attempt.reason or "")
    assert "0341" not in (attempt.reason or "")
    assert await provider.charge_saved_card(charge) == attempt, "Stripe replays the decline for the key"
    assert fake.created["payment_intent"] == 1
    assert (await provider.find_saved_card_charge(charge)).status is ChargeStatus.FAILED


async def test_a_forgotten_card_is_detached_and_a_later_charge_fails(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    card = fake.add_card("pm_card_visa", customer=await new_customer(provider))
    saved = SavedCard(token=card["id"], provider_customer_id=card["customer"])
    assert await provider.card_details(saved) is not None
    await provider.forget_card(saved)
    assert fake.payment_methods[card["id"]]["customer"] is None
    await provider.forget_card(saved)  # already detached: fine
    await provider.forget_card(SavedCard(token="pm_gone"))  # unknown at Stripe: fine
    assert await provider.card_details(saved) is None
    attempt = await provider.charge_saved_card(saved_charge(card))
    assert attempt.status is ChargeStatus.FAILED


async def test_card_details_are_given_only_for_a_card_the_customer_chose_to_save(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    customer = await new_customer(provider)
    for save in (True, False):
        request = link_request(40, customer, offer_save_card=True)
        session = session_at(fake, await provider.checkout_url(request))
        events = fake.complete_session(session["id"], save_card=save)
        [paid] = mapped(one_event(events, "payment_intent.succeeded"))
        assert paid.saved_card is not None, "a candidate: the bot asks card_details"
        details = await provider.card_details(paid.saved_card)
        if save:
            assert details == replace(
                paid.saved_card, brand="visa", last4="4242", exp_month=12, exp_year=NOW.year + 3
            )
        else:
            assert details is None
    limited = fake.add_card("pm_card_visa", customer=customer, allow_redisplay="limited")
    assert await provider.card_details(SavedCard(token=limited["id"], provider_customer_id=customer)) is None
    elsewhere = fake.add_card("pm_card_visa", customer=await new_customer(provider, "Other"))
    assert (
        await provider.card_details(SavedCard(token=elsewhere["id"], provider_customer_id=customer)) is None
    )
    assert await provider.card_details(SavedCard(token="pm_nobody")) is None


# Webhooks


async def test_an_authorised_guarantee_tells_held_and_its_completed_session_pays_nothing(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, events = await authorised(provider, fake, 50, save_card=True)
    assert [e["type"] for e in events] == [
        "payment_method.attached",
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.amount_capturable_updated",
        "checkout.session.completed",
    ]
    completed = one_event(events, "checkout.session.completed")
    assert completed["data"]["object"]["payment_status"] == "unpaid"
    assert mapped(completed) == []
    [held] = mapped(one_event(events, "payment_intent.amount_capturable_updated"))
    assert (held.kind, held.transaction_id, held.reference) == (
        PaymentEventKind.HELD,
        request.transaction_id,
        intent_id,
    )
    assert held.amount == eur(50) and held.hold_lapses_at == NOW + timedelta(days=7)
    method = fake.payment_intents[intent_id]["payment_method"]
    assert held.saved_card == SavedCard(token=method, provider_customer_id=request.provider_client_id)
    for other in ("payment_method.attached", "payment_intent.created", "charge.succeeded"):
        assert mapped(one_event(events, other)) == []


async def test_a_capture_tells_captured_and_a_release_tells_released(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake, 50)
    await provider.capture_hold(hold_of(request, intent_id), eur(20), "capture-1")
    [captured] = mapped(fake.events_of("payment_intent.succeeded")[-1])
    assert (captured.kind, captured.reference, captured.amount) == (
        PaymentEventKind.CAPTURED,
        intent_id,
        eur(20),
    )
    assert captured.transaction_id == request.transaction_id
    other, other_intent, _events = await authorised(provider, fake, 50)
    await provider.release_hold(hold_of(other, other_intent))
    [released] = mapped(fake.events_of("payment_intent.canceled")[-1])
    assert (released.kind, released.reference, released.transaction_id) == (
        PaymentEventKind.RELEASED,
        other_intent,
        other.transaction_id,
    )


async def test_a_saved_card_charge_tells_paid_and_a_cancelled_one_tells_nothing(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    customer = await new_customer(provider)
    charge = saved_charge(fake.add_card("pm_card_visa", customer=customer))
    attempt = await provider.charge_saved_card(charge)
    [paid] = mapped(fake.events_of("payment_intent.succeeded")[-1])
    assert (paid.kind, paid.reference, paid.amount, paid.method) == (
        PaymentEventKind.PAID,
        attempt.reference,
        eur(30),
        "card",
    )
    assert paid.transaction_id == charge.transaction_id and paid.saved_card is None
    await provider.charge_saved_card(
        saved_charge(fake.add_card("pm_card_authenticationRequired", customer=customer))
    )
    assert mapped(fake.events_of("payment_intent.canceled")[-1]) == []
    assert mapped(fake.events_of("payment_intent.payment_failed")[-1]) == []


async def test_a_payment_on_our_page_is_told_twice_with_one_reference(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request = link_request(40, await new_customer(provider), offer_save_card=True)
    session = session_at(fake, await provider.checkout_url(request))
    events = fake.complete_session(session["id"], save_card=True)
    [by_session] = mapped(one_event(events, "checkout.session.completed"))
    [by_intent] = mapped(one_event(events, "payment_intent.succeeded"))
    assert by_session.kind is by_intent.kind is PaymentEventKind.PAID
    assert by_session.reference == by_intent.reference == fake.sessions[session["id"]]["payment_intent"]
    assert by_session.amount == by_intent.amount == eur(40)
    assert by_session.transaction_id == by_intent.transaction_id == request.transaction_id
    [invoiced] = mapped(one_event(events, "invoice.paid"))
    assert invoiced.kind is PaymentEventKind.INVOICED and invoiced.transaction_id == request.transaction_id


async def test_a_failed_delayed_payment_on_our_page_leaves_the_page_usable(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request = link_request(40, by_phone=True)
    session = dict(session_at(fake, await provider.checkout_url(request)))
    session.update(status="complete", payment_status="unpaid", payment_intent="pi_x")
    [failed] = mapped(fake.event("checkout.session.async_payment_failed", session))
    assert failed.kind is PaymentEventKind.FAILED and failed.link_exhausted is False


@pytest.mark.parametrize(
    "event_type, data_object",
    [
        ("payment_intent.succeeded", {"id": "pi_x", "amount_received": 100, "currency": "eur"}),
        ("payment_intent.succeeded", {"id": "pi_x", "metadata": "not a hash", "amount_received": "100"}),
        ("payment_intent.amount_capturable_updated", {"id": "pi_x", "metadata": {"purpose": "guarantee"}}),
        ("payment_intent.amount_capturable_updated", {"status": "requires_capture", "amount_capturable": 0}),
        ("payment_intent.canceled", {"metadata": {"purpose": "payment"}}),
        ("payment_intent.canceled", []),
        ("checkout.session.completed", "a string"),
        ("charge.refunded", None),
    ],
)
def test_unknown_or_malformed_shapes_give_no_event_and_never_raise(event_type: str, data_object: Any) -> None:
    event = {
        "id": "evt_x",
        "object": "event",
        "created": 1,
        "type": event_type,
        "data": {"object": data_object},
    }
    assert mapped(event) == []
    assert mapped({"id": "evt_y", "type": event_type}) == []


def test_a_capture_told_without_a_transaction_still_names_its_payment() -> None:
    metadata = {"purpose": "guarantee", "transaction_id": "not a uuid"}
    intent = {"id": "pi_x", "amount_received": 2000, "currency": "eur", "metadata": metadata}
    [captured] = mapped(
        {"id": "evt_x", "created": 1, "type": "payment_intent.succeeded", "data": {"object": intent}}
    )
    assert (captured.kind, captured.reference, captured.transaction_id) == (
        PaymentEventKind.CAPTURED,
        "pi_x",
        None,
    )


# Card numbers


async def test_no_request_the_provider_sends_carries_a_card_number(
    provider: StripeProvider, fake: FakeStripe
) -> None:
    request, intent_id, _events = await authorised(provider, fake, 50, save_card=True)
    await provider.check_hold(hold_of(request, None))
    await provider.capture_hold(hold_of(request, intent_id), eur(20), "capture-1")
    method = fake.payment_intents[intent_id]["payment_method"]
    saved = await provider.card_details(
        SavedCard(token=method, provider_customer_id=request.provider_client_id)
    )
    assert saved is not None
    for test_card in ("pm_card_visa", "pm_card_authenticationRequired", "pm_card_chargeCustomerFail"):
        card = fake.add_card(test_card, customer=request.provider_client_id)
        await provider.charge_saved_card(saved_charge(card))
    await provider.forget_card(saved)
    await provider.checkout_url(link_request(by_phone=True))
    sent_to = {(r.method, re.sub(r"/(pi|pm|cus|cs)_\w+", "/{id}", r.path)) for r in fake.requests}
    assert {
        ("POST", "/v1/customers"),
        ("POST", "/v1/checkout/sessions"),
        ("GET", "/v1/payment_intents"),
        ("POST", "/v1/payment_intents"),
        ("POST", "/v1/payment_intents/{id}/capture"),
        ("POST", "/v1/payment_intents/{id}/cancel"),
        ("GET", "/v1/payment_methods/{id}"),
        ("POST", "/v1/payment_methods/{id}/detach"),
    } <= sent_to
    for sent in fake.requests:
        text = json.dumps(sent.params) + sent.path
        assert not any(number in text for number in TEST_CARD_NUMBERS)
        assert re.search(r"(?<![A-Za-z0-9])\d{13,19}(?![A-Za-z0-9])", text) is None, sent
