"""iCount card guarantees (J5 pre-approvals, or the card kept on file), saved cards and their charges,
through ``IcountProvider`` against the wire-level fake of iCount API v3."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.errors import ProviderNotConfigured
from bot.domain.money import Money
from bot.payments.icount.cards import FRESH_ASK, HOLD_WINDOW
from bot.payments.icount.client import IcountClient, IcountCredentials, RateLimiter
from bot.payments.icount.provider import IcountProvider
from bot.payments.icount.webhooks import ipn_notice
from bot.payments.port import (
    CardGuarantee,
    CardHold,
    ChargeStatus,
    ClientDetails,
    ConfirmedPayment,
    HoldConfirmation,
    HoldState,
    LinkRequest,
    SavedCard,
    SavedCardCharge,
    SavedCardRequest,
)
from tests.conftest import NOW, FrozenClock
from tests.fakes.icount_api import FakeIcount

BASE = "http://bot.test"
PHONE = "972501234567"
CARD_FIELDS = {"cc_number", "cc_cvv", "cc_validity", "cc_holder_id", "card_number", "cvv"}
# A value that is a card number: 13 to 19 digits (spaces or dashes between them) passing Luhn's check.
CARD_LIKE = re.compile(r"[\d -]{13,23}")


def ils(amount: str) -> Money:
    return Money(Decimal(amount), "ILS")


def values(params: Any) -> Iterator[tuple[str, str]]:
    """Every (name, value) of a request's params, nested ones included."""
    items = params.items() if isinstance(params, dict) else enumerate(params)
    for key, value in items:
        if isinstance(value, dict | list):
            yield from values(value)
        else:
            yield str(key), str(value)


def luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        number = int(char) * (2 if index % 2 else 1)
        total += number - 9 if number > 9 else number
    return total % 10 == 0


def assert_no_card_number(fake: FakeIcount) -> None:
    for call in fake.calls:
        for name, value in values(call.params):
            assert name not in CARD_FIELDS, f"{call.method} sent {name}"
            digits = re.sub(r"[ -]", "", value)
            if CARD_LIKE.fullmatch(value.strip()) and 13 <= len(digits) <= 19:
                assert not luhn(digits), f"{call.method} sent a card number in {name}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def fake(clock: FrozenClock) -> AsyncIterator[FakeIcount]:
    async with FakeIcount(clock=clock) as server:
        yield server
        assert_no_card_number(server)  # whatever a test did, never a card number on the wire


def token_client(fake: FakeIcount, timeout: float = 20.0) -> IcountClient:
    return IcountClient(
        IcountCredentials(token=fake.token), fake.base_url, timeout=timeout, limiter=RateLimiter(1000)
    )


def new_provider(fake: FakeIcount, clock: FrozenClock, timeout: float = 20.0) -> IcountProvider:
    return IcountProvider(
        token_client(fake, timeout),
        fake.paypage_id,
        BASE,
        "key",
        guarantee_paypage_id=fake.guarantee_paypage_id,
        save_card_paypage_id=fake.save_card_paypage_id,
        clock=clock,
    )


@pytest.fixture
async def provider(fake: FakeIcount, clock: FrozenClock) -> AsyncIterator[IcountProvider]:
    made = new_provider(fake, clock)
    yield made
    await made.close()


@pytest.fixture
async def client_id(provider: IcountProvider) -> str:
    return await provider.ensure_client(ClientDetails("cust-1", "Dana", f"+{PHONE}"))


def link_request(
    amount: str = "50.00", *, hold: bool = False, offer_save_card: bool = False, by_phone: bool = False
) -> LinkRequest:
    return LinkRequest(
        transaction_id=uuid.uuid4(),
        vendor_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        amount=ils(amount),
        description="Boulangerie #1",
        vendor_name="Boulangerie",
        customer_phone=PHONE,
        locale="en",
        success_url=f"{BASE}/pay/success",
        cancel_url=f"{BASE}/pay/cancelled",
        customer_name="Dana",
        hold=hold,
        offer_save_card=offer_save_card,
        by_phone=by_phone,
    )


