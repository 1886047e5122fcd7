"""The fake Stripe API, driven through the real stripe-python 16 StripeClient, as the bot drives Stripe."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import stripe
from stripe.params import PaymentLinkCreateParams

from tests.fakes.stripe_api import FakeStripe, PaymentLinkInactive, decode_form, sign

# stripe-python's HTTPXClient posts its form body as data=<str>, which httpx 0.28 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
ClientFactory = Callable[..., stripe.StripeClient]
PRODUCT = "bot_vendor_0f3c"
TRANSACTION = str(uuid.UUID(int=7))


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeStripe]:
    # Telemetry would write an id under ~/.config/stripe on the first request.
    monkeypatch.setattr(stripe, "enable_telemetry", False)
    async with FakeStripe() as server:
        yield server


@pytest.fixture
async def make_client(fake: FakeStripe) -> AsyncIterator[ClientFactory]:
    """Clients on the fake; retries are off unless asked, so each test decides what is retried."""
    http_clients: list[stripe.HTTPXClient] = []

    def make(timeout: float = 5, retries: int = 0, api_key: str | None = None) -> stripe.StripeClient:
        http = stripe.HTTPXClient(timeout=timeout)
        http_clients.append(http)
        return stripe.StripeClient(
            api_key or fake.api_key,
            base_addresses={"api": fake.base_url},
            http_client=http,
            max_network_retries=retries,
        )

    yield make
    for http in http_clients:
        await http.close_async()  # type: ignore[no-untyped-call]


@pytest.fixture
async def client(make_client: ClientFactory) -> stripe.StripeClient:
    client = make_client()
    await client.v1.products.create_async(
        {"id": PRODUCT, "name": "Boulangerie Test"}, options={"idempotency_key": f"product-{PRODUCT}"}
    )
    return client


def link_params(amount: int = 4500, product: str = PRODUCT) -> PaymentLinkCreateParams:
    """What the bot sends for a payment request."""
    metadata = {"transaction_id": TRANSACTION}
    return {
        "line_items": [
            {"price_data": {"currency": "eur", "unit_amount": amount, "product": product}, "quantity": 1}
        ],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata, "description": "Deposit for a cake"},
        "restrictions": {"completed_sessions": {"limit": 1}},
        "after_completion": {"type": "redirect", "redirect": {"url": "https://bot.test/paid"}},
        "invoice_creation": {
            "enabled": True,
            "invoice_data": {"metadata": metadata, "description": "Deposit for a cake"},
        },
    }


async def test_a_payment_link_is_created_with_everything_the_bot_sends(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    link = await client.v1.payment_links.create_async(link_params(), options={"idempotency_key": "link-1"})

    assert isinstance(link, stripe.PaymentLink)
    assert link.object == "payment_link" and link.id.startswith("plink_") and link.active is True
    assert link.url.startswith("https://buy.stripe.com/test_") and link.livemode is False
    assert link.currency == "eur"
    assert link.metadata["transaction_id"] == TRANSACTION
    assert link.restrictions is not None
    assert link.restrictions.completed_sessions.to_dict() == {"count": 0, "limit": 1}
    assert link.after_completion.redirect is not None
    assert link.after_completion.redirect.url == "https://bot.test/paid"
    assert link.payment_intent_data is not None
    assert link.payment_intent_data.description == "Deposit for a cake"
    assert link.invoice_creation is not None and link.invoice_creation.enabled is True
    # Stored as received on the wire: the decoder rebuilt stripe-python's bracket encoding, values as text.
    received = fake.params[link.id]
    assert received["line_items"] == [
        {"price_data": {"currency": "eur", "unit_amount": "4500", "product": PRODUCT}, "quantity": "1"}
    ]
    assert received["invoice_creation"]["invoice_data"]["metadata"] == {"transaction_id": TRANSACTION}
    assert fake.line_items[link.id][0]["price"]["unit_amount"] == 4500
    items = await client.v1.payment_links.line_items.list_async(link.id)
    assert [item.amount_total for item in items.data] == [4500]


def test_the_form_decoder_reads_brackets_as_hashes_and_numbered_lists() -> None:
    pairs = [
        ("line_items[0][price_data][unit_amount]", "4500"),
        ("line_items[1][quantity]", "2"),
        ("metadata[0]", "a numbered metadata key is still a key"),
        ("expand[]", "line_items"),
        ("active", "false"),
    ]
    assert decode_form(pairs) == {
        "line_items": [{"price_data": {"unit_amount": "4500"}}, {"quantity": "2"}],
        "metadata": {"0": "a numbered metadata key is still a key"},
        "expand": ["line_items"],
        "active": "false",
    }


async def test_a_product_is_found_by_its_chosen_id_and_an_unknown_one_is_resource_missing(
    client: stripe.StripeClient,
) -> None:
    product = await client.v1.products.retrieve_async(PRODUCT)
    assert product.object == "product" and product.name == "Boulangerie Test"

    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.products.retrieve_async("bot_vendor_nobody")
    assert missing.value.http_status == 404
    assert (missing.value.code, missing.value.param) == ("resource_missing", "id")
    assert missing.value.user_message == "No such product: 'bot_vendor_nobody'"

    with pytest.raises(stripe.InvalidRequestError) as exists:
        await client.v1.products.create_async({"id": PRODUCT, "name": "Again"})
    assert exists.value.code == "resource_already_exists"


async def test_a_payment_link_for_an_unknown_product_names_the_product_parameter(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.payment_links.create_async(link_params(product="bot_vendor_nobody"))
    assert missing.value.http_status == 400 and missing.value.code == "resource_missing"
    assert missing.value.param == "line_items[0][price_data][product]"


async def test_a_parameter_the_fake_does_not_know_is_refused_like_a_typo_at_stripe(
    client: stripe.StripeClient,
) -> None:
    params: dict[str, Any] = {**link_params(), "restrictions": {"completed_session": {"limit": 1}}}
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await client.v1.payment_links.create_async(params)  # type: ignore[arg-type]
    assert unknown.value.code == "parameter_unknown"
    assert unknown.value.param == "restrictions[completed_session]"


async def test_a_payment_link_created_twice_with_one_idempotency_key_is_created_once(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    first = await client.v1.payment_links.create_async(link_params(), options={"idempotency_key": "link-1"})
    again = await client.v1.payment_links.create_async(link_params(), options={"idempotency_key": "link-1"})

    assert again.id == first.id and again.url == first.url
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert fake.created["payment_link"] == 1 and list(fake.payment_links) == [first.id]


async def test_an_idempotency_key_reused_with_other_parameters_is_an_idempotency_error(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    await client.v1.payment_links.create_async(link_params(4500), options={"idempotency_key": "link-1"})

    with pytest.raises(stripe.IdempotencyError) as conflict:
        await client.v1.payment_links.create_async(link_params(5000), options={"idempotency_key": "link-1"})
    assert conflict.value.http_status == 400
    assert "same parameters" in (conflict.value.user_message or "")
    assert fake.created["payment_link"] == 1


async def test_a_link_created_while_the_client_timed_out_is_returned_by_a_retry_with_the_same_key(
    fake: FakeStripe, make_client: ClientFactory
) -> None:
    client = make_client(timeout=0.2)
    await client.v1.products.create_async({"id": PRODUCT, "name": "Boulangerie Test"})
    fake.delay_next("/v1/payment_links", 1.0)

    with pytest.raises(stripe.APIConnectionError) as timed_out:
        await client.v1.payment_links.create_async(link_params(), options={"idempotency_key": "link-1"})
    assert timed_out.value.should_retry is True
    assert fake.created["payment_link"] == 1  # Stripe made it; the client never heard

    link = await client.v1.payment_links.create_async(link_params(), options={"idempotency_key": "link-1"})
    assert list(fake.payment_links) == [link.id] and fake.created["payment_link"] == 1


async def test_stripe_python_retries_a_timed_out_request_by_itself_with_the_same_key(
    fake: FakeStripe, make_client: ClientFactory
) -> None:
    client = make_client(timeout=0.2, retries=1)
    await client.v1.products.create_async({"id": PRODUCT, "name": "Boulangerie Test"})
    fake.delay_next("/v1/payment_links", 1.0)

    link = await client.v1.payment_links.create_async(link_params())

    sent = [request for request in fake.requests if request.path == "/v1/payment_links"]
    assert len(sent) == 2 and sent[0].idempotency_key == sent[1].idempotency_key is not None
    assert list(fake.payment_links) == [link.id]


async def test_an_injected_server_error_is_an_api_error_and_creates_nothing(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    fake.fail_next("/v1/payment_links")

    with pytest.raises(stripe.APIError) as failed:
        await client.v1.payment_links.create_async(link_params(), options={"idempotency_key": "link-1"})
    assert failed.value.http_status == 500 and not fake.payment_links

    link = await client.v1.payment_links.create_async(link_params(), options={"idempotency_key": "link-1"})
    assert list(fake.payment_links) == [link.id]


async def test_a_key_that_is_not_a_test_secret_key_is_an_authentication_error(
    make_client: ClientFactory,
) -> None:
    client = make_client(api_key="sk_live_not_here")
    with pytest.raises(stripe.AuthenticationError) as refused:
        await client.v1.products.retrieve_async(PRODUCT)
    assert refused.value.http_status == 401


async def test_paying_a_link_completes_a_session_and_its_limit_deactivates_the_link(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    link = await client.v1.payment_links.create_async(link_params(), options={"idempotency_key": "link-1"})

    paid = fake.pay(link.id)

    session = await client.v1.checkout.sessions.retrieve_async(paid["id"])
    assert session.object == "checkout.session" and session.id.startswith("cs_test_")
    assert (session.payment_link, session.status, session.payment_status) == (link.id, "complete", "paid")
    assert (session.amount_total, session.currency, session.mode) == (4500, "eur", "payment")
    assert session.metadata is not None and session.metadata.to_dict() == {"transaction_id": TRANSACTION}
    intent = fake.payment_intents[paid["payment_intent"]]
    assert intent["metadata"] == {"transaction_id": TRANSACTION} and intent["status"] == "succeeded"
    after = await client.v1.payment_links.retrieve_async(link.id)
    assert after.active is False
    assert after.restrictions is not None and after.restrictions.completed_sessions.count == 1
    with pytest.raises(PaymentLinkInactive):
        fake.pay(link.id)


async def test_a_delayed_payment_completes_unpaid_then_settles(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    link = await client.v1.payment_links.create_async(link_params())

    session = fake.pay(link.id, payment_status="unpaid")
    assert session["payment_status"] == "unpaid"
    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.refunds.create_async({"payment_intent": session["payment_intent"]})

    assert fake.settle(session["id"])["payment_status"] == "paid"


async def test_a_deactivated_link_cannot_be_paid(fake: FakeStripe, client: stripe.StripeClient) -> None:
    link = await client.v1.payment_links.create_async(link_params())

    updated = await client.v1.payment_links.update_async(
        link.id, {"active": False, "metadata": {"cancelled": "yes"}}
    )

    assert updated.active is False
    assert updated.metadata.to_dict() == {"transaction_id": TRANSACTION, "cancelled": "yes"}
    with pytest.raises(PaymentLinkInactive):
        fake.pay(link.id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        await client.v1.payment_links.update_async("plink_nobody", {"active": False})
    assert missing.value.http_status == 404


async def test_refunds_are_limited_to_what_is_left_of_the_payment(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    link = await client.v1.payment_links.create_async(link_params())
    intent = fake.pay(link.id)["payment_intent"]

    refund = await client.v1.refunds.create_async(
        {"payment_intent": intent, "amount": 1000}, options={"idempotency_key": "refund-1"}
    )
    assert refund.object == "refund" and refund.id.startswith("re_")
    assert (refund.amount, refund.currency, refund.payment_intent, refund.status) == (
        1000,
        "eur",
        intent,
        "succeeded",
    )
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        await client.v1.refunds.create_async({"payment_intent": intent, "amount": 4000})
    assert (too_much.value.code, too_much.value.param) == ("amount_too_large", "amount")
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        await client.v1.refunds.create_async({"payment_intent": "pi_nobody"})
    assert (unknown.value.http_status, unknown.value.param) == (400, "payment_intent")

    event = fake.charge_refunded_event(intent)
    charge = event["data"]["object"]
    assert event["type"] == "charge.refunded" and charge["object"] == "charge"
    assert (charge["amount"], charge["amount_refunded"], charge["refunded"]) == (4500, 1000, False)
    assert charge["payment_intent"] == intent and charge["metadata"] == {"transaction_id": TRANSACTION}
    assert fake.created["refund"] == 1


async def test_an_event_from_the_fake_passes_stripes_own_signature_check(
    fake: FakeStripe, client: stripe.StripeClient
) -> None:
    link = await client.v1.payment_links.create_async(link_params())
    event = fake.event("checkout.session.completed", fake.pay(link.id))
    payload = json.dumps(event)
    secret = "whsec_test_secret"

    parsed = stripe.Webhook.construct_event(
        payload, sign(payload, secret, fake.timestamp()), secret, tolerance=None
    )

    assert parsed.id == event["id"] and parsed.type == "checkout.session.completed"
    assert parsed.api_version == "2026-10-28.endive"
    assert parsed.data.object.metadata["transaction_id"] == TRANSACTION
    body, header = fake.signed(event)
    stripe.WebhookSignature.verify_header(body, header, fake.webhook_secret, tolerance=None)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            payload, sign(payload, "whsec_other", fake.timestamp()), secret, tolerance=None
        )
