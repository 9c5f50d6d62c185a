"""A hostile relay for tests: an aiohttp proxy in front of a real ``cove-relay``.

One proxy per member (each member's client talks to its own), so handing members
different things — a fork — is giving their proxies different rules. Rules are
plain attributes the test sets; everything else is forwarded unchanged::

    proxy.pages = lambda group_hex, page: page      # rewrite fetched message pages
    proxy.refuse = {group_hex}                       # answer 404 for these groups
    proxy.swallow_handshake = True                   # accept commits, never forward them
    proxy.claims = lambda body: body                 # rewrite KeyPackage claims
    proxy.inbox = lambda page: page                  # rewrite the Welcome inbox
    proxy.group_info = lambda answer: answer         # rewrite an open link's GroupInfo
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.api import MSGPACK
from cove.protocol.wire.mls_header import peek_mls_header

_HOP = {"content-length", "transfer-encoding", "connection", "host", "content-encoding"}


@dataclass
class HostileProxy:
    upstream: str
    url: str = ""
    pages: Callable[[str, E.MessagePage], E.MessagePage] | None = None
    refuse: set[str] = field(default_factory=set)
    swallow_handshake: bool = False
    claims: Callable[[E.ClaimResponse], E.ClaimResponse] | None = None
    inbox: Callable[[E.InboxPage], E.InboxPage] | None = None
    group_info: Callable[[K.LinkGroupInfo], K.LinkGroupInfo] | None = None
    swallowed: list[bytes] = field(default_factory=list)
    _http: aiohttp.ClientSession | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, upstream: str) -> AsyncIterator[HostileProxy]:
        proxy = cls(upstream)
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/{tail:.*}", proxy._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        proxy.url = f"http://127.0.0.1:{port}"
        proxy._http = aiohttp.ClientSession(auto_decompress=False)
        try:
            yield proxy
        finally:
            await proxy._http.close()
            await runner.cleanup()

    def _error(self, status: int, code: str) -> web.Response:
        body = E.ErrorBody(code=code, message="not found").encode()
        return web.Response(status=status, body=body, content_type=MSGPACK)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        parts = path.split("/")
        group = parts[3] if len(parts) > 3 and parts[2] == "groups" else None
        if group in self.refuse:
            return self._error(404, "not_found")
        body = await request.read()
        if (
            self.swallow_handshake
            and request.method == "POST"
            and group
            and path.endswith("/messages")
        ):
            post = E.PostMessageRequest.decode(body)
            if peek_mls_header(post.message).is_handshake:
                self.swallowed.append(post.message)
                seq = 10_000 + secrets.randbelow(1000)
                answer = E.PostMessageResponse(seq=seq, duplicate=False).encode()
                return web.Response(body=answer, content_type=MSGPACK)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        assert self._http is not None
        async with self._http.request(
            request.method, self.upstream + request.path_qs, data=body or None, headers=headers
        ) as resp:
            data = await resp.read()
            status = resp.status
            ctype = resp.headers.get("Content-Type", MSGPACK)
        if status == 200:
            if self.pages and group and path.endswith("/messages") and request.method == "GET":
                data = self.pages(group, E.MessagePage.decode(data)).encode()
            elif self.claims and path == "/v1/key-packages/claim":
                data = self.claims(E.ClaimResponse.decode(data)).encode()
            elif self.inbox and path == "/v1/inbox" and request.method == "GET":
                data = self.inbox(E.InboxPage.decode(data)).encode()
            elif self.group_info and parts[2:3] == ["links"] and path.endswith("/group-info"):
                data = self.group_info(K.LinkGroupInfo.decode(data)).encode()
        return web.Response(status=status, body=data, headers={"Content-Type": ctype})