def saved_charge(card: SavedCard, amount: str, asked_at: Any = None) -> SavedCardRequest:
    return SavedCardRequest(
        transaction_id=uuid.uuid4(),
        vendor_id=uuid.uuid4(),
        order_id=uuid.uuid4(),
        card=card,
        amount=ils(amount),
        description="Boulangerie #2",
        asked_at=asked_at or NOW,
        provider_client_id=card.provider_customer_id,
    )


async def held_guarantee(
    provider: IcountProvider, fake: FakeIcount, amount: str = "50.00"
) -> tuple[CardHold, ConfirmedPayment]:
    """A guarantee authorised on its page and confirmed from its IPN: the hold as the bot keeps it."""
    request = link_request(amount, hold=True)
    link = await provider.create_link(request)
    _ipn_url, fields = fake.authorise(link.provider_link_id)
    confirmed = await provider.confirm_hold(
        ipn_notice(request.transaction_id, fields), ils(amount), NOW.date()
    )
    assert confirmed is not None and confirmed.saved_card is not None
    hold = CardHold(
        transaction_id=request.transaction_id,
        vendor_id=request.vendor_id,
        held=ils(amount),
        reference=confirmed.reference,
        provider_link_id=link.provider_link_id,
        created_at=NOW,
        lapses_at=confirmed.hold_lapses_at,
        token=confirmed.saved_card.token,
        provider_client_id=confirmed.saved_card.provider_customer_id,
        card_on_file=confirmed.card_on_file,
    )
    return hold, confirmed


async def test_icount_offers_guarantees_hold_confirmations_and_saved_card_charges(
    provider: IcountProvider,
) -> None:
    assert isinstance(provider, CardGuarantee) and isinstance(provider, HoldConfirmation)
    assert isinstance(provider, SavedCardCharge)
    assert timedelta(days=5) <= provider.hold_window <= timedelta(days=7)


async def test_a_guarantee_ipn_is_confirmed_as_a_j5_hold_on_the_saved_card(
    provider: IcountProvider, fake: FakeIcount, client_id: str
) -> None:
    request = link_request(hold=True)
    link = await provider.create_link(request)
    sale = fake.sales[link.provider_link_id]
    assert str(sale["paypage_id"]) == fake.guarantee_paypage_id and sale["sum"] == "50.00"
    assert await provider.checkout_url(request) == f"{fake.root}/m/sale/{link.provider_link_id}"
    ipn_url, fields = fake.authorise(link.provider_link_id)
    assert ipn_url == provider.callbacks.url(request.transaction_id)
    notice = ipn_notice(request.transaction_id, fields)
    assert notice.fields["cc_token_id"] == fields["cc_token_id"], "the IPN's token is kept"
    confirmed = await provider.confirm_hold(notice, ils("50.00"), NOW.date())
    token = fake.tokens[fields["cc_token_id"]]
    assert token.j5 is not None
    assert confirmed == ConfirmedPayment(
        amount=ils("50.00"),
        reference=token.j5.confirmation_code,
        saved_card=SavedCard(token.token_id, "VISA", "4580", 12, 2028, client_id),
        held=True,
        hold_lapses_at=NOW + HOLD_WINDOW,
    )
    [status] = fake.calls_to("cc/j5_status")
    assert status.params == {"cc_token_id": token.token_id, "sum": "50.00"}
    assert fake.bills() == [], "a guarantee charges nothing"


async def test_a_guarantee_on_an_account_without_j5_keeps_the_card_on_file_only(
    provider: IcountProvider, fake: FakeIcount, client_id: str
) -> None:
    fake.j5_enabled = False
    request = link_request(hold=True)
    link = await provider.create_link(request)
    _ipn_url, fields = fake.authorise(link.provider_link_id)
    assert "confirmation_code" not in fields
    notice = ipn_notice(request.transaction_id, fields)
    assert notice.key == f"{request.transaction_id}:token:{fields['cc_token_id']}"
    confirmed = await provider.confirm_hold(notice, ils("50.00"), NOW.date())
    assert confirmed is not None
    assert (confirmed.held, confirmed.card_on_file, confirmed.amount) == (True, True, ils("50.00"))
    assert confirmed.reference == f"card-{request.transaction_id.hex}" and confirmed.hold_lapses_at is None
    assert confirmed.saved_card == SavedCard(fields["cc_token_id"], "VISA", "4580", 12, 2028, client_id)
    # An IPN naming no card, or a card iCount does not keep, confirms nothing.
    no_token = {k: v for k, v in fields.items() if k != "cc_token_id"}
    assert (
        await provider.confirm_hold(ipn_notice(request.transaction_id, no_token), ils("50"), NOW.date())
        is None
    )
    made_up = ipn_notice(request.transaction_id, {**fields, "cc_token_id": "123"})
    assert await provider.confirm_hold(made_up, ils("50.00"), NOW.date()) is None


