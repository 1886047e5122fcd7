"""The sandbox's fake Graph API, driven by a real pywa_async 4.5 client through GraphRewriteTransport, and the
inbound webhook builders, parsed by pywa as the bot parses Meta's webhooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpServer
from pywa_async import WhatsApp, errors, types, utils
from pywa_async.types.templates import BodyText, TemplateLanguage, URLButton as TemplateURLButton

from bot.sandbox import whatsapp_payloads as payloads
from bot.sandbox.graph import Choice, FakeGraphAPI, SentMessage
from bot.whatsapp.transport import GraphRewriteTransport

PHONE_ID = "106540352242922"
OTHER_PHONE_ID = "106540352242999"
CUSTOMER = "+33 6 12 34 56 78"
CUSTOMER_DIGITS = "33612345678"
TOKEN = "sandbox-token"
SECRET = "sandbox-app-secret"
PREFIX = "/sandbox/graph"
MakeClient = Callable[..., WhatsApp]


@pytest.fixture
async def fake() -> AsyncIterator[FakeGraphAPI]:
    async with FakeGraphAPI(access_token=TOKEN) as graph:
        yield graph


@pytest.fixture
async def graph_url(aiohttp_server: AiohttpServer, fake: FakeGraphAPI) -> str:
    app = web.Application()
    fake.add_routes(app, PREFIX)
    server = await aiohttp_server(app)
    return str(server.make_url(PREFIX))


@pytest.fixture
async def make_client(graph_url: str) -> AsyncIterator[MakeClient]:
    """pywa clients whose Graph calls go to the fake; webhook parsing is open (no signature, any number)."""
    sessions: list[httpx.AsyncClient] = []

    def make(**options: Any) -> WhatsApp:
        session = httpx.AsyncClient(transport=GraphRewriteTransport(graph_url), timeout=30)
        sessions.append(session)
        options = {"validate_updates": False, "filter_updates": False, **options}
        return WhatsApp(phone_id=PHONE_ID, token=TOKEN, session=session, api_version="26.0", **options)

    yield make
    for session in sessions:
        await session.aclose()


@pytest.fixture
def wa(make_client: MakeClient) -> WhatsApp:
    return make_client()


@dataclass
class Receiver:
    """The bot's side of the webhooks: checks the signature with pywa, keeps the body, lets pywa parse it."""

    url: str
    client: WhatsApp
    bodies: list[bytes] = field(default_factory=list)
    statuses: list[types.MessageStatus] = field(default_factory=list)


@pytest.fixture
async def receiver(aiohttp_server: AiohttpServer) -> AsyncIterator[Receiver]:
    session = httpx.AsyncClient()
    parser = WhatsApp(phone_id=PHONE_ID, token="x", session=session, app_secret=SECRET, verify_token="vt")
    app = web.Application()
    found: list[Receiver] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if refused := await parser.webhook_update_validator(body, request.headers.get(utils.HUB_SIG)):
            return web.Response(text=refused[0], status=refused[1])
        found[0].bodies.append(body)
        await parser.webhook_update_handler(body)
        return web.Response(text="ok")

    app.router.add_post("/webhook", webhook)
    server = await aiohttp_server(app)
    found.append(Receiver(str(server.make_url("/webhook")), parser))

    @parser.on_message_status
    async def on_status(_: WhatsApp, status: types.MessageStatus) -> None:
        found[0].statuses.append(status)

    yield found[0]
    await session.aclose()


# -- sending ---------------------------------------------------------------------------------------


async def test_a_text_send_is_recorded_and_answered_with_a_wamid(wa: WhatsApp, fake: FakeGraphAPI) -> None:
    sent = await wa.send_message(CUSTOMER, "Bonjour, 12.50 EUR please")

    [record] = fake.sent
    assert sent.id == record.wamid and record.wamid.startswith("wamid.")
    assert sent.chat.id == CUSTOMER_DIGITS and sent.input == CUSTOMER
    assert (record.seq, record.phone_id, record.to, record.kind) == (1, PHONE_ID, CUSTOMER_DIGITS, "text")
    assert record.text == "Bonjour, 12.50 EUR please" and record.buttons == ()
    assert record.addressed_by == "to"
    assert record.body()["text"] == {"body": "Bonjour, 12.50 EUR please", "preview_url": False}
    assert fake.sent_to("+33612345678") == [record] and fake.sent_to("+33700000000") == []
    second = await wa.send_message(CUSTOMER, "again", reply_to_message_id=sent.id, tracker="inv:42")
    assert second.id != sent.id
    assert (fake.sent[1].seq, fake.sent[1].reply_to, fake.sent[1].tracker) == (2, sent.id, "inv:42")
    assert fake.sent[1].at >= record.at


