"""``make_app``: the relay as an aiohttp application, routes built from the
endpoint table. Storage is opened and closed in one ``cleanup_ctx``; the
retention purge runs as a background task; open WebSockets are closed on
shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web, web_response

from cove.protocol.wire.api import ENDPOINTS

from ..config import RelayConfig
from ..domain.clock import Clock, SystemClock
from ..domain.relay import Relay
from ..storage.base import Storage
from ..storage.sqlite import SqliteStorage
from .errors import error_middleware
from .handlers import HANDLERS, endpoint_handler
from .keys import CONFIG, RELAY, SOCKETS
from .request import defer_continue, expect_continue
from .stream import stream

log = logging.getLogger("cove.relay")


SERVER_NAME = "cove-relay"


def hide_server_version() -> None:
    """Every answer says ``Server: cove-relay``, aiohttp's own included.

    Answers the relay builds get the header in :func:`_headers`, but aiohttp
    answers malformed HTTP (and its own 500s) itself, before any application
    hook runs, with a default naming Python's and aiohttp's versions. That
    default is a module attribute read each time a response is prepared; the
    relay replaces it. ``tests/integration/test_relay_floods.py`` checks the
    header on those answers, so an aiohttp that moves it fails the build.
    """
    web_response.SERVER_SOFTWARE = SERVER_NAME  # type: ignore[attr-defined]


def make_app(
    config: RelayConfig, *, clock: Clock | None = None, storage: Storage | None = None
) -> web.Application:
    hide_server_version()
    app = web.Application(
        middlewares=[error_middleware], client_max_size=config.limit("blob") + 1024 * 1024
    )
    app[CONFIG] = config
    app[RELAY] = Relay(config, storage or SqliteStorage(config.db_path), clock or SystemClock())
    app[SOCKETS] = weakref.WeakSet()
    for ep in ENDPOINTS:
        if ep.body == "websocket":
            app.router.add_route(
                ep.method, ep.path, stream, name=ep.name, expect_handler=expect_continue
            )
        else:
            handler = endpoint_handler(ep, HANDLERS[ep.name])
            # uploads send their own 100 Continue, after the checks that may refuse them
            expect = defer_continue if ep.body == "raw" else expect_continue
            app.router.add_route(ep.method, ep.path, handler, name=ep.name, expect_handler=expect)
    # last: every other path, so that aiohttp's own routes (and their expect handler)
    # never answer
    app.router.add_route("*", "/{tail:.*}", _unrouted, expect_handler=expect_continue)
    app.cleanup_ctx.append(_storage_ctx)
    app.cleanup_ctx.append(_retention_ctx)
    app.on_shutdown.append(_close_sockets)
    app.on_response_prepare.append(_headers)
    return app


_PATTERNS = [
    (ep.method, re.compile(re.sub(r"\{[a-z_]+\}", "[^/]+", ep.path) + "$")) for ep in ENDPOINTS
]


async def _unrouted(request: web.Request) -> web.StreamResponse:
    """404 for an unknown path, 405 for a known one with another method (the error
    middleware turns both into the usual error body)."""
    allowed = {method for method, pattern in _PATTERNS if pattern.match(request.path)}
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    """No software version in answers; no caching of anything the relay says."""
    response.headers["Server"] = SERVER_NAME
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"


async def _storage_ctx(app: web.Application) -> AsyncIterator[None]:
    relay = app[RELAY]
    await relay.storage.open()
    await relay.start()
    yield
    await relay.stop()
    await relay.storage.close()


async def _retention_ctx(app: web.Application) -> AsyncIterator[None]:
    relay = app[RELAY]

    async def sweep() -> None:
        while True:
            try:
                await relay.do_purge()
            except Exception as exc:  # keep serving; the next sweep retries
                log.error("retention purge failed: %s", type(exc).__name__)
            await asyncio.sleep(relay.config.sweep_interval)

    task = asyncio.create_task(sweep())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _close_sockets(app: web.Application) -> None:
    sockets: weakref.WeakSet[web.WebSocketResponse] = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"relay shutting down")