async def test_a_guarantee_link_needs_the_vendors_guarantee_pay_page(
    fake: FakeIcount, clock: FrozenClock
) -> None:
    provider = IcountProvider(token_client(fake), fake.paypage_id, BASE, "key", clock=clock)
    try:
        with pytest.raises(ProviderNotConfigured) as caught:
            await provider.create_link(link_request(hold=True))
        assert caught.value.params["missing"] == "icount_guarantee_paypage_id"
        by_phone = await provider.create_link(link_request(by_phone=True))
    finally:
        await provider.close()
    assert str(fake.sales[by_phone.provider_link_id]["paypage_id"]) == fake.paypage_id, "a usual sale"
    assert fake.created["sale"] == 1


async def test_capturing_20_of_a_50_hold_charges_its_token_once_against_the_j5(
    provider: IcountProvider, fake: FakeIcount, client_id: str, clock: FrozenClock
) -> None:
    hold, _confirmed = await held_guarantee(provider, fake)
    assert (await provider.check_hold(hold)).state is HoldState.HELD
    attempt = await provider.capture_hold(hold, ils("20.00"), "capture-1")
    [bill] = fake.calls_to("cc/bill")
    [charged] = fake.bills()
    assert attempt.status is ChargeStatus.SUCCEEDED and attempt.reference == charged.confirmation_code
    assert attempt.amount == ils("20.00")
    assert bill.params["cc_token_id"] == hold.token and bill.params["sum"] == "20.00"
    assert bill.params["use_j5_if_available"] == 1 and bill.params["client_id"] == client_id
    assert bill.params["currency_code"] == "ILS" and bill.params["payment_description"]
    token = fake.tokens[str(hold.token)]
    assert token.j5 is not None and token.j5.used == Decimal("20.00"), "charged against the J5"
    again = await provider.capture_hold(hold, ils("20.00"), "capture-1")
    assert again == attempt and len(fake.calls_to("cc/bill")) == 1, "asked again: the same capture"
    check = await provider.check_hold(hold)
    assert (check.state, check.captured, check.reference) == (
        HoldState.CAPTURED,
        ils("20.00"),
        attempt.reference,
    )
    # After a restart, the capture asked again is found by the J5's use: never a second charge.
    restarted = new_provider(fake, clock)
    try:
        seen = await restarted.check_hold(hold)
        after = await restarted.capture_hold(hold, ils("20.00"), "capture-1")
    finally:
        await restarted.close()
    assert (seen.state, seen.reference) == (HoldState.CAPTURED, attempt.reference), "named by its charge"
    assert after.status is ChargeStatus.SUCCEEDED and after.reference == attempt.reference
    assert len(fake.calls_to("cc/bill")) == 1
    calls = len(fake.calls)
    await provider.release_hold(hold)
    assert len(fake.calls) == calls, "iCount has no call to cancel a J5: it lapses"


