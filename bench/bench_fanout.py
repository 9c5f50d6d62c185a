"""The relay alone: post -> the last of N WebSocket subscribers has it, one post at a time.

Run: .venv/bin/python bench/bench_fanout.py [--members 10 100] [--posts 200]

The anchor of the client latency rows of ``bench_table.py`` ("post -> decrypted and
stored at 10 clients", "last of 100 members reached"): the same real relay process
(SQLite WAL, synchronous=FULL), N members subscribed over WebSocket, one poster
sending 1 KiB messages one after another; each figure is the time from the start of
the POST until the last member's socket has delivered the frame. No MLS and no client
store: what is left of the client rows beyond this is the clients' own work.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cove.protocol.wire import envelopes as E  # noqa: E402
from cove.protocol.wire.api import MSGPACK  # noqa: E402
from tests.support.relay_process import (  # noqa: E402
    CONTENT_COMMIT,
    RelayProcess,
    TestClient,
    fake_private_message,
    fake_welcome,
    new_group_id,
)

LIMITS = {
    "unauth_per_address": 10_000_000,
    "requests_per_account": 10_000_000,
    "kp_claims_per_requester": 10_000_000,
}


async def relay_alone(url: str, members: int, posts: int) -> tuple[float, float]:
    """(median, p99) seconds from the start of a POST to its arrival at the last member."""
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=120), connector=aiohttp.TCPConnector(limit=0)
    ) as http:
        clients = [await TestClient.register(http, url) for _ in range(members)]
        owner, gid = clients[0], new_group_id()
        await owner.call("create_group", E.CreateGroupRequest(group_id=gid))
        for c in clients[1:]:
            await c.call("upload_key_packages", E.KeyPackageUpload(key_packages=(c.key_package(),)))
        await owner.post(gid, fake_private_message(gid, CONTENT_COMMIT), position=0,
                         welcome=fake_welcome(),
                         welcome_devices=tuple(c.device_id for c in clients[1:]))  # fmt: skip
        arrived: dict[int, int] = {}
        done: dict[int, asyncio.Event] = {i: asyncio.Event() for i in range(posts)}
        last: dict[int, float] = {}
        readers = []
        for c in clients:
            ws = await c.ws()
            await ws.send_bytes(E.Subscribe(cursors=(E.Cursor(group_id=gid, seq=1),)).encode())
            assert E.StreamEvent.decode((await ws.receive()).data).kind == "ready"

            async def read(ws: aiohttp.ClientWebSocketResponse = ws) -> None:
                async for msg in ws:  # the message's index is its last 8 bytes
                    i = struct.unpack(">Q", msg.data[-8:])[0]
                    arrived[i] = arrived.get(i, 0) + 1
                    if arrived[i] == members:
                        last[i] = time.perf_counter()
                        done[i].set()

            readers.append(asyncio.create_task(read()))
        path = url + f"/v1/groups/{gid.hex()}/messages"
        headers = {**owner.headers(), "Content-Type": MSGPACK}
        bodies = [
            E.PostMessageRequest(
                idempotency_key=secrets.token_bytes(16),
                message=fake_private_message(
                    gid, payload=secrets.token_bytes(1016) + struct.pack(">Q", i)
                ),
            ).encode()
            for i in range(posts)
        ]
        lat = []
        for i in range(posts):
            start = time.perf_counter()
            async with http.post(path, data=bodies[i], headers=headers) as resp:
                await resp.read()
                assert resp.status == 200, resp.status
            await asyncio.wait_for(done[i].wait(), 30)
            lat.append(last[i] - start)
        for r in readers:
            r.cancel()
        lat.sort()
        return statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, nargs="+", default=[10, 100])
    ap.add_argument("--posts", type=int, default=200)
    args = ap.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        RelayProcess.start(Path(tmp) / "relay", registration="open", limits=LIMITS) as relay,
    ):
        for n in args.members:
            median, p99 = asyncio.run(relay_alone(relay.url, n, args.posts))
            print(f"relay alone, post -> last of {n} members: median {median * 1e3:.2f} ms, "
                  f"p99 {p99 * 1e3:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
