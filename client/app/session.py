"""The unlocked app: one :class:`CoveClient` used by one coroutine at a time.

:meth:`Session.use` is the only way routes reach the client: it waits its turn,
halts the background listener, and starts it again when the last user is done.
What the member has read (new-message counts) and their drafts are kept by the
client in the encrypted store (``CoveClient.mark_read``, ``unread``,
``save_draft``), so they survive a restart. The session keeps in memory only:

* the names and types of the attachments on pages shown (files are fetched by id);
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

from cove.client.errors import UsageProblem
from cove.client.features.invites_joining import JoinStatus, join_new
from cove.client.records import MessageView
from cove.client.service import CoveClient, SyncReport

from .live import Hub, Listener

RESTART_DELAY = 0.3  # seconds after the last action before live updates reconnect


class Session:
    def __init__(self, client: CoveClient, hub: Hub) -> None:
        self.client = client
        self.hub = hub
        self.handle = client.account.handle
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
        """Start live updates (use(): the listener starts when it ends)."""
        async with self.use():
            pass

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

    # -- read markers and drafts (kept by the client) -----------------------------

    async def shown(
        self, c: CoveClient, group_id: bytes, thread: bytes | None, messages: list[MessageView]
    ) -> None:
        """The member sees these: marked read (up to the last log position shown, never
        past what the page showed), and their attachments may be fetched (by blob id
        only: names and types stay out of URLs and the browser's history)."""
        seqs = [m.seq for m in messages if m.seq is not None]
        if seqs:
            await c.mark_read(group_id, thread, upto=max(seqs))
        for m in messages:
            for a in m.attachments:
                self.attachments[a["blob_id"].hex()] = (a["media_type"], a["name"])

    @staticmethod
    async def unread(c: CoveClient, group_id: bytes) -> int:
        return sum((await c.unread(group_id)).values())

    @staticmethod
    async def draft(c: CoveClient, place: str) -> tuple[str, str]:
        """A draft's text and title ("" when there is none)."""
        d = await c.draft(place)
        return ("", "") if d is None else (d.text, d.title or "")

    @staticmethod
    async def keep_draft(c: CoveClient, place: str, text: str, title: str = "") -> bool:
        """Keep what the member typed (cut to the limits); False if it cannot be kept
        (a control character, say): the page still has it."""
        try:
            await c.save_draft(place, _cut(text, 32 * 1024), _cut(title, 512))
        except UsageProblem:
            return False
        return True

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


def _cut(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


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


async def join_with_link(
    home: Path, passphrase: str, link: str, handle: str, answers: list[str],
    accept_rules: bool, hub: Hub,
) -> tuple[Session, JoinStatus]:  # fmt: skip
    """First run with a group's invite link: register with the link alone, then ask to
    join (approval link) or join (open link)."""
    client, status = await join_new(
        home, passphrase, link, handle, answers=answers, accept_rules=accept_rules
    )
    session = Session(client, hub)
    await session.start()
    return session, status