@pytest.mark.parametrize("j5", [True, False])
async def test_an_unanswered_capture_is_seen_made_by_check_hold_never_held_while_unknown(
    fake: FakeIcount, clock: FrozenClock, client_id: str, j5: bool
) -> None:
    """The guarantee job resolves an unanswered capture with check_hold: HELD would mean "not made"."""
    fake.j5_enabled = j5
    provider = new_provider(fake, clock)
    try:
        hold, _confirmed = await held_guarantee(provider, fake)
        assert hold.card_on_file is not j5
        assert (await provider.check_hold(hold)).state is HoldState.HELD, "nothing captured yet"
        fake.lose_answer_next("cc/bill", status=504)
        assert (await provider.capture_hold(hold, ils("20.00"), "capture-6")).status is ChargeStatus.UNKNOWN
        [made] = fake.bills()
        check = await provider.check_hold(hold)
    finally:
        await provider.close()
    assert (check.state, check.reference, check.captured) == (
        HoldState.CAPTURED,
        made.confirmation_code,
        ils("20"),
    )
    restarted = new_provider(fake, clock)
    try:
        check = await restarted.check_hold(hold)
    finally:
        await restarted.close()
    assert (check.state, check.reference, check.captured) == (
        HoldState.CAPTURED,
        made.confirmation_code,
        ils("20"),
    )
    assert len(fake.calls_to("cc/bill")) == 1


async def test_a_capture_refused_before_any_work_is_unknown_then_plainly_not_made(
    provider: IcountProvider, fake: FakeIcount, client_id: str, clock: FrozenClock
) -> None:
    hold, _confirmed = await held_guarantee(provider, fake)
    fake.fail_next("cc/bill", status=503)
    assert (await provider.capture_hold(hold, ils("20.00"), "capture-7")).status is ChargeStatus.UNKNOWN
    assert (await provider.check_hold(hold)).state is HoldState.UNKNOWN, "iCount's lists may lag"
    clock.advance(timedelta(minutes=16))
    assert (await provider.check_hold(hold)).state is HoldState.HELD, "not made: still held"
    assert fake.bills() == []


async def test_a_capture_beyond_the_hold_or_without_a_card_fails_without_charging(
    provider: IcountProvider, fake: FakeIcount, client_id: str
) -> None:
    hold, _confirmed = await held_guarantee(provider, fake)
    too_much = await provider.capture_hold(hold, ils("50.01"), "capture-2")
    assert too_much.status is ChargeStatus.FAILED
    no_card = CardHold(hold.transaction_id, hold.vendor_id, hold.held, None, "sale", NOW)
    assert (await provider.capture_hold(no_card, ils("10"), "capture-3")).status is ChargeStatus.FAILED
    assert fake.calls_to("cc/bill") == []
    assert (await provider.check_hold(no_card)).state is HoldState.REQUESTED


async def test_a_hold_is_seen_held_until_its_j5_lapses_and_a_kept_card_until_it_is_deleted(
    provider: IcountProvider, fake: FakeIcount, client_id: str, clock: FrozenClock
) -> None:
    hold, confirmed = await held_guarantee(provider, fake)
    check = await provider.check_hold(hold)
    assert (check.state, check.held, check.lapses_at) == (
        HoldState.HELD,
        ils("50.00"),
        confirmed.hold_lapses_at,
    )
    assert check.saved_card == confirmed.saved_card
    clock.advance(timedelta(days=8))
    assert (await provider.check_hold(hold)).state is HoldState.RELEASED
    fake.j5_enabled = False
    on_file, _ = await held_guarantee(provider, fake)
    assert on_file.card_on_file and (await provider.check_hold(on_file)).state is HoldState.HELD
    assert on_file.token is not None
    # A card-on-file guarantee is captured by a usual charge of its token.
    attempt = await provider.capture_hold(on_file, ils("5.00"), "capture-4")
    assert attempt.status is ChargeStatus.SUCCEEDED and fake.bills()[-1].token == on_file.token
    await provider.forget_card(SavedCard(on_file.token))
    assert (await provider.check_hold(on_file)).state is HoldState.RELEASED


async def test_a_saved_card_is_charged_for_an_amount_by_its_token(
    provider: IcountProvider, fake: FakeIcount, client_id: str
) -> None:
    token = fake.seed_card(client_id, last4="1234")
    card = SavedCard(token, "VISA", "1234", 12, 2028, client_id)
    attempt = await provider.charge_saved_card(saved_charge(card, "35.00"))
    [charged] = fake.bills()
    assert attempt.status is ChargeStatus.SUCCEEDED and attempt.reference == charged.confirmation_code
    assert (charged.total, charged.token, charged.client_id) == (Decimal("35.00"), token, client_id)
    [bill] = fake.calls_to("cc/bill")
    assert bill.params["cc_token_id"] == token and "use_j5_if_available" not in bill.params
    assert (await provider.card_details(SavedCard(token))) == SavedCard(token, "VISA", "1234", 12, 2028)


