"""The unlocked app: one :class:`CoveClient` used by one coroutine at a time.

:meth:`Session.use` is the only way routes reach the client: it waits its turn,
halts the background listener, and starts it again when the last user is done.
The session also keeps, in memory only (never on disk, so no content and no
metadata outside the encrypted store):

* which messages the member has seen (unread counts: everything present when the
  app was unlocked counts as seen);
* the composer's drafts (kept across an idle lock, gone when the app stops);
* when the member was last active (for the idle lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from cove.client.records import MessageView
from cove.client.service import CoveClient, SyncReport

from .live import Hub, Listener

CONTENT = ("thread", "post", "dm")
RESTART_DELAY = 0.3  # seconds after the last action before live updates reconnect


class Session:
    def __init__(self, client: CoveClient, hub: Hub) -> None:
        self.client = client
        self.hub = hub
        self.handle = client.account.handle
        self.seen: set[bytes] = set()
        self.drafts: dict[str, str] = {}
        #: blob id (hex) -> (media type, file name) of attachments on pages shown
        self.attachments: dict[str, tuple[str, str]] = {}
        self.last_active = time.monotonic()
        self._lock = asyncio.Lock()
        self._users = 0
        self._closed = False
        self._restart: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._known: dict[bytes, tuple[str, int]] | None = None  # active groups, last sync
        self.listener = Listener(client, hub, on_sync=self.synced)

    def __repr__(self) -> str:
        return f"Session(handle={self.handle!r})"

    async def start(self) -> None:
        """Mark everything already here as seen, then start live updates."""
        async with self.use() as c:  # use(): the listener starts when this ends
            for g in await c.groups():
                if g.active:
                    self.seen.update(m.id for m in await c.read(g.group_id))

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[CoveClient]:
        """The client for anything that sends or changes state: the listener is halted
        first and started again (after a short pause) when nobody needs the client."""
        self._users += 1
        try:
            async with self._lock:
                if self._closed:  # locked while this request waited its turn
                    raise web.HTTPSeeOther("/unlock")
                self._cancel_restart()
                await self.listener.halt()
                yield self.client
        finally:
            self._users -= 1
            if self._users == 0 and not self._closed:
                self._schedule_restart()

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[CoveClient]:
        """The client for reads only (pages, attachments): one at a time with the other
        users, but beside the listener, whose every step is one store transaction."""
        async with self._lock:
            if self._closed:
                raise web.HTTPSeeOther("/unlock")
            yield self.client

    def _cancel_restart(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None

    def _schedule_restart(self) -> None:
        """Start the listener soon, so a burst of actions does not reconnect it each time."""
        self._cancel_restart()
        loop = asyncio.get_running_loop()
        self._restart = loop.call_later(RESTART_DELAY, self._restart_now)

    def _restart_now(self) -> None:
        self._restart = None
        if self._users == 0 and not self._closed:
            self.listener.start()

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            self._cancel_restart()
            await self.listener.halt()
            await self.client.close()

    def touch(self) -> None:
        self.last_active = time.monotonic()

    # -- unread ------------------------------------------------------------------

    def unread(self, messages: list[MessageView]) -> int:
        return sum(
            1
            for m in messages
            if m.type in CONTENT and m.sender != self.handle and m.id not in self.seen
        )

    def mark_seen(self, messages: list[MessageView]) -> None:
        """The member sees these: no longer new; their attachments may be fetched (by
        blob id only: names and types stay out of URLs and the browser's history)."""
        self.seen.update(m.id for m in messages)
        for m in messages:
            for a in m.attachments:
                self.attachments[a["blob_id"].hex()] = (a["media_type"], a["name"])

    # -- drafts ------------------------------------------------------------------

    def draft(self, key: str) -> str:
        return self.drafts.get(key, "")

    def keep_draft(self, key: str, text: str) -> None:
        if text.strip():
            self.drafts[key] = text[:20_000]
        else:
            self.drafts.pop(key, None)

    # -- from the client -----------------------------------------------------------

    def synced(self, report: SyncReport) -> None:
        if report.joined:
            self.listener.resubscribe()  # subscribe to the new groups too
        task = asyncio.get_running_loop().create_task(self._announce(report))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _announce(self, report: SyncReport) -> None:
        """Tell the pages: a group joined, renamed, left or lost (a removal shows only
        as a group that is no longer active), or messages that came through a sync."""
        try:
            async with self.reading() as c:
                groups = {g.group_id: (g.name, g.members) for g in await c.groups() if g.active}
        except web.HTTPException:
            return  # locked meanwhile
        if self._known is not None and groups != self._known:
            await self.hub.send({"kind": "groups", "group": ""})
        elif report.joined or report.received or report.quarantined:
            await self.hub.send({"kind": "changed", "group": ""})
        self._known = groups


async def open_session(home: Path, passphrase: str, hub: Hub) -> Session:
    client = await CoveClient.open(home, passphrase)
    session = Session(client, hub)
    await session.start()
    return session


async def create_account(
    home: Path, passphrase: str, relay: str, handle: str, invite: str | None, hub: Hub, **kw: Any
) -> Session:
    client = await CoveClient.init(home, passphrase, relay, handle, invite, **kw)
    session = Session(client, hub)
    await session.start()
    return session
