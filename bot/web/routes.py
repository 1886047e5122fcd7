"""Every endpoint of the bot, in one table. Sandbox mode adds its own (the two-phone page, its checkout
and the fake Graph API, all in ``bot/sandbox``), which the composition root passes in."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from bot.web import checkout, health, icount, instagram, payments, whatsapp
from bot.web.admin import (
    actions as admin_actions,
    auth as admin_auth,
    customers as admin_customers,
    orders as admin_orders,
    payments as admin_payments,
    products as admin_products,
    push as admin_push,
    settings as admin_settings,
)


def setup_routes(app: web.Application, sandbox: Iterable[web.AbstractRouteDef] = ()) -> None:
    app.router.add_routes(
        [
            # Operators.
            web.get("/healthz", health.healthz),
            web.get("/readyz", health.readyz),
            web.get("/metrics", health.metrics),
            # Webhooks: verified, stored in the inbox, answered, then processed.
            web.get("/webhooks/whatsapp", whatsapp.verify_subscription),
            web.post("/webhooks/whatsapp", whatsapp.receive),
            web.get("/webhooks/instagram", instagram.verify_subscription),
            web.post("/webhooks/instagram", instagram.receive),
            web.post("/webhooks/stripe", payments.stripe_webhook),
            web.post("/webhooks/icount/{secret}", icount.icount_ipn),
            # Customers: where payment links lead and where providers send them back; the vendor's
            # one-time phone-payment link (before the provider pattern, which would match it too).
            web.get("/pay/phone/{token}", checkout.phone_payment),
            web.get("/pay/{provider}/{transaction}", checkout.hosted_checkout),
            web.get("/pay/success", payments.pay_success),
            web.post("/pay/success/email", payments.pay_success_email),
            web.get("/pay/cancelled", payments.pay_cancelled),
            # The vendor's dashboard (every page behind the sign-in, bot/web/admin/session.py).
            *admin_auth.auth_routes(),
            *admin_settings.settings_routes(),
            *admin_orders.view_routes(),
            *admin_actions.action_routes(),
            *admin_payments.payments_routes(),
            *admin_customers.customer_routes(),
            *admin_products.product_routes(),
            *admin_push.push_routes(),
        ]
    )
    app.router.add_routes(list(sandbox))
    # Last: any other dashboard address is the dashboard's own 404 page, in the vendor's language.
    app.router.add_get("/admin/{tail:.*}", admin_orders.unknown_page)
