"""An httpx client for iCount API v3: authentication, the status/reason envelope, throttling, timeouts.

Every call is ``POST {base}/{module}/{method}`` with a JSON body (form encoding as an option). Auth is a
Bearer API token, or ``cid``/``user``/``pass`` traded for a session id by ``auth/login`` (logged in again
once when a call fails on the session). Application errors come back with HTTP 200 and ``status: false``;
throttling comes back as the plain text "Too many requests" (or a 429). Secrets never reach a log line or
an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.payments.icount import consts
from bot.payments.port import ProviderError

log = logging.getLogger(__name__)
Json = dict[str, Any]


class IcountError(ProviderError):
    """iCount refused or failed a call; ``reason`` is iCount's code (or ours: timeout, throttled, ...)."""

    def __init__(self, message: str, *, reason: str, transient: bool, details: tuple[str, ...] = ()) -> None:
        super().__init__(message, transient=transient)
        self.reason = reason
        self.details = details


class IcountAuthError(IcountError):
    """The credentials were refused: nothing works until the vendor fixes them."""

    def __init__(self, message: str, *, reason: str, details: tuple[str, ...] = ()) -> None:
        super().__init__(message, reason=reason, transient=False, details=details)


class IcountRateLimited(IcountError):
    def __init__(self, method: str) -> None:
        super().__init__(f"icount {method}: too many requests", reason="too_many_requests", transient=True)


class IcountUnavailable(IcountError):
    def __init__(self, method: str, what: str) -> None:
        super().__init__(f"icount {method}: {what}", reason="unavailable", transient=True)


@dataclass(frozen=True, slots=True)
class IcountCredentials:
    """An API token, or the company id, user and password of a session login."""

    token: str | None = field(default=None, repr=False)
    cid: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.token and not (self.cid and self.user and self.password):
            raise ValueError("iCount needs an API token, or cid, user and pass")

    @property
    def uses_session(self) -> bool:
        return not self.token

    @property
    def identity(self) -> str:
        """Who the requests count against (a digest: safe as a key, never the secret itself)."""
        raw = self.token or f"{self.cid}\0{self.user}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]

    @property
    def fingerprint(self) -> str:
        """All of the credentials as a digest: a corrected password is another client, at once."""
        raw = "\0".join(part or "" for part in (self.token, self.cid, self.user, self.password))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


