"""Group commit on a real SQLite file: posts queued together are sequenced in one
transaction with the same rules as one transaction per post.

Posts are submitted together with ``asyncio.gather``, so all of them are queued
before the writer takes its first batch; ``committer.batches`` shows they
shared one.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from pathlib import Path

import pytest

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode
from cove.server.config import RelayConfig
from cove.server.domain.events import Outgoing
from cove.server.domain.relay import Caller, Relay
from cove.server.errors import BadRequest, HandshakeConflict, RelayError
from cove.server.storage.sqlite import SqliteStorage
from tests.support.relay_process import (
    CONTENT_COMMIT,
    fake_private_message,
    fake_welcome,
    new_group_id,
)


class Clock:
    def now(self) -> int:
        return 1_800_000_000

    def monotonic(self) -> float:
        return 1000.0


async def _relay(tmp_path: Path) -> Relay:
    relay = Relay(RelayConfig(tmp_path, registration="open"),
                  SqliteStorage(tmp_path / "r.sqlite3"), Clock())  # fmt: skip
    await relay.storage.open()
    await relay.start()
    return relay


async def _account(relay: Relay, handle: str) -> Caller:
    account_id, device_id = secrets.token_bytes(16), secrets.token_bytes(16)
    async with relay.storage.write() as txn:
        await txn.insert_account(account_id, handle, secrets.token_bytes(32), 0)
        await txn.insert_device(device_id, account_id, secrets.token_bytes(32), 0)
    return Caller(account_id, device_id, b"")


async def _group(relay: Relay, owner: Caller) -> bytes:
    gid = new_group_id()
    await relay.do_create_group(owner, E.CreateGroupRequest(group_id=gid))
    return gid


def _req(message: bytes, **kw: object) -> E.PostMessageRequest:
    return E.PostMessageRequest(idempotency_key=secrets.token_bytes(16), message=message, **kw)  # type: ignore[arg-type]


def _run(coro_fn, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        relay = await _relay(tmp_path)
        try:
            await coro_fn(relay)
        finally:
            await relay.stop()
            await relay.storage.close()

    asyncio.run(main())


def _log(tmp_path: Path) -> list[tuple[int, int]]:
    db = sqlite3.connect(tmp_path / "r.sqlite3")
    try:
        return [(int(r[0]), int(r[1])) for r in db.execute(
            "SELECT seq, handshake FROM messages ORDER BY seq")]  # fmt: skip
    finally:
        db.close()


def test_of_commits_from_one_position_in_one_batch_exactly_one_wins(tmp_path: Path) -> None:
    async def body(relay: Relay) -> None:
        owner = await _account(relay, "owner")
        gid = await _group(relay, owner)
        commits = [_req(fake_private_message(gid, CONTENT_COMMIT), position=0) for _ in range(8)]
        chats = [_req(fake_private_message(gid)) for _ in range(4)]
        reqs = [x for pair in zip(commits[:4], chats, strict=True) for x in pair] + commits[4:]
        results = await asyncio.gather(
            *(relay.do_post_message(owner, gid, r) for r in reqs), return_exceptions=True
        )
        assert (relay.committer.batches, relay.committer.posts) == (1, 12)
        won = [r for r in results if isinstance(r, E.PostMessageResponse)]
        lost = [r for r in results if isinstance(r, HandshakeConflict)]
        assert len(won) == 5 and len(lost) == 7  # one commit and the four chats
        assert won[0].seq == 1 and results[0] == won[0]  # the first queued commit won
        assert all(c.position == 1 and c.code == ErrorCode.HANDSHAKE_CONFLICT for c in lost)
        assert sorted(r.seq for r in won) == [1, 2, 3, 4, 5]
        # a commit that names the winner's position goes in, in the next batch
        resp = await relay.do_post_message(
            owner, gid, _req(fake_private_message(gid, CONTENT_COMMIT), position=5)
        )
        assert resp.seq == 6 and relay.committer.batches == 2

    _run(body, tmp_path)
    assert _log(tmp_path) == [(1, 1), (2, 0), (3, 0), (4, 0), (5, 0), (6, 1)]


def test_idempotency_inside_one_batch(tmp_path: Path) -> None:
    async def body(relay: Relay) -> None:
        owner = await _account(relay, "owner")
        gid = await _group(relay, owner)
        first = _req(fake_private_message(gid))
        mismatch = E.PostMessageRequest(idempotency_key=first.idempotency_key,
                                        message=fake_private_message(gid))  # fmt: skip
        results = await asyncio.gather(
            *(relay.do_post_message(owner, gid, r) for r in (first, first, mismatch)),
            return_exceptions=True,
        )
        assert relay.committer.batches == 1
        assert results[0] == E.PostMessageResponse(seq=1, duplicate=False)
        assert results[1] == E.PostMessageResponse(seq=1, duplicate=True)
        assert isinstance(results[2], RelayError)
        assert results[2].code == ErrorCode.IDEMPOTENCY_MISMATCH

    _run(body, tmp_path)
    assert _log(tmp_path) == [(1, 0)]


def test_a_refused_post_rolls_back_alone_and_members_follow_the_batch(tmp_path: Path) -> None:
    """In one batch: a commit adding bob (accepted), a commit naming an unknown
    device (refused after nothing), then a chat — which reaches bob, since the
    cached member list moved with the commit before it."""

    async def body(relay: Relay) -> None:
        owner, bob = await _account(relay, "owner"), await _account(relay, "bob")
        gid = await _group(relay, owner)
        bob_sub = relay.hub.subscribe(bob.account_id, bob.device_id)
        add = _req(fake_private_message(gid, CONTENT_COMMIT), position=0,
                   welcome=fake_welcome(), welcome_devices=(bob.device_id,))  # fmt: skip
        stranger = secrets.token_bytes(16)
        broken = _req(fake_private_message(gid, CONTENT_COMMIT), position=1,
                      welcome=fake_welcome(), welcome_devices=(stranger,))  # fmt: skip
        chat = _req(fake_private_message(gid))
        results = await asyncio.gather(
            *(relay.do_post_message(owner, gid, r) for r in (add, broken, chat)),
            return_exceptions=True,
        )
        assert relay.committer.batches == 1
        assert results[0] == E.PostMessageResponse(seq=1, duplicate=False)
        assert isinstance(results[1], BadRequest)
        assert results[1].message == "unknown device in welcome_devices"
        assert results[2] == E.PostMessageResponse(seq=2, duplicate=False)
        pushed = []
        for item in bob_sub.items:
            assert isinstance(item, Outgoing)
            pushed.append((item.event.kind, item.event.seq))
        assert pushed == [("welcome", 1), ("message", 2)]  # not the commit that added him
        async with relay.storage.read() as txn:
            assert (await txn.member(gid, bob.account_id)) is not None
            assert len(await txn.inbox_after(bob.device_id, 0, 10)) == 1

    _run(body, tmp_path)
    assert _log(tmp_path) == [(1, 1), (2, 0)]


def test_a_failed_transaction_acknowledges_nothing(tmp_path: Path) -> None:
    """Another connection holds the database locked: the batch cannot begin, every
    post in it gets the error, nothing is stored; the next batch succeeds."""

    async def body(relay: Relay) -> None:
        owner = await _account(relay, "owner")
        gid = await _group(relay, owner)
        writer = relay.storage._writer  # type: ignore[attr-defined]
        await writer.execute("PRAGMA busy_timeout=50")
        blocker = sqlite3.connect(tmp_path / "r.sqlite3", isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            results = await asyncio.gather(
                *(relay.do_post_message(owner, gid, _req(fake_private_message(gid)))
                  for _ in range(3)),
                return_exceptions=True,
            )  # fmt: skip
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
        assert relay.committer.batches == 0
        resp = await relay.do_post_message(owner, gid, _req(fake_private_message(gid)))
        assert resp.seq == 1

    _run(body, tmp_path)
    assert _log(tmp_path) == [(1, 0)]


def test_posts_at_shutdown_are_answered_or_refused_never_lost(tmp_path: Path) -> None:
    """Stopping the relay refuses what is still queued (ConnectionError: the client
    retries with its idempotency key); every acknowledged post is in the log."""
    acked: list[int] = []

    async def body(relay: Relay) -> None:
        owner = await _account(relay, "owner")
        gid = await _group(relay, owner)
        await relay.do_post_message(owner, gid, _req(fake_private_message(gid)))
        tasks = [asyncio.create_task(relay.do_post_message(owner, gid,
                                                           _req(fake_private_message(gid))))
                 for _ in range(20)]  # fmt: skip
        await relay.stop()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for r in results:
            assert isinstance(r, E.PostMessageResponse | ConnectionError), r
        acked.extend(r.seq for r in results if isinstance(r, E.PostMessageResponse))
        with pytest.raises(ConnectionError):
            await relay.do_post_message(owner, gid, _req(fake_private_message(gid)))

    _run(body, tmp_path)
    stored = {seq for seq, _ in _log(tmp_path)}
    assert set(acked) <= stored and 1 in stored


def test_a_full_disk_mid_batch_acknowledges_only_what_is_stored(tmp_path: Path) -> None:
    """The database may not grow (``max_page_count``): a large post in the middle of a
    batch fails with "database or disk is full". Whether SQLite rolls back that
    statement or the whole transaction, every acknowledged post is stored and every
    refused one is not."""
    acked: list[tuple[int, bytes]] = []
    refused: list[bytes] = []

    async def body(relay: Relay) -> None:
        owner = await _account(relay, "owner")
        gid = await _group(relay, owner)
        writer = relay.storage._writer  # type: ignore[attr-defined]
        (pages,) = (await writer.execute_fetchall("PRAGMA page_count"))[0]
        await writer.execute(f"PRAGMA max_page_count={pages + 8}")
        reqs = [_req(fake_private_message(gid, payload=secrets.token_bytes(n)))
                for n in (100, 100, 200_000, 100, 100)]  # fmt: skip
        results = await asyncio.gather(
            *(relay.do_post_message(owner, gid, r) for r in reqs), return_exceptions=True
        )
        assert relay.committer.batches <= 1
        for req, result in zip(reqs, results, strict=True):
            if isinstance(result, E.PostMessageResponse):
                acked.append((result.seq, req.message))
            else:
                assert isinstance(result, sqlite3.OperationalError), result
                assert "full" in str(result)
                refused.append(req.message)
        assert reqs[2].message in refused

    _run(body, tmp_path)
    db = sqlite3.connect(tmp_path / "r.sqlite3")
    stored = {int(r[0]): bytes(r[1]) for r in db.execute("SELECT seq, data FROM messages")}
    db.close()
    assert dict(acked) == stored
    assert not set(refused) & set(stored.values())
