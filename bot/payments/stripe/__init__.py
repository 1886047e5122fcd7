"""Stripe: one single-use Payment Link per request, webhooks for the outcome."""
