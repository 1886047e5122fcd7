"""The aiohttp application: webhooks, health, metrics."""
