"""Typed keys of the resources the app factory makes and keeps on the application."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.instagram.config import InstagramConfig
from bot.channels.instagram.processor import InstagramProcessor
from bot.channels.push.sender import PushSender
from bot.config import Settings
from bot.handlers.context import ChatDeps
from bot.jobs.runner import JobRunner
from bot.payments.registry import ProviderRegistry
from bot.services.clock import Clock
from bot.services.context import PaymentDeps
from bot.store.inbox_writer import InboxWriter
from bot.store.uow import UnitOfWorkFactory
from bot.web.background import BackgroundTasks
from bot.web.metrics import Metrics
from bot.whatsapp.clients import WhatsAppClients
from bot.whatsapp.processor import InboxProcessor
from bot.whatsapp.sender import OutboxSender

# What a process of the bot does: everything, webhooks only, or processing only (bot/app.py).
Role = Literal["all", "ingest", "worker"]
settings_key = web.AppKey("settings", Settings)
clock_key: web.AppKey[Clock] = web.AppKey("clock")
engine_key = web.AppKey("engine", AsyncEngine)
uow_key = web.AppKey("uow_factory", UnitOfWorkFactory)
metrics_key = web.AppKey("metrics", Metrics)
tasks_key = web.AppKey("background_tasks", BackgroundTasks)
providers_key = web.AppKey("providers", ProviderRegistry)
payments_key = web.AppKey("payment_deps", PaymentDeps)
inbox_writer_key = web.AppKey("inbox_writer", InboxWriter)
whatsapp_key = web.AppKey("whatsapp_clients", WhatsAppClients)
sender_key = web.AppKey("outbox_sender", OutboxSender)
chat_key = web.AppKey("chat_deps", ChatDeps)
pair_interval_key = web.AppKey("pair_interval", float)
processor_key = web.AppKey("inbox_processor", InboxProcessor)
instagram_key = web.AppKey("instagram_config", InstagramConfig)
instagram_processor_key = web.AppKey("instagram_processor", InstagramProcessor)
jobs_key = web.AppKey("jobs", JobRunner)
role_key: web.AppKey[Role] = web.AppKey("role")
push_sender_key = web.AppKey("push_sender", PushSender)