@pytest.mark.parametrize("lost", ["answer_500", "timeout"])
async def test_a_charge_made_whose_answer_was_lost_is_found_when_asked_again_and_made_once(
    fake: FakeIcount, clock: FrozenClock, lost: str
) -> None:
    provider = new_provider(fake, clock, timeout=0.3)
    try:
        client_id = await provider.ensure_client(ClientDetails("cust-1", "Dana", f"+{PHONE}"))
        # An earlier charge of the same sum on the same card is not taken for this one.
        token = fake.seed_card(client_id)
        card = SavedCard(token, "VISA", "4580", provider_customer_id=client_id)
        earlier = await provider.charge_saved_card(saved_charge(card, "35.00"))
        charge = saved_charge(card, "35.00")
        if lost == "timeout":
            fake.delay_next("cc/bill", 1.0)  # made, but answered after our timeout
        else:
            fake.lose_answer_next("cc/bill", status=500)  # made, then a 500
        first = await provider.charge_saved_card(charge)
        assert first.status is ChargeStatus.UNKNOWN
        assert len(fake.bills()) == 2, "iCount did charge it"
        again = await provider.charge_saved_card(charge)
        made = fake.bills()[-1]
        assert again.status is ChargeStatus.SUCCEEDED and again.reference == made.confirmation_code
        assert again.reference != earlier.reference
        assert len(fake.calls_to("cc/bill")) == 2, "the second ask looked it up in cc/transactions"
        assert fake.calls[-1].method == "cc/transactions"
    finally:
        await provider.close()
    # After a restart, with two charges of this sum on the card that day and nothing remembered:
    # unknown (the vendor checks iCount), never a third charge.
    clock.advance(FRESH_ASK * 2)
    restarted = new_provider(fake, clock)
    try:
        assert (await restarted.find_saved_card_charge(charge)).status is ChargeStatus.UNKNOWN
        assert (await restarted.charge_saved_card(charge)).status is ChargeStatus.UNKNOWN
    finally:
        await restarted.close()
    assert len(fake.calls_to("cc/bill")) == 2


async def test_a_charge_asked_before_a_restart_is_looked_up_from_its_asked_at_and_never_made_twice(
    fake: FakeIcount, clock: FrozenClock, client_id: str
) -> None:
    card = SavedCard(fake.seed_card(client_id), "VISA", "4580", provider_customer_id=client_id)
    charge = saved_charge(card, "35.00", asked_at=clock())
    before = new_provider(fake, clock)
    try:
        fake.lose_answer_next("cc/bill", status=502)
        assert (await before.charge_saved_card(charge)).status is ChargeStatus.UNKNOWN
    finally:
        await before.close()
    [made] = fake.bills()
    clock.advance(FRESH_ASK * 2)
    restarted = new_provider(fake, clock)
    try:
        found = await restarted.find_saved_card_charge(charge)
        asked_again = await restarted.charge_saved_card(charge)
    finally:
        await restarted.close()
    assert found.status is ChargeStatus.SUCCEEDED and found.reference == made.confirmation_code
    assert asked_again.reference == made.confirmation_code and len(fake.calls_to("cc/bill")) == 1


