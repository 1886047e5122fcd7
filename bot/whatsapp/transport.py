"""An httpx transport that sends pywa's Graph API calls to another base URL (the sandbox's fake Graph API).

pywa overwrites its session's ``base_url`` with ``https://graph.facebook.com/v<version>``, so the redirect
has to happen below it, at the transport: scheme, host and port are replaced and the base URL's path is
put in front of the request's path (``/v26.0/<phone_id>/messages`` -> ``/sandbox/graph/v26.0/...``).
"""

from __future__ import annotations

import httpx


class GraphRewriteTransport(httpx.AsyncBaseTransport):
    """Rewrites every request to ``base_url`` (e.g. ``http://127.0.0.1:8080/sandbox/graph``)."""

    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self._base = httpx.URL(base_url)
        if self._base.scheme not in ("http", "https") or not self._base.host:
            raise ValueError(f"not an absolute http(s) URL: {base_url!r}")
        self._prefix = self._base.path.rstrip("/")
        self._inner = inner if inner is not None else httpx.AsyncHTTPTransport()

    @property
    def base_url(self) -> str:
        return str(self._base)

    def rewrite(self, url: httpx.URL) -> httpx.URL:
        return url.copy_with(
            scheme=self._base.scheme,
            host=self._base.host,
            port=self._base.port,
            path=self._prefix + url.path,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = self.rewrite(request.url)
        # httpx filled Host from the original URL when the request was built.
        request.headers["Host"] = self._base.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()
