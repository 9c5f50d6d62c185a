"""Crash durability (security requirements §3.2 I1): ``kill -9`` the relay during
a burst of posts from several clients, restart it, and check that every
acknowledged message is present exactly once, in order. Clients retry with
their idempotency key until acknowledged, across restarts."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3

import aiohttp
import pytest

from cove.protocol.wire import envelopes as E
from tests.support.relay_process import (
    CONTENT_COMMIT,
    CallError,
    RelayProcess,
    TestClient,
    fake_private_message,
    fake_welcome,
    new_group_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 4
KILLS = 3
ACKS_BETWEEN_KILLS = 60


@pytest.mark.slow
def test_kill_9_loses_no_acknowledged_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    relay = RelayProcess.init(tmp_path, registration="open")
    relay.serve()
    acked: dict[bytes, tuple[int, bytes]] = {}  # idempotency key -> (seq, message)
    try:

        async def setup(http: aiohttp.ClientSession) -> tuple[list[TestClient], bytes]:
            clients = [await TestClient.register(http, relay.url) for _ in range(CLIENTS)]
            gid = new_group_id()
            owner = clients[0]
            await owner.call("create_group", E.CreateGroupRequest(group_id=gid))
            for c in clients[1:]:
                await c.call(
                    "upload_key_packages", E.KeyPackageUpload(key_packages=(c.key_package(),))
                )
            await owner.post(
                gid,
                fake_private_message(gid, CONTENT_COMMIT),
                position=0,
                welcome=fake_welcome(),
                welcome_devices=tuple(c.device_id for c in clients[1:]),
            )
            return clients, gid

        up = asyncio.Event()  # set while the relay is serving (cleared before each kill)
        progress = asyncio.Event()  # set on every acknowledgement

        async def poster(c: TestClient, gid: bytes, stop: asyncio.Event) -> None:
            while not stop.is_set():
                key, msg = secrets.token_bytes(16), fake_private_message(gid)
                while True:  # retry the same key until acknowledged
                    c.base = relay.url
                    try:
                        resp = await c.post(gid, msg, key=key)
                    except (TimeoutError, aiohttp.ClientError, CallError):
                        await up.wait()  # retry once the relay is back
                        continue
                    acked[key] = (resp.seq, msg)
                    progress.set()
                    break

        async def acks(target: int, what: str) -> None:
            async def grow() -> None:
                while len(acked) < target:
                    progress.clear()
                    await progress.wait()

            try:
                await asyncio.wait_for(grow(), 60)
            except TimeoutError:
                raise AssertionError(what) from None

        async def main() -> None:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
                clients, gid = await setup(http)
                stop = asyncio.Event()
                up.set()
                tasks = [asyncio.create_task(poster(c, gid, stop)) for c in clients]
                loop = asyncio.get_running_loop()
                for _ in range(KILLS):
                    await acks(len(acked) + ACKS_BETWEEN_KILLS, "posting stalled")
                    up.clear()
                    await loop.run_in_executor(None, relay.kill)
                    await loop.run_in_executor(None, relay.serve)
                    up.set()
                await acks(len(acked) + 20, "posting stalled after restart")
                stop.set()
                await asyncio.wait_for(asyncio.gather(*tasks), 60)
                # read back the whole log
                reader = clients[1]
                reader.base = relay.url
                log: list[E.LoggedMessage] = []
                after = 1
                while True:
                    page = await reader.call("fetch_messages", group_id=gid, query={"after": after})
                    assert isinstance(page, E.MessagePage)
                    log.extend(page.messages)
                    after = page.next
                    if not page.more:
                        break
                seqs = [m.seq for m in log]
                assert seqs == list(range(2, 2 + len(log))), "gaps or disorder in the log"
                by_seq = {m.seq: m.message for m in log}
                for seq, msg in acked.values():
                    assert by_seq.get(seq) == msg, f"acknowledged message {seq} lost"
                bodies = [m.message for m in log]
                assert len(set(bodies)) == len(bodies), "a message was stored twice"
                assert len(acked) >= KILLS * ACKS_BETWEEN_KILLS

        asyncio.run(main())
    finally:
        relay.stop()
    with sqlite3.connect(tmp_path / "relay.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
