"""The store suite: every test runs on SQLite and on a real Postgres (see the database_url fixture)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from bot.domain.errors import OrderNotFound, VendorRequired
from bot.domain.money import Money
from bot.domain.order import OrderStatus
from bot.domain.transaction import PaymentTransaction, TransactionStatus, TransactionType
from bot.domain.vendor import ProviderName
from bot.payments.credentials import CredentialCipher
from bot.services import orders as order_service, vendors as vendor_service
from bot.store.tables import commandes, payment_settings
from bot.store.uow import UnitOfWorkFactory
from tests.conftest import NOW


async def add_vendor(
    uow: UnitOfWorkFactory, name: str = "Boulangerie", phone: str = "+33612345678"
) -> vendor_service.VendorSummary:
    new = vendor_service.NewVendor(name=name, admin_phones=[phone.replace("+33", "+33 ", 1), phone])
    return await vendor_service.add_vendor(uow, new, NOW)


async def test_a_vendor_is_stored_with_its_settings_and_admins(uow_factory: UnitOfWorkFactory) -> None:
    added = await add_vendor(uow_factory)
    assert added.admin_phones == ["33612345678"]
    shown = await vendor_service.show_vendor(uow_factory, None)
    assert shown.vendor == added.vendor
    assert shown.admin_phones == ["33612345678"]
    assert shown.vendor.payment.provider is ProviderName.SANDBOX


async def test_settings_change_all_together_or_not_at_all(uow_factory: UnitOfWorkFactory) -> None:
    await add_vendor(uow_factory)
    changed = await vendor_service.change_settings(
        uow_factory, "boulangerie", [("deposit_percent", "50"), ("reminder_schedule", "2d")], None, NOW
    )
    assert str(changed.vendor.payment.deposit_percent) == "50%"
    with pytest.raises(Exception, match="invalid_setting"):
        await vendor_service.change_settings(
            uow_factory, None, [("deposit_percent", "40"), ("deposit_mode", "bogus")], None, NOW
        )
    shown = await vendor_service.show_vendor(uow_factory, None)
    assert str(shown.vendor.payment.deposit_percent) == "50%"
    assert shown.vendor.reminders.schedule == (timedelta(days=2),)


async def test_credentials_are_stored_encrypted(uow_factory: UnitOfWorkFactory) -> None:
    added = await add_vendor(uow_factory)
    cipher = CredentialCipher("a-secret-key")
    await vendor_service.change_settings(uow_factory, None, [("stripe_api_key", "sk_test_123")], cipher, NOW)
    async with uow_factory() as uow:
        sealed = (
            await uow.connection.execute(
                select(payment_settings.c.credentials).where(payment_settings.c.vendor_id == added.vendor.id)
            )
        ).scalar_one()
    assert sealed is not None and "sk_test_123" not in sealed
    assert cipher.open(sealed) == {"stripe_api_key": "sk_test_123"}


async def test_with_several_vendors_one_must_be_named(uow_factory: UnitOfWorkFactory) -> None:
    await add_vendor(uow_factory, "Boulangerie")
    await add_vendor(uow_factory, "Traiteur", "+33611111111")
    with pytest.raises(VendorRequired):
        await vendor_service.show_vendor(uow_factory, None)
    assert (await vendor_service.show_vendor(uow_factory, "Traiteur")).vendor.name == "Traiteur"


async def test_an_order_round_trips_with_an_exact_price(uow_factory: UnitOfWorkFactory) -> None:
    await add_vendor(uow_factory)
    created = await order_service.create_order(
        uow_factory, None, "+33699887766", "12345678,91", "Pièce montée", True, NOW
    )
    view = await order_service.show_order(uow_factory, None, created.number)
    assert view.order == created
    assert view.order.price == Money(Decimal("12345678.91"), "EUR")
    assert view.order.status is OrderStatus.ACCEPTED
    assert view.customer.phone == "33699887766"
    assert view.order.created_at.tzinfo is not None


async def test_the_same_customer_is_reused_across_orders(uow_factory: UnitOfWorkFactory) -> None:
    await add_vendor(uow_factory)
    first = await order_service.create_order(uow_factory, None, "+33699887766", "10", "", False, NOW)
    second = await order_service.create_order(uow_factory, None, "0033 6 99 88 77 66", "20", "", False, NOW)
    assert first.customer_id == second.customer_id
    assert (first.number, second.number) == (1, 2)


async def test_a_missing_order_is_reported_by_its_number(uow_factory: UnitOfWorkFactory) -> None:
    await add_vendor(uow_factory)
    with pytest.raises(OrderNotFound):
        await order_service.show_order(uow_factory, None, 7)


async def test_the_unit_of_work_rolls_back_unless_committed(uow_factory: UnitOfWorkFactory) -> None:
    added = await add_vendor(uow_factory)
    async with uow_factory() as uow:
        await uow.vendors.take_order_number(added.vendor.id)
    async with uow_factory() as uow:
        number = await uow.vendors.take_order_number(added.vendor.id)
        await uow.commit()
    assert number == 1


async def test_a_failed_creation_gives_its_order_number_back(uow_factory: UnitOfWorkFactory) -> None:
    await add_vendor(uow_factory)
    with pytest.raises(Exception, match="invalid_phone"):
        await order_service.create_order(uow_factory, None, "12", "10", "", False, NOW)
    order = await order_service.create_order(uow_factory, None, "+33699887766", "10", "", False, NOW)
    assert order.number == 1


async def test_the_database_refuses_a_paid_order_without_payment_type(uow_factory: UnitOfWorkFactory) -> None:
    await add_vendor(uow_factory)
    order = await order_service.create_order(uow_factory, None, "+33699887766", "150", "", True, NOW)
    with pytest.raises(IntegrityError, match="check_payment_logic"):
        async with uow_factory() as uow:
            await uow.connection.execute(
                update(commandes).where(commandes.c.id == order.id).values(status="paid")
            )
    async with uow_factory() as uow:
        await uow.connection.execute(
            update(commandes).where(commandes.c.id == order.id).values(status="paid", payment_type="total")
        )
        await uow.commit()


async def test_a_transaction_round_trips_with_the_source_columns(uow_factory: UnitOfWorkFactory) -> None:
    added = await add_vendor(uow_factory)
    order = await order_service.create_order(uow_factory, None, "+33699887766", "150", "", True, NOW)
    transaction = PaymentTransaction(
        id=uuid.uuid4(),
        commande_id=order.id,
        vendor_id=added.vendor.id,
        amount=Money(Decimal("45.00"), "EUR"),
        type=TransactionType.ACOMPTE,
        label="Acompte",
        status=TransactionStatus.PENDING,
        created_at=NOW,
        updated_at=NOW,
        provider="sandbox",
    )
    async with uow_factory() as uow:
        await uow.transactions.add(transaction)
        await uow.commit()
    paid_at = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    transaction.mark_paid(paid_at, "card", "ref_1")
    async with uow_factory() as uow:
        await uow.transactions.update(transaction)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.transactions.get(transaction.id)
        row = (
            await uow.connection.execute(
                text("SELECT montant, devise, type, status FROM payment_transactions WHERE id = :id"),
                {"id": transaction.id if uow.connection.dialect.name == "postgresql" else transaction.id.hex},
            )
        ).one()
    assert stored == transaction
    assert row.devise == "EUR" and row.type == "acompte" and row.status == "paid"
    view = await order_service.show_order(uow_factory, None, order.number)
    ledger = view.ledger
    assert ledger is not None and ledger.balance == Money(Decimal(105), "EUR")


async def test_concurrent_order_creations_get_distinct_consecutive_numbers(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_vendor(uow_factory)
    created = await asyncio.gather(
        *(
            order_service.create_order(uow_factory, None, f"+3369988{i:04d}", "10", f"order {i}", False, NOW)
            for i in range(20)
        )
    )
    assert sorted(order.number for order in created) == list(range(1, 21))


async def test_concurrent_first_orders_of_one_customer_share_the_customer(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_vendor(uow_factory)
    created = await asyncio.gather(
        *(
            order_service.create_order(uow_factory, None, "+33699887766", "10", "", False, NOW)
            for _ in range(5)
        )
    )
    assert len({order.customer_id for order in created}) == 1


async def test_a_vendor_text_with_broken_syntax_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    await add_vendor(uow_factory)
    with pytest.raises(Exception, match="invalid_setting"):
        await vendor_service.change_settings(
            uow_factory, None, [("text.payment_request.fr", "{{ oops")], None, NOW
        )
    changed = await vendor_service.change_settings(
        uow_factory, None, [("text.payment_receipt.he", "תודה {{ amount }}")], None, NOW
    )
    assert changed.vendor.message_overrides == {"payment_receipt": {"he": "תודה {{ amount }}"}}
    shown = await vendor_service.show_vendor(uow_factory, None)
    assert shown.vendor.message_overrides == {"payment_receipt": {"he": "תודה {{ amount }}"}}


async def test_a_redelivered_old_message_never_moves_the_24_hour_window_back(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_vendor(uow_factory)
    async with uow_factory() as uow:
        vendor = (await uow.vendors.all())[0]
        customer = await uow.customers.get_or_create(vendor.id, "33611111111", NOW, None)
        await uow.customers.touch(customer.id, NOW, None)
        await uow.customers.touch(customer.id, NOW - timedelta(hours=30), None)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.customers.get(customer.id)
    assert stored is not None and stored.last_inbound_at == NOW
