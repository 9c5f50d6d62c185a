"""End-to-end client figures against a real relay process on 127.0.0.1.

Run: .venv/bin/python bench/bench_client.py [--posts 200] [--catch-up 10000]

1. Latency and throughput: one member posts 1 KiB posts to a group of 11;
   the 10 others are connected (``CoveClient.listen``: WebSocket push, MLS
   decryption, a store transaction per message). Latency is from the start
   of ``post()`` to the moment the last receiver has the decrypted post;
   posts are sent one after another. Everything runs in this one process
   (11 clients and the event loop share one core; the relay has the other),
   so the figures include that contention.
2. Catch-up: a member offline while ``--catch-up`` 1 KiB posts are sent then
   runs ``sync()``: fetch, decrypt, verify, store. Reported in messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cove.client import CoveClient
from cove.client import records as R
from cove.client.features import content
from cove.protocol.wire import envelopes as E
from tests.support.relay_process import RelayProcess

BODY = "x" * 1024


async def latency(
    root: Path, url: str, posts: int, members: int = 10, prefix: str = ""
) -> tuple[float, float]:
    """Prints the figures; returns (median, p99) in seconds, post -> the last of
    ``members`` receivers has it decrypted and stored. ``prefix`` keeps the handles
    of several runs against one relay apart."""
    sender = await CoveClient.init(root / "sender", "pw", url, f"{prefix}sender", None)
    receivers = [
        await CoveClient.init(root / f"r{i}", "pw", url, f"{prefix}r{i:03d}", None)
        for i in range(members)
    ]
    gid = await sender.create_group("bench")
    await sender.add_members(gid, [r.account.handle for r in receivers])
    for r in receivers:
        await r.sync()  # a joiner may commit (its first update): the epoch moves on
    await sender.sync()
    tid = await sender.new_thread(gid, "bench", "")
    for r in receivers:
        await r.sync()
    await sender.sync()  # every member in the newest epoch before the first post
    arrived: dict[bytes, list[float]] = {}
    stop = asyncio.Event()

    def on_message(group_id: bytes, m: R.MessageView) -> None:
        arrived.setdefault(m.id, []).append(time.perf_counter())

    tasks = [asyncio.create_task(r.listen(on_message, stop)) for r in receivers]
    await asyncio.sleep(1.0 + members / 50)  # let every receiver subscribe
    lat = []
    start_all = time.perf_counter()
    for _ in range(posts):
        t0 = time.perf_counter()
        mid = await sender.post(gid, tid, BODY)
        deadline = time.monotonic() + 30
        while len(arrived.get(mid, ())) < len(receivers):
            if time.monotonic() > deadline:
                raise RuntimeError("a receiver never got the post")
            await asyncio.sleep(0.001)
        lat.append(max(arrived[mid]) - t0)
    total = time.perf_counter() - start_all
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    lat.sort()
    print(f"send -> decrypted at {members} receivers (1 KiB posts, {posts} sequential posts):")
    print(
        f"  median {statistics.median(lat) * 1e3:.1f} ms, "
        f"p99 {lat[int(0.99 * (len(lat) - 1))] * 1e3:.1f} ms, "
        f"throughput {posts / total:.1f} posts/s ({members * posts / total:.0f} deliveries/s)"
    )
    for c in (sender, *receivers):
        await c.close()
    return statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]


async def catch_up(root: Path, url: str, count: int) -> float:
    """Prints the figures; returns messages/s."""
    alice = await CoveClient.init(root / "alice", "pw", url, "alice", None)
    bob = await CoveClient.init(root / "bob", "pw", url, "bob", None)
    gid = await alice.create_group("catch-up")
    await alice.add_members(gid, ["bob"])
    await bob.sync()  # joining may commit (the joiner's first update)
    await alice.sync()  # so the posts are in bob's epoch
    tid = await alice.new_thread(gid, "t", "")
    # Encrypt everything first (one state write), then post in bounded parallel.
    async with alice.store.transaction() as txn:
        record, group = await alice.states.load(txn, gid)
        now = alice.clock.now()
        messages = [
            group.encrypt(content.post(alice.rng, now, tid, BODY, None, []).encode())
            for _ in range(count)
        ]
        await alice.states.save(txn, record, group)
    start = time.perf_counter()
    sem = asyncio.Semaphore(16)

    async def post(m: bytes) -> None:
        async with sem:
            await alice.call("post_message", E.PostMessageRequest(
                idempotency_key=alice.rng.random_bytes(16), message=m),
                path={"group_id": gid.hex()})  # fmt: skip

    await asyncio.gather(*(post(m) for m in messages))
    t_post = time.perf_counter() - start
    start = time.perf_counter()
    report = await bob.sync()
    t_sync = time.perf_counter() - start
    assert report.received >= count, report
    print(
        f"offline catch-up on {count} messages: {t_sync:.1f} s ({count / t_sync:.0f} messages/s); "
        f"(posting them took {t_post:.1f} s, {count / t_post:.0f} posts/s)"
    )
    await alice.close()
    await bob.close()
    return count / t_sync


async def main_async(root: Path, url: str, posts: int, count: int) -> None:
    await latency(root / "lat", url, posts)
    await catch_up(root / "cu", url, count)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=200)
    ap.add_argument("--catch-up", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with RelayProcess.start(
            root / "relay",
            registration="open",
            limits={"requests_per_account": 1_000_000, "unauth_per_address": 10_000},
        ) as relay:
            asyncio.run(main_async(root, relay.url, args.posts, args.catch_up))


if __name__ == "__main__":
    main()
