"""The client's side of the relay API, generated from :mod:`cove.protocol.wire.api`.

One generic :meth:`RelayTransport.call` serves every endpoint of the table;
errors come back as :class:`RelayError` carrying the shared
:class:`~cove.protocol.wire.codes.ErrorCode`. Connection failures and 5xx
answers raise :class:`RelayUnreachable` and are retried (with the same
idempotency key, so a retried post is never duplicated); 4xx answers are not.
Tokens travel only in the ``Authorization`` header, never in a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import aiohttp

from cove.protocol.errors import DecodeError
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.api import BY_NAME, MSGPACK, OCTETS
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.schema import Envelope

T = TypeVar("T", bound=Envelope)

TIMEOUT = aiohttp.ClientTimeout(total=60, connect=10, sock_read=30)
RETRIES = 3


class RelayError(Exception):
    """The relay refused the request with a typed error."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        position: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.position = position
        self.retry_after = retry_after


class RelayUnreachable(Exception):
    """The relay could not be reached, or failed (5xx)."""


class RelayTransport:
    """An HTTP session with one relay. Use ``async with RelayTransport(url) as t``."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> RelayTransport:
        self._session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use RelayTransport as an async context manager")
        return self._session

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def call(
        self,
        name: str,
        request: Envelope | None = None,
        *,
        path: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Any:
        """Call endpoint ``name``; returns its decoded response envelope (or bytes)."""
        ep = BY_NAME[name]
        url = self.base_url + ep.url(**(path or {}))
        if ep.body == "msgpack":
            body: bytes | None = request.encode() if request is not None else None
            content_type: str | None = MSGPACK
        elif ep.body == "raw":
            body, content_type = raw, OCTETS
        else:
            body, content_type = None, None
        last: Exception | None = None
        for attempt in range(RETRIES):
            try:
                async with self.session.request(
                    ep.method, url, data=body, params=query, headers=self._headers(content_type)
                ) as resp:
                    data = await resp.read()
                    if resp.status >= 500:
                        raise RelayUnreachable(f"relay error {resp.status}")
                    if resp.status >= 400:
                        raise _relay_error(data, resp.status)
                    if ep.response is None:
                        return data
                    return ep.response.decode(data)
            except (TimeoutError, aiohttp.ClientError, RelayUnreachable) as exc:
                last = exc
                await asyncio.sleep(0.2 * (attempt + 1))
        raise RelayUnreachable(f"relay unreachable at {self.base_url}: {last}") from None

    @contextlib.asynccontextmanager
    async def stream(
        self, subscribe: E.Subscribe
    ) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
        """The push WebSocket, after sending ``subscribe``."""
        url = self.base_url.replace("http", "ws", 1) + BY_NAME["stream"].path
        try:
            ws = await self.session.ws_connect(url, headers=self._headers(None), heartbeat=30)
        except aiohttp.ClientError as exc:
            raise RelayUnreachable(f"relay unreachable at {self.base_url}: {exc}") from None
        try:
            await ws.send_bytes(subscribe.encode())
            yield ws
        finally:
            await ws.close()


def _relay_error(data: bytes, status: int) -> RelayError:
    try:
        body = E.ErrorBody.decode(data)
        code = ErrorCode(body.code)
    except (DecodeError, ValueError):
        return RelayError(ErrorCode.BAD_REQUEST, f"unreadable error answer (HTTP {status})")
    return RelayError(code, body.message, body.position, body.retry_after)
