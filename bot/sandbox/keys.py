"""Typed keys of what sandbox mode keeps on the application (the web layer knows none of them)."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.graph import FakeGraphAPI
from bot.sandbox.instagram import FakeInstagramAPI
from bot.sandbox.journal import SandboxJournal

# The built-in fake WhatsApp.
graph_key = web.AppKey("fake_graph", FakeGraphAPI)
# The built-in fake Instagram (its Send API, and the customer's side of Instagram Direct).
instagram_fake_key = web.AppKey("fake_instagram", FakeInstagramAPI)
journal_key = web.AppKey("sandbox_journal", SandboxJournal)
# Whether a first start in sandbox mode makes the demo data (``bot serve`` does).
sandbox_demo_key = web.AppKey("sandbox_demo", bool)
# Seconds the sandbox's "Pay later" waits before the payment settles.
sandbox_delay_key = web.AppKey("sandbox_settle_delay", float)
