"""stripe-python's async client, set up once per API key: our timeout, its retries, no telemetry."""

from __future__ import annotations

import stripe

TIMEOUT_SECONDS = 30


def stripe_client(
    api_key: str, api_base: str | None, timeout: float
) -> tuple[stripe.StripeClient, stripe.HTTPXClient]:
    # Otherwise stripe-python writes an id under ~/.config and reports request timings to Stripe.
    stripe.enable_telemetry = False
    http = stripe.HTTPXClient(timeout=timeout)
    client = stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        http_client=http,
        # Network errors and 5xx are retried with the same idempotency key: never a second object.
        max_network_retries=2,
    )
    return client, http
