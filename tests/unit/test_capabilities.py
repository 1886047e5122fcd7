"""Which provider has which capability, as the registry tells services (Protocols with attributes too)."""

from __future__ import annotations

from bot.payments.port import (
    CardGuarantee,
    ClientSync,
    HoldConfirmation,
    HostedCheckout,
    Invoicing,
    PaymentConfirmation,
    SavedCardCharge,
)
from bot.payments.registry import names_with


def test_every_provider_holds_cards_and_charges_saved_ones() -> None:
    assert sorted(names_with(CardGuarantee)) == ["icount", "sandbox", "stripe"]
    assert sorted(names_with(SavedCardCharge)) == ["icount", "sandbox", "stripe"]


def test_capabilities_with_attributes_are_told_like_the_others() -> None:
    assert sorted(names_with(ClientSync)) == ["icount", "stripe"]
    assert sorted(names_with(HostedCheckout)) == ["icount", "stripe"]


def test_only_icount_confirms_callbacks_invoices_and_holds_through_its_api() -> None:
    assert names_with(Invoicing) == ["icount"]
    assert names_with(PaymentConfirmation) == ["icount"]
    assert names_with(HoldConfirmation) == ["icount"]