async def test_reply_buttons_lists_and_url_buttons_are_recorded_with_ids_and_titles(
    wa: WhatsApp, fake: FakeGraphAPI
) -> None:
    buttons = [types.Button("Pay", "pay:42"), types.Button("Later", "later:42")]
    await wa.send_message(
        CUSTOMER, "12.50 EUR for 2 croissants", header="Order 42", footer="Boulangerie", buttons=buttons
    )
    rows = types.SectionList(
        "Choose",
        sections=[
            types.Section("Orders", rows=[types.SectionRow("Order 41", "order:41", description="8.00 EUR")]),
            types.Section("Other", rows=[types.SectionRow("Help", "help")]),
        ],
    )
    await wa.send_message(CUSTOMER, "Which order?", buttons=rows)
    await wa.send_message(
        CUSTOMER, "Pay here", buttons=types.URLButton("Pay now", "https://pay.example/l/abc")
    )

    button, listing, link = fake.sent
    assert (button.kind, button.interactive_type, button.text) == (
        "interactive",
        "button",
        "12.50 EUR for 2 croissants",
    )
    assert button.buttons == (Choice("pay:42", "Pay"), Choice("later:42", "Later"))
    assert (button.header, button.footer) == ("Order 42", "Boulangerie")
    assert (listing.interactive_type, listing.list_button) == ("list", "Choose")
    assert listing.buttons == (
        Choice("order:41", "Order 41", description="8.00 EUR", section="Orders"),
        Choice("help", "Help", section="Other"),
    )
    assert link.interactive_type == "cta_url"
    assert link.buttons == (Choice("https://pay.example/l/abc", "Pay now", url="https://pay.example/l/abc"),)


async def test_a_template_send_is_recorded_with_its_name_language_and_parameters(
    wa: WhatsApp, fake: FakeGraphAPI
) -> None:
    sent = await wa.send_template(
        CUSTOMER,
        name="payment_reminder",
        language=TemplateLanguage.FRENCH,
        params=[BodyText.params("David", "12,50 €"), TemplateURLButton.params(url_variable="l/abc", index=0)],
    )

    [record] = fake.sent
    assert sent.id == record.wamid and record.kind == "template" and sent.status == "accepted"
    assert (record.template_name, record.template_language) == ("payment_reminder", "fr")
    assert record.template_params == ("David", "12,50 €")
    assert record.buttons == (Choice("url:0", "l/abc", url="l/abc"),)
    assert record.text == "[template payment_reminder (fr)] {{1}}=David {{2}}=12,50 €"


async def test_sending_to_a_bsuid_is_recorded_as_addressed_by_recipient(
    wa: WhatsApp, fake: FakeGraphAPI
) -> None:
    sent = await wa.send_message(payloads.user_id_for(CUSTOMER), "hi")

    assert fake.sent[0].addressed_by == "recipient" and fake.sent[0].to == CUSTOMER_DIGITS
    assert fake.sent[0].body()["recipient"] == "ZZ.33612345678" and "to" not in fake.sent[0].body()
    assert sent.chat.id == "ZZ.33612345678"


async def test_read_marks_and_typing_are_accepted_and_not_recorded_as_sends(
    wa: WhatsApp, fake: FakeGraphAPI
) -> None:
    assert (await wa.mark_message_as_read("wamid.in1")).success
    assert (await wa.indicate_typing("wamid.in2")).success

    assert fake.sent == []
    assert [(m.message_id, m.typing) for m in fake.read_marks] == [("wamid.in1", False), ("wamid.in2", True)]


async def test_unmodelled_message_types_and_paths_are_refused_like_graph(
    wa: WhatsApp, fake: FakeGraphAPI
) -> None:
    with pytest.raises(errors.WhatsAppError) as refused:
        await wa.send_reaction(CUSTOMER, "👍", "wamid.in1")
    assert refused.value.code == 100 and "not modelled" in str(refused.value.details)
    with pytest.raises(errors.WhatsAppError) as unknown:
        await wa.get_business_profile()
    assert (unknown.value.code, unknown.value.status_code) == (100, 400)
    assert fake.sent == []