class RateLimiter:
    """At most ``limit`` requests in any ``period`` seconds (a sliding window); callers wait their turn."""

    def __init__(
        self,
        limit: int = consts.REQUESTS_PER_MINUTE,
        period: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limit = limit
        self.period = period
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._recent and now - self._recent[0] >= self.period:
                    self._recent.popleft()
                if len(self._recent) < self.limit:
                    self._recent.append(now)
                    return
                await self._sleep(self._recent[0] + self.period - now)


# One window per token in the process, whichever client instance sends.
_LIMITERS: dict[str, RateLimiter] = {}


def limiter_for(credentials: IcountCredentials) -> RateLimiter:
    return _LIMITERS.setdefault(credentials.identity, RateLimiter())


def use_limiter(credentials: IcountCredentials, limiter: RateLimiter) -> None:
    """Every client of these credentials in the process waits on ``limiter`` from now on (tests give one
    on a fake clock and sleeper, so that pacing is measured without sleeping for real)."""
    _LIMITERS[credentials.identity] = limiter


def _is_true(value: Any) -> bool:
    return value is True or value == 1 or str(value).lower() in {"1", "true"}


def flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Nested params in PHP's bracket form encoding: ``items[0][description]=...``."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, Mapping):
            pairs.extend(flatten(value, name))
        elif isinstance(value, list | tuple):
            pairs.extend(flatten({str(i): item for i, item in enumerate(value)}, name))
        elif isinstance(value, bool):
            pairs.append((name, "1" if value else "0"))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


def _mentions(reason: str, words: tuple[str, ...]) -> bool:
    lowered = reason.lower()
    return any(word in lowered for word in words)


class IcountClient:
    def __init__(
        self,
        credentials: IcountCredentials,
        base_url: str = consts.DEFAULT_API_BASE,
        *,
        timeout: float = consts.TIMEOUT_SECONDS,
        limiter: RateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        form_encoded: bool = False,
    ) -> None:
        self._credentials = credentials
        self._base = base_url.rstrip("/")
        self._limiter = limiter or limiter_for(credentials)
        self._form = form_encoded
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)
        self._sid: str | None = None
        self._login_lock = asyncio.Lock()

    @property
    def identity(self) -> str:
        return self._credentials.identity

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Json:
        """The answer of ``module/method`` when its ``status`` is true; else a typed IcountError."""
        for attempt in (1, 2):
            auth, headers = await self._auth()
            body = await self._post(method, {**(params or {}), **auth}, headers)
            try:
                return self._check(method, body)
            except IcountError as error:
                # iCount does not document its reason for an expired session: any refusal of the
                # session's rights counts too (a bad password then fails at the new login, not in a loop).
                expired = self._credentials.uses_session and (
                    isinstance(error, IcountAuthError) or _mentions(error.reason, consts.SESSION_WORDS)
                )
                if attempt == 1 and expired:
                    log.info("icount session refused on %s (%s): logging in again", method, error.reason)
                    self._sid = None
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _auth(self) -> tuple[Json, dict[str, str]]:
        if self._credentials.token:
            return {}, {"Authorization": f"Bearer {self._credentials.token}"}
        sid = self._sid or await self._login()
        return {"sid": sid}, {}

    async def _login(self) -> str:
        async with self._login_lock:
            if self._sid is not None:
                return self._sid
            credentials = self._credentials
            body = await self._post(
                consts.AUTH_LOGIN,
                {"cid": credentials.cid, "user": credentials.user, "pass": credentials.password},
                {},
            )
            try:
                answer = self._check(consts.AUTH_LOGIN, body)
            except IcountAuthError:
                raise
            except IcountError as error:
                if error.transient:
                    raise
                raise IcountAuthError(str(error), reason=error.reason, details=error.details) from error
            sid = answer.get("sid")
            if not isinstance(sid, str) or not sid:
                raise IcountAuthError("icount auth/login: no session id in the answer", reason="no_sid")
            self._sid = sid
            return sid

    async def _post(self, method: str, params: Json, headers: dict[str, str]) -> Any:
        await self._limiter.acquire()
        url = f"{self._base}/{method}"
        try:
            if self._form:
                response = await self._http.post(url, data=dict(flatten(params)), headers=headers)
            else:
                response = await self._http.post(url, json=params, headers=headers)
        except httpx.TimeoutException as error:
            raise IcountUnavailable(method, "timed out") from error
        except httpx.HTTPError as error:
            raise IcountUnavailable(method, f"connection failed ({type(error).__name__})") from error
        text = response.text.strip()
        if response.status_code == 429 or text.lower().startswith(consts.TOO_MANY_REQUESTS):
            raise IcountRateLimited(method)
        if response.status_code >= 500:
            raise IcountUnavailable(method, f"HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as error:
            raise IcountError(
                f"icount {method}: HTTP {response.status_code}, not JSON", reason="not_json", transient=False
            ) from error

    @staticmethod
    def _check(method: str, body: Any) -> Json:
        if not isinstance(body, dict):
            raise IcountError(f"icount {method}: unexpected answer", reason="bad_answer", transient=False)
        if _is_true(body.get("status")):
            return body
        reason = str(body.get("reason") or "unknown_error")
        description = str(body.get("error_description") or "").strip()
        raw_details = body.get("error_details") or []
        details = tuple(str(d) for d in raw_details) if isinstance(raw_details, list) else (str(raw_details),)
        message = f"icount {method}: {reason}" + (f" ({description})" if description else "")
        if _mentions(reason, consts.AUTH_WORDS):
            raise IcountAuthError(message, reason=reason, details=details)
        raise IcountError(message, reason=reason, transient=False, details=details)

    async def close(self) -> None:
        if self._sid is not None:
            try:
                await self.call(consts.AUTH_LOGOUT)
            except IcountError as error:
                log.info("icount logout failed: %s", error)
            self._sid = None
        await self._http.aclose()
