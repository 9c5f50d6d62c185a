"""Live updates: the client's own ``listen`` in the background, pages told over a WebSocket.

:class:`Listener` runs :meth:`CoveClient.listen` as a task. Before any other use of
the client the session halts it (``listen`` returns at a safe point when its stop
event is set) and starts it again afterwards, so the client is only ever used by one
coroutine at a time. :class:`Hub` keeps the open WebSockets of the member's pages and
sends them small JSON events — never content:

    {"kind": "changed", "group": HEX}   something new in that group: refresh it
    {"kind": "groups"}                  a group was joined or left: refresh lists
    {"kind": "locked"}                  the app locked: go to the unlock page

A page sends ``{"kind": "active"}`` while the member types or moves, so the idle
lock never fires under someone who is typing slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from cove.client.records import MessageView
from cove.client.sync.runner import SyncReport

log = logging.getLogger("cove.app")

RETRY_SECONDS = 3.0  # after a failure, doubling up to MAX_RETRY_SECONDS
MAX_RETRY_SECONDS = 60.0
REFRESH_SECONDS = 60.0


class Hub:
    def __init__(self) -> None:
        self.sockets: set[web.WebSocketResponse] = set()

    async def send(self, event: dict[str, Any]) -> None:
        text = json.dumps(event)
        for ws in list(self.sockets):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.sockets.discard(ws)

    async def close_all(self) -> None:
        for ws in list(self.sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        self.sockets.clear()

    async def handle(
        self, request: web.Request, on_active: Callable[[], None]
    ) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    try:
                        event = json.loads(msg.data)
                    except ValueError:
                        continue
                    if isinstance(event, dict) and event.get("kind") == "active":
                        on_active()
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.sockets.discard(ws)
        return ws


class Listener:
    """``client.listen`` as a task that can be halted and started again."""

    def __init__(
        self, client: Any, hub: Hub, on_sync: Callable[[SyncReport], None] | None = None
    ) -> None:
        self.client = client
        self.hub = hub
        self.on_sync = on_sync
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._cycle = asyncio.Event()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._run())

    async def halt(self) -> None:
        task = self._task
        if task is None:
            return
        self._stop.set()
        self._cycle.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        self._task = None

    def resubscribe(self) -> None:
        """End the current ``listen`` so it starts again with every group subscribed."""
        self._cycle.set()

    async def _run(self) -> None:
        stop = self._stop
        loop = asyncio.get_running_loop()
        wait = RETRY_SECONDS
        while not stop.is_set():
            self._cycle = cycle = asyncio.Event()
            # A fresh sync now and then, in case something arrived that listen does
            # not report (the app learns of every sync through on_sync).
            timer = loop.call_later(REFRESH_SECONDS, cycle.set)
            try:
                await self.client.listen(self._message, cycle, on_sync=self.on_sync)
                wait = RETRY_SECONDS
            except Exception as exc:  # never let live updates die; no message logged
                log.warning("live updates paused: %s", type(exc).__name__)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                wait = min(wait * 2, MAX_RETRY_SECONDS)
            finally:
                timer.cancel()

    async def _message(self, group_id: bytes, view: MessageView) -> None:
        del view  # pages fetch what to show; the event says only where
        await self.hub.send({"kind": "changed", "group": group_id.hex()})