async def test_a_request_without_a_valid_bearer_token_gets_a_graph_401(
    graph_url: str, fake: FakeGraphAPI
) -> None:
    body = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "x"}}
    url = f"{graph_url}/v26.0/{PHONE_ID}/messages"
    async with httpx.AsyncClient() as http:
        missing = await http.post(url, json=body)
        wrong = await http.post(url, json=body, headers={"Authorization": "Bearer nope"})
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "OAuthException"
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 190
    assert "fbtrace_id" in wrong.json()["error"]
    assert fake.sent == [] and fake.attempts == 2


# -- fault injection -------------------------------------------------------------------------------

FAULTS = [
    (130429, errors.RateLimitHit, 429),
    (131056, errors.TooManyMessages, 400),
    (131047, errors.ReEngagementMessage, 400),
    (131026, errors.MessageUndeliverable, 400),
    (131048, errors.SpamRateLimitHit, 400),
    (131030, errors.RecipientNotInAllowedList, 400),
    (4, errors.ToManyAPICalls, 429),
    (80007, errors.RateLimitIssues, 429),
    (131000, errors.UnknownError, 500),
    (131016, errors.ServiceUnavailable, 503),
    (132000, errors.TemplateParamCountMismatch, 400),
    (1, errors.WhatsAppError, 500),  # Graph's generic codes have no class of their own in pywa
    (2, errors.WhatsAppError, 503),
]


@pytest.mark.parametrize(("code", "exception", "http_status"), FAULTS)
async def test_each_injected_error_code_raises_pywas_exception_and_nothing_is_recorded(
    wa: WhatsApp, fake: FakeGraphAPI, code: int, exception: type[errors.WhatsAppError], http_status: int
) -> None:
    fake.fail_next(code)

    with pytest.raises(errors.WhatsAppError) as failed:
        await wa.send_message(CUSTOMER, "hello")
    assert type(failed.value) is exception
    assert (failed.value.code, failed.value.status_code, failed.value.type) == (
        code,
        http_status,
        "OAuthException",
    )
    assert failed.value.details == payloads.error_info(code).details and failed.value.fbtrace_id
    assert fake.sent == []
    await wa.send_message(CUSTOMER, "hello")
    assert len(fake.sent) == 1 and fake.attempts == 2 and fake.attempts_to(CUSTOMER) == 2


async def test_faults_count_down_and_can_target_one_recipient_and_status(
    wa: WhatsApp, fake: FakeGraphAPI
) -> None:
    fake.fail_next(131056, times=2, to="+33 6 00 00 00 01", http_status=400)
    fake.fail_next(130429, http_status=400)

    with pytest.raises(errors.RateLimitHit) as throttled:
        await wa.send_message(CUSTOMER, "to the customer")
    assert throttled.value.status_code == 400
    await wa.send_message(CUSTOMER, "to the customer again")
    for _ in range(2):
        with pytest.raises(errors.TooManyMessages):
            await wa.send_template("33600000001", name="payment_reminder", language=TemplateLanguage.FRENCH)
    await wa.send_message("33600000001", "finally")

    assert [m.text for m in fake.sent] == ["to the customer again", "finally"]
    assert (fake.attempts, fake.attempts_to(CUSTOMER), fake.attempts_to("33600000001")) == (5, 2, 3)


# -- waiting and subscribing -----------------------------------------------------------------------


async def test_wait_for_returns_a_past_or_future_send_and_times_out(wa: WhatsApp, fake: FakeGraphAPI) -> None:
    await wa.send_message(CUSTOMER, "first")
    assert (await fake.wait_for(lambda m: m.text == "first")).seq == 1

    later = asyncio.create_task(fake.wait_for(lambda m: m.text == "second"))
    await asyncio.sleep(0)
    await wa.send_message(CUSTOMER, "second")
    assert (await later).seq == 2
    with pytest.raises(TimeoutError):
        await fake.wait_for(lambda m: m.text == "never", timeout=0.05)