async def test_a_charge_icount_never_made_stays_unknown_until_it_plainly_was_not_then_is_made_once(
    provider: IcountProvider, fake: FakeIcount, client_id: str, clock: FrozenClock
) -> None:
    card = SavedCard(fake.seed_card(client_id), provider_customer_id=client_id)
    charge = saved_charge(card, "35.00")
    fake.fail_next("cc/bill", status=503)  # refused before anything was done
    assert (await provider.charge_saved_card(charge)).status is ChargeStatus.UNKNOWN
    assert (await provider.charge_saved_card(charge)).status is ChargeStatus.UNKNOWN, "not charged again yet"
    assert (await provider.find_saved_card_charge(charge)).status is ChargeStatus.UNKNOWN
    clock.advance(timedelta(minutes=16))
    not_made = await provider.find_saved_card_charge(charge)
    assert not_made.status is ChargeStatus.FAILED and "not made" in (not_made.reason or "")
    made = await provider.charge_saved_card(charge)
    assert made.status is ChargeStatus.SUCCEEDED and len(fake.bills()) == 1
    assert len(fake.calls_to("cc/bill")) == 2, "the refused call, then the one charge"


@pytest.mark.parametrize(
    ("case", "reason"), [("declined", "cc_declined"), ("expired", "cc_expired"), ("in_body", "cc_expired")]
)
async def test_a_declined_or_expired_card_fails_with_its_reason(
    provider: IcountProvider, fake: FakeIcount, client_id: str, case: str, reason: str
) -> None:
    fake.bill_refusals_in_body = case == "in_body"
    token = fake.seed_card(
        client_id, declines=case == "declined", exp_year=2028 if case == "declined" else 2025
    )
    attempt = await provider.charge_saved_card(saved_charge(SavedCard(token), "35.00"))
    assert attempt.status is ChargeStatus.FAILED and reason in (attempt.reason or "")
    assert fake.bills() == []


async def test_a_forgotten_card_is_deleted_at_icount_and_can_no_longer_be_charged(
    provider: IcountProvider, fake: FakeIcount, client_id: str
) -> None:
    card = SavedCard(fake.seed_card(client_id), provider_customer_id=client_id)
    await provider.forget_card(card)
    assert fake.tokens[card.token].deleted
    await provider.forget_card(card)  # already gone: not an error
    assert await provider.card_details(card) is None
    attempt = await provider.charge_saved_card(saved_charge(card, "35.00"))
    assert attempt.status is ChargeStatus.FAILED and "bad_token" in (attempt.reason or "")
    assert fake.bills() == []


async def test_a_payment_whose_customer_saved_the_card_is_confirmed_with_it_from_token_info(
    provider: IcountProvider, fake: FakeIcount, client_id: str
) -> None:
    request = link_request("45.00", offer_save_card=True)
    link = await provider.create_link(request)
    assert str(fake.sales[link.provider_link_id]["paypage_id"]) == fake.save_card_paypage_id
    _ipn_url, fields = fake.pay(link.provider_link_id, save_card=True)
    confirmed = await provider.confirm_payment(ipn_notice(request.transaction_id, fields), "ILS", NOW.date())
    assert confirmed is not None and confirmed.reference == fields["confirmation_code"]
    assert confirmed.saved_card == SavedCard(fields["cc_token_id"], "VISA", "4580", 12, 2028, client_id)
    assert not confirmed.held
    [info] = fake.calls_to("cc_storage/token_info")
    assert info.params == {"cc_token_id": fields["cc_token_id"]}
    # The box not ticked: the payment is confirmed, no card.
    other = link_request("45.00", offer_save_card=True)
    _ipn_url, fields = fake.pay((await provider.create_link(other)).provider_link_id)
    confirmed = await provider.confirm_payment(ipn_notice(other.transaction_id, fields), "ILS", NOW.date())
    assert confirmed is not None and confirmed.saved_card is None


async def test_no_request_the_provider_sends_carries_a_card_number(
    provider: IcountProvider, fake: FakeIcount, client_id: str
) -> None:
    hold, confirmed = await held_guarantee(provider, fake)
    await provider.capture_hold(hold, ils("20.00"), "capture-5")
    assert confirmed.saved_card is not None
    await provider.charge_saved_card(saved_charge(confirmed.saved_card, "12.00"))
    await provider.check_hold(hold)
    await provider.forget_card(confirmed.saved_card)
    methods = {call.method for call in fake.calls}
    assert {"cc/bill", "cc/j5_status", "cc_storage/token_info", "cc_storage/delete"} <= methods
    assert_no_card_number(fake)
    assert all("cc_token_id" in c.params for c in fake.calls_to("cc/bill")), "only ever the token"
