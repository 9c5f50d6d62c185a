"""A header timeout for aiohttp, which has none (slowloris).

aiohttp parses a request head for as long as a client cares to trickle it in.
:func:`header_timeout_guard` sweeps the server's open connections and closes
any that has not delivered one complete request head within ``timeout``
seconds of being accepted. Connections that have (WebSockets, uploads, keep-alive
connections between requests) are left to the keep-alive and heartbeat timeouts.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ..domain.clock import Clock

log = logging.getLogger("cove.relay")


async def header_timeout_guard(server: web.Server, timeout: float, clock: Clock) -> None:
    first_seen: dict[RequestHandler, float] = {}
    interval = max(0.1, timeout / 4)
    while True:
        try:
            now = clock.monotonic()
            connections = server.connections
            for gone in first_seen.keys() - set(connections):
                del first_seen[gone]
            for handler in connections:
                seen = first_seen.setdefault(handler, now)
                # _request_count counts complete request heads parsed on the connection
                if handler._request_count == 0 and now - seen >= timeout:
                    handler.force_close()
        except Exception as exc:  # never let the guard die silently
            log.error("header timeout guard: %s", type(exc).__name__)
        await asyncio.sleep(interval)
