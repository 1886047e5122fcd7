"""The push sender: takes the due rows of the push outbox, encrypts each payload to its subscription
(RFC 8291, aes128gcm, by pywebpush) and posts it to the browser's push service with our VAPID header.

A 2xx marks it sent; 404 or 410 means the subscription is gone: it is deleted, never tried again; 429, a
5xx or no answer is tried again with backoff a bounded number of times; any other answer fails it. A row
is claimed for a lease first, so a sender that dies mid-send leaves it to be sent again (a notification
may then come twice, never be lost)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPusher, WebPushException

from bot.channels.push.vapid import VapidKeys, ensure_keys
from bot.domain.push import Delivery, delivery_of, retry_delay
from bot.payments.credentials import CredentialCipher
from bot.services.clock import Clock
from bot.store.repositories.push import DueNotification
from bot.store.uow import UnitOfWorkFactory
from bot.tasks import stop_task

log = logging.getLogger(__name__)
CLAIM_BATCH = 50
# Longer than a send can take (the timeout below): a row claimed this long ago was never recorded.
CLAIM_LEASE = timedelta(minutes=2)
SEND_TIMEOUT_SECONDS = 10.0
STOP_GRACE_SECONDS = 10.0


def _host(endpoint: str) -> str:
    """What a log line may say of an endpoint: its path is the subscription's capability."""
    return urlsplit(endpoint).netloc


class PushSender:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        cipher: CredentialCipher | None,
        *,
        subject: str,
        ttl_seconds: int = 12 * 3600,
        poll_seconds: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._cipher = cipher
        self._subject = subject
        self._ttl = ttl_seconds
        self._poll = poll_seconds
        self._session = session
        self._own_session = session is None
        self._keys: VapidKeys | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def enabled(self) -> bool:
        """Push needs SECRET_KEY: the VAPID private key is stored sealed with it."""
        return self._cipher is not None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None and self.enabled:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="push-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping = True
            self.wake()
            await stop_task(self._task, STOP_GRACE_SECONDS)
            self._task = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if await self.send_due():
                    continue
            except Exception:  # noqa: BLE001 - the loop must survive a database blip
                log.exception("push pass failed; trying again shortly")
            self._wake.clear()
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)

    async def keys(self) -> VapidKeys:
        if self._cipher is None:
            raise RuntimeError("web push needs SECRET_KEY")
        if self._keys is None:
            self._keys = await ensure_keys(self._uow, self._cipher, self._clock())
        return self._keys

    async def send_due(self) -> int:
        """One pass: claims what is due, sends it, records each outcome; returns how many were claimed."""
        if not self.enabled:
            return 0
        async with self._uow() as uow:
            due = await uow.push.claim_due(self._clock(), CLAIM_LEASE, CLAIM_BATCH)
            await uow.commit()
        if due:
            keys = await self.keys()
            await asyncio.gather(*(self._send_one(keys, notification) for notification in due))
        return len(due)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _post(self, keys: VapidKeys, notification: DueNotification) -> tuple[int | None, str]:
        """The push service's status (None: no answer) and what to record of it."""
        subscription = notification.subscription
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        data = json.dumps(notification.payload, ensure_ascii=False).encode()
        headers: dict[str, Any] = keys.authorization(subscription.endpoint, self._subject, self._clock())
        try:
            pusher = WebPusher(info, aiohttp_session=self._client())
            response = await pusher.send_async(
                data, headers, ttl=self._ttl, content_encoding="aes128gcm",
                timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS),
            )  # fmt: skip
        except WebPushException as error:  # keys that do not make a payload: no answer would change it
            return 400, f"not encrypted: {type(error).__name__}"
        except (aiohttp.ClientError, TimeoutError) as error:
            return None, f"no answer: {type(error).__name__}"
        status = int(response.status)
        return status, f"HTTP {status}"

    async def _send_one(self, keys: VapidKeys, notification: DueNotification) -> None:
        status, said = await self._post(keys, notification)
        outcome = delivery_of(status)
        now = self._clock()
        host = _host(notification.subscription.endpoint)
        async with self._uow() as uow:
            if outcome is Delivery.SENT:
                await uow.push.mark_sent(notification, now)
            elif outcome is Delivery.GONE:
                log.info("push subscription at %s is gone (%s): removed", host, said)
                await uow.push.remove(notification.subscription.id)
            else:
                delay = retry_delay(notification.attempts) if outcome is Delivery.RETRY else None
                retry_at = None if delay is None else now + delay
                log.warning(
                    "push %d to %s not sent (%s): %s", notification.id, host, said,
                    "tried again later" if retry_at else "failed",
                )  # fmt: skip
                await uow.push.mark_unsent(notification, said, retry_at, now)
            await uow.commit()
