"""Durable acknowledged posts/s at the relay, next to a bare group-commit anchor.

    .venv/bin/python bench/bench_relay.py [--quick] [--rounds N]

Prints "durable acknowledged posts/s, 10 and 100 members, 1 KiB,
synchronous=FULL" for the relay next to the anchor measured in the same run,
and their ratio (goals: at least 0.5 at 10 members, 0.7 at 100).

For 10 and 100 WebSocket-connected members of one group, 64 concurrent posters
send 1 KiB messages over loopback. A post counts when its answer arrives (the
relay answers only after COMMIT with synchronous=FULL); a round ends when every
member has received every message. Also shown: deliveries/s and the latency
from the start of a POST to its arrival at a member (median, p99).

- relay: a real ``cove-relay serve`` subprocess (SQLite WAL, synchronous=FULL,
  every check on, access log on), driven through the endpoint table with
  bearer tokens and msgpack envelopes;
- anchor: ``bench/anchor_relay.py``, a bare aiohttp + SQLite server with the same
  durability and the same group-commit design (one writer, one transaction and
  one fsync per batch, answer and fan out after COMMIT) and nothing else.

Both run on this machine with the same client code; rounds alternate between
them (the order flips each round) and each figure is the median of the rounds,
so load from elsewhere on the machine does not favour either; the ratio is the
median of the rounds' ratios (each round pairs the two servers under the same
load). Requests are encoded before the clock starts, for both, so the driver
costs both the same per post. "CPU µs/post" is the server process's CPU time (all
threads, from /proc) per post and "busy" its CPU time over the round's wall time;
"driver busy" is the same for this process. A server well below 1.0 busy while the
driver is near it was held back by the driver (or the disk), not by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
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

POSTERS = 64
PAYLOAD = 1024
BENCH_LIMITS = {
    "unauth_per_address": 10_000_000,
    "requests_per_account": 10_000_000,
    "kp_claims_per_requester": 10_000_000,
}


# -- measurement ----------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Run:
    def __init__(self, members: int, messages: int) -> None:
        self.members = members
        self.messages = messages
        self.sent_at: dict[int, float] = {}
        self.latencies: list[float] = []
        self.deliveries = 0
        self.last_delivery = 0.0
        self.done = asyncio.Event()

    def payload(self, gid: bytes, i: int) -> bytes:
        return fake_private_message(
            gid, payload=secrets.token_bytes(PAYLOAD - 8) + struct.pack(">Q", i)
        )

    def received(self, data: bytes) -> None:
        now = time.perf_counter()
        i = struct.unpack(">Q", data[-8:])[0]
        self.latencies.append(now - self.sent_at[i])
        self.deliveries += 1
        self.last_delivery = now
        if self.deliveries == self.members * self.messages:
            self.done.set()

    async def drive(self, post: Callable[[int], Awaitable[None]], pid: int) -> dict[str, float]:
        counter = iter(range(self.messages))
        cpu_before, driver_before = cpu_seconds(pid), cpu_seconds(os.getpid())
        start = time.perf_counter()
        acked_at = start

        async def poster() -> None:
            nonlocal acked_at
            for i in counter:
                self.sent_at[i] = time.perf_counter()
                await post(i)
                acked_at = max(acked_at, time.perf_counter())

        await asyncio.gather(*(poster() for _ in range(POSTERS)))
        await asyncio.wait_for(self.done.wait(), 120)
        cpu = cpu_seconds(pid) - cpu_before
        driver = cpu_seconds(os.getpid()) - driver_before
        lat = sorted(self.latencies)
        return {
            "cpu_us": cpu / self.messages * 1e6,
            "busy": cpu / (self.last_delivery - start),
            "driver_busy": driver / (self.last_delivery - start),
            "accepted": self.messages / (acked_at - start),
            "delivered": self.deliveries / (self.last_delivery - start),
            "median_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
        }


async def bench_relay(url: str, pid: int, members: int, messages: int) -> dict[str, float]:
    run = Run(members, messages)
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
        readers = []
        for c in clients:
            ws = await c.ws()
            await ws.send_bytes(E.Subscribe(cursors=(E.Cursor(group_id=gid, seq=1),)).encode())
            assert E.StreamEvent.decode((await ws.receive()).data).kind == "ready"

            async def read(ws: aiohttp.ClientWebSocketResponse = ws) -> None:
                # every frame after "ready" is a message event, whose last field is the
                # message bytes: the index at their end is read without decoding (as the
                # anchor's raw frames are)
                async for msg in ws:
                    run.received(msg.data)

            readers.append(asyncio.create_task(read()))

        # requests are encoded before the clock starts, as the anchor's are: the
        # driver then costs both servers the same per post
        path = url + f"/v1/groups/{gid.hex()}/messages"
        headers = [{**c.headers(), "Content-Type": MSGPACK} for c in clients]
        bodies = [E.PostMessageRequest(idempotency_key=secrets.token_bytes(16),
                                       message=run.payload(gid, i)).encode()
                  for i in range(messages)]  # fmt: skip

        async def post(i: int) -> None:
            async with http.post(path, data=bodies[i], headers=headers[i % members]) as resp:
                await resp.read()
                assert resp.status == 200, resp.status

        result = await run.drive(post, pid)
        for r in readers:
            r.cancel()
        return result


async def bench_anchor(url: str, pid: int, members: int, messages: int) -> dict[str, float]:
    run = Run(members, messages)
    gid = new_group_id()
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=120), connector=aiohttp.TCPConnector(limit=0)
    ) as http:
        readers = []
        for _ in range(members):
            ws = await http.ws_connect(url + "/ws")

            async def read(ws: aiohttp.ClientWebSocketResponse = ws) -> None:
                async for msg in ws:
                    run.received(msg.data)

            readers.append(asyncio.create_task(read()))

        bodies = [run.payload(gid, i) for i in range(messages)]

        async def post(i: int) -> None:
            async with http.post(url + "/post", data=bodies[i]) as resp:
                await resp.read()
                assert resp.status == 200, resp.status

        result = await run.drive(post, pid)
        for r in readers:
            r.cancel()
        return result


def _median(results: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def _start(cmd: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    return proc, line.split("listening on ", 1)[1].strip()


GOALS = {10: 0.5, 100: 0.7}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer messages, one round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    args = parser.parse_args()
    plans = [(10, 600 if args.quick else 3000), (100, 100 if args.quick else 500)]
    rounds = 1 if args.quick else max(3, args.rounds)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        relay = RelayProcess.init(Path(tmp) / "relay", registration="open", limits=BENCH_LIMITS)
        relay.serve()
        assert relay.proc is not None
        relay_pid = relay.proc.pid
        anchor, anchor_url = _start(
            [sys.executable, str(Path(__file__).with_name("anchor_relay.py")), tmp]
        )
        try:
            for members, messages in plans:
                runs: list[tuple[dict[str, float], dict[str, float]]] = []
                for i in range(rounds):
                    if i % 2 == 0:
                        r = asyncio.run(bench_relay(relay.url, relay_pid, members, messages))
                        a = asyncio.run(bench_anchor(anchor_url, anchor.pid, members, messages))
                    else:
                        a = asyncio.run(bench_anchor(anchor_url, anchor.pid, members, messages))
                        r = asyncio.run(bench_relay(relay.url, relay_pid, members, messages))
                    runs.append((r, a))
                rows.append((members, messages, _median([r for r, _ in runs]),
                             _median([a for _, a in runs]), [r["accepted"] / a["accepted"]
                                                              for r, a in runs]))  # fmt: skip
        finally:
            relay.stop()
            anchor.terminate()
            anchor.wait(10)
    print("durable acknowledged posts/s, 10 and 100 members, 1 KiB, synchronous=FULL")
    print(f"(median of {rounds} alternating rounds, {POSTERS} concurrent posters, loopback)")
    print(f"{'members':>7} {'posts':>6} {'system':>7} {'posts/s':>8} {'deliveries/s':>13}"
          f" {'median ms':>10} {'p99 ms':>8} {'CPU µs/post':>12} {'busy':>5}"
          f" {'driver busy':>12}")  # fmt: skip
    for members, messages, r, a, _ in rows:
        for name, m in (("relay", r), ("anchor", a)):
            figures = (f"{m['accepted']:>8.0f} {m['delivered']:>13.0f} "
                       f"{m['median_ms']:>10.1f} {m['p99_ms']:>8.1f} {m['cpu_us']:>12.0f}"
                       f" {m['busy']:>5.2f} {m['driver_busy']:>12.2f}")  # fmt: skip
            print(f"{members:>7} {messages:>6} {name:>7} {figures}")
    print()
    for members, _, r, a, ratios in rows:
        ratio = statistics.median(ratios)  # paired rounds: the median of their ratios
        goal = GOALS[members]
        verdict = "meets" if ratio >= goal else "misses"
        shown = ", ".join(f"{x:.2f}" for x in ratios)
        print(f"{members} members: relay {r['accepted']:.0f} posts/s, anchor "
              f"{a['accepted']:.0f} posts/s: ratio {ratio:.2f} (rounds: {shown}); "
              f"goal >= {goal} ({verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
