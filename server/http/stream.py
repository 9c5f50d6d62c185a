"""``GET /v1/stream``: the WebSocket that pushes new log entries and Welcome notices.

Protocol (binary frames, msgpack envelopes):

1. The client authenticates the upgrade with its bearer token (header, never
   the URL) and sends a :class:`~cove.protocol.wire.envelopes.Subscribe` frame
   within the heartbeat interval.
2. The relay replays what each cursor missed, then ``ready``; from the moment
   the connection was accepted it has also been queueing live events, which it
   now sends, skipping any it already replayed — so each group's messages
   arrive once and in order.
3. Later ``Subscribe`` frames add cursors (replay starts after the later of the
   cursor and the last message already pushed for that group).

Closes: 1003 text frame, 1007 undecodable frame, 1008 no Subscribe in time,
1009 frame over the limit (aiohttp), 1001 relay shutting down. A reader too
slow for ``ws_send_queue`` and the sockets of a deleted account are cut
without a close frame.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from cove.protocol.errors import DecodeError
from cove.protocol.wire.envelopes import StreamEvent, Subscribe
from cove.protocol.wire.limits import WS_FRAME

from ..domain.events import CLOSE, Outgoing, Subscriber
from ..domain.relay import Caller, Relay
from .keys import CONFIG, ENDPOINT, RELAY, SOCKETS
from .request import bearer, client_address

CLOSE_UNSUPPORTED = 1003
CLOSE_INVALID = 1007
CLOSE_POLICY = 1008


async def stream(request: web.Request) -> web.StreamResponse:
    request[ENDPOINT] = "stream"
    relay = request.app[RELAY]
    address = client_address(request, request.app[CONFIG].client_address_header)
    caller = await relay.access_caller(bearer(request), address)
    sub = relay.hub.subscribe(caller.account_id, caller.device_id)
    heartbeat = float(relay.config.limit("ws_heartbeat"))
    ws = web.WebSocketResponse(max_msg_size=WS_FRAME, heartbeat=heartbeat)
    writer: asyncio.Task[None] | None = None
    try:
        await ws.prepare(request)
        request.app[SOCKETS].add(ws)
        try:
            first = await ws.receive(timeout=heartbeat)
        except TimeoutError:
            await ws.close(code=CLOSE_POLICY, message=b"no Subscribe")
            return ws
        subscribe = await _subscribe(ws, first)
        if subscribe is None:
            return ws
        writer = asyncio.create_task(_write(ws, relay, caller, sub, subscribe))
        sub.on_close = lambda: _abort(ws, writer, request)
        while not ws.closed:
            msg = await ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
            subscribe = await _subscribe(ws, msg)
            if subscribe is None:
                break
            sub.push(subscribe)
    finally:
        relay.hub.unsubscribe(sub)
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await writer
    return ws


def _abort(ws: web.WebSocketResponse, writer: asyncio.Task[None], request: web.Request) -> None:
    """The relay dropped this subscriber (slow reader, account deleted): stop
    writing and cut the connection. A polite close frame could sit forever
    behind the bytes a slow reader does not take, so the TCP connection is
    aborted; the client reconnects and resumes from its cursor."""
    writer.cancel()
    if request.transport is not None:
        request.transport.abort()


async def _subscribe(ws: web.WebSocketResponse, msg: object) -> Subscribe | None:
    """Decode a client frame, or close the socket and return None."""
    msg_type = getattr(msg, "type", None)
    if msg_type == WSMsgType.BINARY:
        try:
            return Subscribe.decode(bytes(msg.data))  # type: ignore[attr-defined]
        except DecodeError:
            await ws.close(code=CLOSE_INVALID, message=b"undecodable frame")
            return None
    if msg_type == WSMsgType.TEXT:
        await ws.close(code=CLOSE_UNSUPPORTED, message=b"binary frames only")
        return None
    if not ws.closed:
        await ws.close()
    return None


async def _write(
    ws: web.WebSocketResponse,
    relay: Relay,
    caller: Caller,
    sub: Subscriber,
    first: Subscribe,
) -> None:
    last: dict[bytes, int] = {}

    async def send(event: StreamEvent, data: bytes | None = None) -> None:
        if event.kind == "message":
            assert event.group_id is not None and event.seq is not None
            if event.seq <= last.get(event.group_id, -1):
                return
            last[event.group_id] = event.seq
        # A reader that does not read makes this wait (aiohttp drains above the
        # transport's high-water mark), so its events pile up in the subscriber's queue until
        # ws_send_queue, where the hub drops it.
        await ws.send_bytes(data if data is not None else event.encode())

    async def resume(req: Subscribe) -> None:
        cursors = {c.group_id: max(c.seq, last.get(c.group_id, c.seq)) for c in req.cursors}
        for event in await relay.replay(caller, cursors, req.inbox):
            await send(event)

    await resume(first)
    while not ws.closed:
        for item in await sub.take():
            if item is CLOSE:
                await ws.close(code=CLOSE_POLICY, message=b"closed by the relay")
                return
            if isinstance(item, Subscribe):
                await resume(item)
            elif isinstance(item, Outgoing):
                await send(item.event, item.data)
            sub.sent()