async def test_subscribers_get_every_new_send_until_they_unsubscribe(
    wa: WhatsApp, fake: FakeGraphAPI
) -> None:
    queue = fake.subscribe()
    await wa.send_message(CUSTOMER, "one")
    await wa.send_message(CUSTOMER, "two")
    fake.unsubscribe(queue)
    await wa.send_message(CUSTOMER, "three")

    received: list[SentMessage] = [queue.get_nowait(), queue.get_nowait()]
    assert [m.text for m in received] == ["one", "two"] and queue.empty()


# -- status webhooks -------------------------------------------------------------------------------


async def test_status_webhooks_are_posted_signed_and_parsed_by_pywa(
    wa: WhatsApp, fake: FakeGraphAPI, receiver: Receiver
) -> None:
    fake.set_webhook(receiver.url, SECRET)
    sent = await wa.send_message(CUSTOMER, "receipt", tracker="inv:42")
    template = await wa.send_template(CUSTOMER, name="payment_reminder", language=TemplateLanguage.FRENCH)
    await fake.drain()

    assert len(receiver.bodies) == 6 and all(d.ok for d in fake.deliveries)
    for body in receiver.bodies:
        assert utils.webhook_updates_validator(SECRET, body, payloads.sign(body, SECRET))
        value = json.loads(body)["entry"][0]["changes"][0]["value"]
        assert value["contacts"] == [{"wa_id": CUSTOMER_DIGITS, "user_id": "ZZ.33612345678"}]
        assert value["metadata"]["phone_number_id"] == PHONE_ID
    ticks = [(s.id, s.status.value) for s in receiver.statuses]
    assert [t for t in ticks if t[0] == sent.id] == [
        (sent.id, "sent"),
        (sent.id, "delivered"),
        (sent.id, "read"),
    ]
    assert [t for t in ticks if t[0] == template.id] == [
        (template.id, s) for s in ("sent", "delivered", "read")
    ]
    first = receiver.statuses[0]
    assert first.from_user.wa_id == CUSTOMER_DIGITS and first.tracker == "inv:42"
    assert (
        first.pricing is not None and first.pricing.category.value == "service" and not first.pricing.billable
    )
    assert first.conversation is not None and first.conversation.expiration is not None
    billed = next(s for s in receiver.statuses if s.id == template.id)
    assert (
        billed.pricing is not None and billed.pricing.category.value == "utility" and billed.pricing.billable
    )


async def test_a_failed_status_carries_the_error_that_pywa_maps_to_its_class(
    wa: WhatsApp, fake: FakeGraphAPI, receiver: Receiver
) -> None:
    fake.set_webhook(receiver.url, SECRET)
    fake.auto_statuses = ("sent",)
    sent = await wa.send_message(CUSTOMER, "hello after a day")
    await fake.drain()
    delivery = await fake.send_failed_status(sent.id)

    assert delivery.ok
    failed = receiver.statuses[-1]
    assert (failed.id, failed.status.value) == (sent.id, "failed")
    assert isinstance(failed.error, errors.ReEngagementMessage) and failed.error.code == 131047
    assert failed.error.details == payloads.error_info(131047).details
    with pytest.raises(KeyError):
        await fake.send_failed_status("wamid.unknown")


async def test_webhooks_signed_with_another_secret_are_refused_by_the_bot(
    wa: WhatsApp, fake: FakeGraphAPI, receiver: Receiver
) -> None:
    fake.set_webhook(receiver.url, "not-the-secret")
    await wa.send_message(CUSTOMER, "hello")
    await fake.drain()

    assert [d.status_code for d in fake.deliveries] == [403, 403, 403]
    assert receiver.bodies == []


async def test_a_webhook_to_a_closed_port_is_kept_as_an_error(wa: WhatsApp, fake: FakeGraphAPI) -> None:
    fake.set_webhook("http://127.0.0.1:9/webhook", SECRET)
    fake.auto_statuses = ("sent",)
    await wa.send_message(CUSTOMER, "hello")
    await fake.drain()

    [delivery] = fake.deliveries
    assert delivery.status_code is None and delivery.error is not None and not delivery.ok


