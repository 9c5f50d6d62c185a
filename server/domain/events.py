"""Fan-out of committed events to open WebSocket connections.

The domain publishes only after a write transaction has committed. Each
connection has a bounded queue; a connection that falls behind by more than
``ws_send_queue`` events is marked overflowed and closed by its handler (the
client resumes from its cursor).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.envelopes import StreamEvent

from ..errors import RelayError


@dataclass(frozen=True, slots=True)
class Outgoing:
    """An event and its encoding."""

    event: StreamEvent
    data: bytes


#: Put in a subscriber's queue to make its handler close the connection.
CLOSE = object()


@dataclass(eq=False)
class Subscriber:
    """One open WebSocket: a bounded queue of events and control items.

    A plain deque and one waiter future rather than an ``asyncio.Queue``: the hub
    pushes every message to every member's subscriber, so this is on the relay's
    hottest path; the writer takes everything queued at once (:meth:`take`)."""

    account_id: bytes
    device_id: bytes
    limit: int
    items: deque[object] = field(init=False, default_factory=deque)
    closed: bool = False
    #: Called once when the subscriber is closed by the relay (slow reader, account
    #: deleted): the handler uses it to tear the connection down even if its writer
    #: is stuck waiting for the socket to drain.
    on_close: Callable[[], None] | None = None
    #: items pushed and not yet written (queued, or taken by a writer still sending)
    unsent: int = field(init=False, default=0)
    _waiter: asyncio.Future[None] | None = field(init=False, default=None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def push(self, item: object) -> None:
        if self.closed:
            return
        if self.unsent >= self.limit:
            self.close()  # a slow reader: drop it, it resumes from its cursor
            return
        self.unsent += 1
        self.items.append(item)
        self._wake()

    def sent(self) -> None:
        """The writer has written one item it took (so it no longer waits)."""
        self.unsent -= 1

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.items.append(CLOSE)
            self._wake()
            if self.on_close is not None:
                self.on_close()

    async def take(self) -> list[object]:
        """Everything queued, waiting until there is something."""
        while not self.items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        out = list(self.items)
        self.items.clear()
        return out


class Hub:
    def __init__(self, max_per_account: int, queue_size: int) -> None:
        self._by_account: dict[bytes, set[Subscriber]] = {}
        self._max = max_per_account
        self._queue_size = queue_size

    def subscribe(self, account_id: bytes, device_id: bytes) -> Subscriber:
        subs = self._by_account.setdefault(account_id, set())
        if len(subs) >= self._max:
            raise RelayError("too many connections", code=ErrorCode.TOO_MANY_CONNECTIONS)
        sub = Subscriber(account_id, device_id, self._queue_size)
        subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        subs = self._by_account.get(sub.account_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_account[sub.account_id]

    def publish(self, accounts: Iterable[bytes], event: StreamEvent) -> None:
        """Queue ``event`` (encoded once, shared by all subscribers) for ``accounts``."""
        item = Outgoing(event, event.encode())
        for account_id in accounts:
            for sub in self._by_account.get(account_id, ()):
                sub.push(item)

    def publish_device(self, account_id: bytes, device_id: bytes, event: StreamEvent) -> None:
        item = Outgoing(event, event.encode())
        for sub in self._by_account.get(account_id, ()):
            if sub.device_id == device_id:
                sub.push(item)

    def drop_account(self, account_id: bytes) -> None:
        for sub in self._by_account.pop(account_id, set()):
            sub.close()

    def connections(self) -> int:
        return sum(len(s) for s in self._by_account.values())
