"""Replies as outbox messages, their words rendered from bot/templates (the vendor's wording first)."""

from __future__ import annotations

from typing import Any

from bot.domain.outgoing import OutgoingMessage
from bot.domain.vendor import Vendor
from bot.rendering import render_for
from bot.services.chat import AdminActor, CustomerActor
from bot.services.messages import customer_locale

VENDOR_REPLY = "vendor_reply"


def admin_text(vendor: Vendor, template: str, /, **context: Any) -> str:
    return render_for(vendor, f"chat/{template}", vendor.locale, **context)


def to_admin(
    actor: AdminActor,
    template: str,
    /,
    *,
    buttons: tuple[tuple[str, str], ...] = (),
    menu: tuple[str, str, tuple[tuple[str, str, str | None], ...]] | None = None,
    locale: str | None = None,
    **context: Any,
) -> OutgoingMessage:
    """A reply to the admin, in the vendor's language (or ``locale``)."""
    locale = locale or actor.vendor.locale
    text = render_for(actor.vendor, f"chat/{template}", locale, **context)
    return OutgoingMessage(
        vendor_id=actor.vendor.id,
        to_phone=actor.phone,
        kind=VENDOR_REPLY,
        locale=locale,
        text=text,
        template_params=(text,),
        buttons=buttons,
        menu=menu,
    )


def to_customer(actor: CustomerActor, kind: str, template: str, /, **context: Any) -> OutgoingMessage:
    locale = customer_locale(actor.vendor, actor.customer)
    text = render_for(actor.vendor, f"chat/{template}", locale, vendor=actor.vendor.name, **context)
    channel, address = actor.reply_to()
    return OutgoingMessage(
        vendor_id=actor.vendor.id,
        to_phone=address,
        channel=channel,
        kind=kind,
        locale=locale,
        text=text,
        template_params=(text,),
        customer_id=actor.customer.id,
    )


def to_admins(actor: CustomerActor, kind: str, template: str, /, **context: Any) -> list[OutgoingMessage]:
    """A note to each admin about the customer (a reply to it names the customer)."""
    text = admin_text(actor.vendor, template, **context)
    return [
        OutgoingMessage(
            vendor_id=actor.vendor.id,
            to_phone=phone,
            kind=kind,
            locale=actor.vendor.locale,
            text=text,
            template_params=(text,),
            about_customer=actor.customer.id,
        )
        for phone in actor.admin_phones
    ]