async def test_a_status_the_bot_did_not_take_is_posted_again_until_it_answers_as_meta_does(
    wa: WhatsApp, fake: FakeGraphAPI, aiohttp_server: AiohttpServer
) -> None:
    answers = [503, 503, 200]
    bodies: list[bytes] = []

    async def webhook(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.Response(status=answers.pop(0) if answers else 200)

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = await aiohttp_server(app)
    fake.set_webhook(str(server.make_url("/webhook")), SECRET)
    fake.auto_statuses = ("sent",)
    fake.redeliver_for = 30.0
    sent = await wa.send_message(CUSTOMER, "hello", tracker="wpa-outbox:7")
    await fake.drain()

    assert [d.status_code for d in fake.deliveries] == [503, 503, 200]
    assert len(set(bodies)) == 1
    status = json.loads(bodies[0])["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert (status["id"], status["biz_opaque_callback_data"]) == (sent.id, "wpa-outbox:7")


# -- inbound builders, parsed by pywa --------------------------------------------------------------


@pytest.fixture
def parser() -> WhatsApp:
    return WhatsApp(phone_id=PHONE_ID, token="x", validate_updates=False, filter_updates=False)


async def _handle(client: WhatsApp, payload: dict[str, Any]) -> None:
    assert await client.webhook_update_handler(json.dumps(payload).encode()) == ("ok", 200)


async def test_an_inbound_text_is_parsed_by_pywa(parser: WhatsApp) -> None:
    received: list[types.Message] = []

    @parser.on_message
    async def record(_: WhatsApp, update: Any) -> None:
        received.append(update)

    payload = payloads.text_message(
        PHONE_ID, CUSTOMER, "pay 12.50", name="Anne", wamid="wamid.in1", timestamp=1_790_000_000
    )

    await _handle(parser, payload)

    [message] = received
    assert (message.text, message.id, message.from_user.wa_id) == ("pay 12.50", "wamid.in1", CUSTOMER_DIGITS)
    assert (message.from_user.name, message.from_user.bsuid) == ("Anne", "ZZ.33612345678")
    assert (
        message.metadata.phone_number_id == PHONE_ID and int(message.timestamp.timestamp()) == 1_790_000_000
    )


async def test_an_inbound_button_tap_is_parsed_by_pywa(parser: WhatsApp) -> None:
    received: list[types.CallbackButton] = []

    @parser.on_callback_button
    async def record(_: WhatsApp, update: Any) -> None:
        received.append(update)

    await _handle(
        parser, payloads.button_reply(PHONE_ID, CUSTOMER, "pay:42", "Pay", context_wamid="wamid.out1")
    )

    [button] = received
    assert (button.data, button.title, button.from_user.wa_id) == ("pay:42", "Pay", CUSTOMER_DIGITS)
    assert button.reply_to_message is not None and button.reply_to_message.id == "wamid.out1"


async def test_an_inbound_list_choice_is_parsed_by_pywa(parser: WhatsApp) -> None:
    received: list[types.CallbackSelection] = []

    @parser.on_callback_selection
    async def record(_: WhatsApp, update: Any) -> None:
        received.append(update)

    payload = payloads.list_reply(
        PHONE_ID, CUSTOMER, "order:41", "Order 41", context_wamid="wamid.out2", description="8.00 EUR"
    )

    await _handle(parser, payload)

    [selection] = received
    assert (selection.data, selection.title, selection.description) == ("order:41", "Order 41", "8.00 EUR")
    assert selection.from_user.wa_id == CUSTOMER_DIGITS and selection.reply_to_message.id == "wamid.out2"


async def test_an_inbound_status_is_parsed_by_pywa_with_its_errors(parser: WhatsApp) -> None:
    received: list[types.MessageStatus] = []

    @parser.on_message_status
    async def record(_: WhatsApp, update: Any) -> None:
        received.append(update)

    await _handle(parser, payloads.status(PHONE_ID, "wamid.out3", "delivered", CUSTOMER))
    failed = payloads.status(
        PHONE_ID, "wamid.out3", "failed", CUSTOMER, errors=[payloads.status_error(131026)]
    )
    await _handle(parser, failed)

    delivered, failure = received
    assert (delivered.id, delivered.status.value, delivered.from_user.wa_id) == (
        "wamid.out3",
        "delivered",
        CUSTOMER_DIGITS,
    )
    assert failure.status.value == "failed" and isinstance(failure.error, errors.MessageUndeliverable)


async def test_a_reply_goes_by_phone_number_only_when_wa_id_comes_first(
    make_client: MakeClient, fake: FakeGraphAPI
) -> None:
    by_bsuid = make_client()
    by_phone = make_client(
        user_identifier_priority=(
            utils.UserIdentifier.WA_ID,
            utils.UserIdentifier.BSUID,
            utils.UserIdentifier.PARENT_BSUID,
        )
    )
    for client in (by_bsuid, by_phone):

        @client.on_message
        async def echo(_: WhatsApp, message: types.Message) -> None:
            await message.reply("got it")

        await _handle(client, payloads.text_message(PHONE_ID, CUSTOMER, "hello"))

    default, preferred = fake.sent
    assert default.addressed_by == "recipient" and default.body()["recipient"] == "ZZ.33612345678"
    assert preferred.addressed_by == "to" and preferred.body()["to"] == CUSTOMER_DIGITS
    assert default.to == preferred.to == CUSTOMER_DIGITS


async def test_a_batch_of_50_messages_is_one_body_with_50_messages_in_one_change() -> None:
    customers = [f"+3361234{n:04d}" for n in range(50)]
    body = payloads.batch(
        *(payloads.text_message(PHONE_ID, c, f"message {i}") for i, c in enumerate(customers))
    )

    [entry] = body["entry"]
    [change] = entry["changes"]
    messages = change["value"]["messages"]
    assert len(messages) == 50 and [m["text"]["body"] for m in messages] == [
        f"message {i}" for i in range(50)
    ]
    assert len(change["value"]["contacts"]) == 50 and len({m["id"] for m in messages}) == 50
    assert json.loads(payloads.encode(body)) == body


async def test_a_batch_of_numbers_kinds_and_accounts_makes_several_changes_and_entries(
    parser: WhatsApp,
) -> None:
    body = payloads.batch(
        payloads.text_message(PHONE_ID, CUSTOMER, "one"),
        payloads.text_message(PHONE_ID, "+33700000000", "two"),
        payloads.text_message(OTHER_PHONE_ID, CUSTOMER, "three"),
        payloads.status(PHONE_ID, "wamid.out4", "read", CUSTOMER),
        payloads.text_message(PHONE_ID, CUSTOMER, "four", waba_id="999"),
        payloads.text_message(PHONE_ID, CUSTOMER, "five"),
    )

    first, second = body["entry"]
    shapes = [
        (c["value"]["metadata"]["phone_number_id"], len(c["value"].get("messages", [])))
        for c in first["changes"]
    ]
    assert shapes == [(PHONE_ID, 3), (OTHER_PHONE_ID, 1), (PHONE_ID, 0)]
    assert first["changes"][2]["value"]["statuses"][0]["id"] == "wamid.out4"
    assert len(first["changes"][0]["value"]["contacts"]) == 2
    assert second["id"] == "999" and len(second["changes"]) == 1
    split = payloads.batch(
        *(payloads.text_message(PHONE_ID, CUSTOMER, str(i)) for i in range(5)), max_per_change=2
    )
    assert [len(c["value"]["messages"]) for c in split["entry"][0]["changes"]] == [2, 2, 1]
    received: list[types.Message] = []

    @parser.on_message
    async def record(_: WhatsApp, update: Any) -> None:
        received.append(update)

    await _handle(parser, body)
    assert [m.text for m in received] == ["one"]  # pywa 4.5 dispatches only the first update of a batch


def test_sign_matches_pywas_signature_check() -> None:
    body = payloads.encode(payloads.text_message(PHONE_ID, CUSTOMER, "שלום €"))
    assert b"\\u05e9" in body  # escaped like Meta's bodies
    assert utils.webhook_updates_validator(SECRET, body, payloads.sign(body, SECRET))
    assert not utils.webhook_updates_validator("other", body, payloads.sign(body, SECRET))


# -- the transport ---------------------------------------------------------------------------------


async def test_the_rewrite_transport_keeps_path_and_query_under_the_base_path() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    transport = GraphRewriteTransport(
        "http://127.0.0.1:8080/sandbox/graph/", inner=httpx.MockTransport(answer)
    )
    async with httpx.AsyncClient(transport=transport, base_url="https://graph.facebook.com/v26.0") as http:
        await http.get("/123/messages", params={"fields": "id,name"})

    [request] = seen
    assert str(request.url) == "http://127.0.0.1:8080/sandbox/graph/v26.0/123/messages?fields=id%2Cname"
    assert request.headers["Host"] == "127.0.0.1:8080"
    with pytest.raises(ValueError, match="absolute"):
        GraphRewriteTransport("/sandbox/graph")
