"""Fan-out of committed events to open WebSocket connections.

The domain publishes only after a write transaction has committed. Each
connection has a bounded queue; a connection that falls behind by more than
``ws_send_queue`` events is marked overflowed and closed by its handler (the
client resumes from its cursor).
"""

from __future__ import annotations

import asyncio
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
    """One open WebSocket: a bounded queue of events and control items."""

    account_id: bytes
    device_id: bytes
    limit: int
    queue: asyncio.Queue[object] = field(init=False)
    closed: bool = False
    #: Called once when the subscriber is closed by the relay (slow reader, account
    #: deleted): the handler uses it to tear the connection down even if its writer
    #: is stuck waiting for the socket to drain.
    on_close: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.limit + 1)  # one slot kept for CLOSE

    def push(self, item: object) -> None:
        if self.closed:
            return
        if self.queue.qsize() >= self.limit:
            self.close()  # a slow reader: drop it, it resumes from its cursor
            return
        self.queue.put_nowait(item)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(CLOSE)
            if self.on_close is not None:
                self.on_close()


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
