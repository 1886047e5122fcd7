"""The sandbox's built-in WhatsApp: a fake of the WhatsApp Cloud (Graph) API's send endpoint.

It takes exactly what pywa_async 4.5 posts for text, reply buttons, lists, URL buttons, templates and read
marks, answers with Graph's shapes and error envelopes, records each accepted send, and posts the status
webhooks ("ticks") back to the bot, signed like Meta. Payload shapes it does not model are refused with a
Graph error, so a test never passes because the fake ignored something. Faults can be injected per code.
"""

from bot.sandbox.graph.api import FakeGraphAPI
from bot.sandbox.graph.records import Choice, Json, Kind, ReadMark, SentMessage, WebhookDelivery
from bot.sandbox.graph.requests import MODELLED_TYPES, error_envelope

__all__ = [
    "MODELLED_TYPES",
    "Choice",
    "FakeGraphAPI",
    "Json",
    "Kind",
    "ReadMark",
    "SentMessage",
    "WebhookDelivery",
    "error_envelope",
]
