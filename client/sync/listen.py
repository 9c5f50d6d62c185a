"""Push: stay connected to the relay's WebSocket and process messages as they come.

::

    loop: sync() -> subscribe(cursors) -> "connected"
          pushed message -> apply_entries -> on_message(group_id, view) per new record
          "behind" / "welcome" / "removed" -> sync()
          connection lost or relay down -> "reconnecting in N s", back off 1, 2, 4 … 60 s, resume

``on_status`` (optional) is told each of these changes in words a member reads;
``on_sync`` (optional) gets the :class:`SyncReport` of every sync and of every pushed
entry applied, message or not (a commit that renames, adds or removes shows here only).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

from cove.client.context import Context
from cove.client.errors import RelayUnreachableError
from cove.client.group_state import GroupStates
from cove.client.records import MessageView
from cove.client.sync.runner import SyncReport, SyncRunner
from cove.client.transport import RelayUnreachable
from cove.protocol.wire import envelopes as E

OnMessage = Callable[[bytes, MessageView], Awaitable[None] | None]
OnStatus = Callable[[str], Awaitable[None] | None]
OnSync = Callable[[SyncReport], Awaitable[None] | None]
BACKOFF_MAX = 60


async def _call(fn: Callable[..., Any] | None, *args: Any) -> None:
    if fn is None:
        return
    res = fn(*args)
    if asyncio.iscoroutine(res):
        await res


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def listen(
    ctx: Context,
    states: GroupStates,
    runner: SyncRunner,
    on_message: OnMessage,
    stop: asyncio.Event,
    on_status: OnStatus | None = None,
    on_sync: OnSync | None = None,
) -> None:
    delay = 1

    async def sync() -> None:
        report = await runner.sync()
        for d in report.detections:
            await _call(on_status, f"warning: {d.text}")
        await _call(on_sync, report)

    while not stop.is_set():
        try:
            await sync()
            async with ctx.store.transaction() as txn:
                records = [r for r in await states.all(txn) if r.active]
            subscribe = E.Subscribe(
                cursors=tuple(E.Cursor(group_id=r.group_id, seq=r.seq) for r in records),
                inbox=ctx.account.inbox_cursor,
            )
            t = await ctx.session.transport()
            async with t.stream(subscribe) as ws:
                await _call(on_status, f"connected to {ctx.account.relay}")
                delay = 1
                async for msg in _until(ws, stop):
                    event = E.StreamEvent.decode(msg)
                    if event.kind == "message" and event.group_id and event.message and event.seq:
                        applied = await runner.apply_entries(
                            event.group_id, [(event.seq, event.message)]
                        )
                        for view in applied.messages:
                            await _call(on_message, event.group_id, view)
                        for d in applied.detections:
                            await _call(on_status, f"warning: {d.text}")
                        pushed = SyncReport(
                            groups=1,
                            received=applied.received,
                            quarantined=applied.quarantined,
                            detections=tuple(applied.detections),
                        )
                        await _call(on_sync, pushed)
                    elif event.kind in ("behind", "welcome", "removed"):
                        await sync()
            if stop.is_set():
                return
            await _call(on_status, "the relay closed the connection; reconnecting")
        except (RelayUnreachableError, RelayUnreachable, aiohttp.ClientError, OSError):
            await _call(on_status, f"the relay cannot be reached; trying again in {delay} s")
            await _wait(stop, delay)
            delay = min(delay * 2, BACKOFF_MAX)


async def _until(ws: Any, stop: asyncio.Event) -> AsyncIterator[bytes]:
    while not stop.is_set():
        receive = asyncio.ensure_future(ws.receive())
        stopped = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({receive, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stopped in done:
            receive.cancel()
            return
        stopped.cancel()
        msg = receive.result()
        if msg.type == aiohttp.WSMsgType.BINARY:
            yield msg.data
        elif msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        ):
            return
