"""Group commit: one writer sequences every queued post in one transaction.

A post handler queues its post and waits. The writer task takes everything
queued (up to ``MAX_BATCH``), runs the whole batch in one database call —
``BEGIN IMMEDIATE``, each post in its own savepoint through
:func:`~.posting.sequence_post`, ``COMMIT`` (one fsync) — and only when that
returns answers each post and fans the messages out. While one batch is being
written the next one queues up, so under load a batch holds every post that
arrived during the previous fsync; with a single poster a batch is one post
and nothing waits longer than before.

Nothing is acknowledged or pushed before its batch is durable: a refused post
rolls back its own savepoint and gets its error; a batch whose transaction
fails gets the failure for every post in it. See
``docs/decisions/0012-group-commit.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from cove.protocol.wire import envelopes as E

from ..storage.base import BatchTxn, Storage
from .clock import Clock
from .events import Hub
from .link_join import LinkJoinPost, sequence_link_join
from .posting import MemberCache, Post, Sequenced, sequence_post

log = logging.getLogger("cove.relay")

#: Most posts in one transaction (bounded so one batch cannot hold the writer long).
MAX_BATCH = 256


@dataclass(slots=True)
class _Queued:
    post: Post
    done: asyncio.Future[Sequenced]


class GroupCommitter:
    def __init__(
        self, storage: Storage, clock: Clock, hub: Hub, members: MemberCache, max_members: int
    ) -> None:
        self._storage = storage
        self._clock = clock
        self._hub = hub
        self._members = members
        self._max_members = max_members
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        #: batches written and posts in them (for tests and the bench)
        self.batches = 0
        self.posts = 0

    async def submit(self, post: Post) -> E.PostMessageResponse:
        """Queue ``post``; return its answer once its batch is durable (or raise its
        refusal)."""
        if self._stopped:
            raise ConnectionError("relay shutting down")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="cove-relay group commit")
        done: asyncio.Future[Sequenced] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Queued(post, done))
        # a cancelled handler cancels ``done`` only: its post stays queued and is written
        result = await done
        return E.PostMessageResponse(seq=result.seq, duplicate=result.duplicate)

    async def stop(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.done.done():
                item.done.set_exception(ConnectionError("relay shutting down"))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(ConnectionError("relay shutting down"))
                raise

    async def _write(self, batch: list[_Queued]) -> None:
        now = self._clock.now()
        posts = [item.post for item in batch]

        def work(txn: BatchTxn) -> list[Sequenced | BaseException]:
            results: list[Sequenced | BaseException] = []
            for post in posts:
                try:
                    if post.handshake:  # several writes: all or none of them
                        with txn.savepoint():
                            results.append(self._sequence(txn, post, now))
                    else:  # one INSERT, the last statement: atomic by itself
                        results.append(self._sequence(txn, post, now))
                except Exception as exc:  # this post's refusal (or bug) is its alone ...
                    if not txn.in_transaction():
                        raise  # ... unless it took the whole transaction with it
                    results.append(exc)
            return results

        try:
            results = await self._storage.run_batch(work)
        except Exception as exc:  # the transaction failed: nothing in it is kept
            self._members.clear()
            log.error("group commit of %d posts failed: %s", len(batch), type(exc).__name__)
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(exc)
            return
        self.batches += 1
        self.posts += len(batch)
        for item, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                if not item.done.done():
                    item.done.set_exception(result)
                continue
            if not item.done.done():
                item.done.set_result(result)
            if not result.duplicate:
                self._publish(item.post, result)

    def _sequence(self, txn: BatchTxn, post: Post, now: int) -> Sequenced:
        if isinstance(post, LinkJoinPost):  # an external commit through an open link
            return sequence_link_join(txn, post, now, self._max_members, self._members)
        return sequence_post(txn, post, now, self._max_members, self._members)

    def _publish(self, post: Post, result: Sequenced) -> None:
        group_id = post.group_id
        event = E.StreamEvent(kind="message", group_id=group_id, seq=result.seq,
                              message=post.req.message)  # fmt: skip
        self._hub.publish(result.recipients, event)
        for account_id, device_id, inbox_id in result.welcomes:
            self._hub.publish_device(account_id, device_id,
                                     E.StreamEvent(kind="welcome", seq=inbox_id))  # fmt: skip
        for account_id in result.removed:
            self._hub.publish([account_id], E.StreamEvent(kind="removed", group_id=group_id))
