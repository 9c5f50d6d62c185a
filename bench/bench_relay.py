"""Relay throughput and latency, next to a bare aiohttp + SQLite fan-out baseline.

    .venv/bin/python bench/bench_relay.py [--quick]

For 10 and 100 WebSocket-connected members of one group it measures, over
loopback:

- accepted: messages/s acknowledged to the posters (8 concurrent posters);
- delivered: message deliveries/s to the connected members (each message
  reaches every member);
- latency: from the start of the POST to arrival at each member, median and p99.

The relay is a real ``cove-relay serve`` subprocess (SQLite, WAL,
synchronous=FULL, every check on). The baseline is a subprocess running ~40
lines of aiohttp + aiosqlite: POST body -> INSERT -> COMMIT (same PRAGMAs) ->
send to every WebSocket -> answer, with no auth, no parsing, no ordering rules.
Both are driven by the same client code in this process, so client-side cost
is the same on both sides. Prints one table and a closing note with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
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
from tests.support.relay_process import (  # noqa: E402
    CONTENT_COMMIT,
    RelayProcess,
    TestClient,
    fake_private_message,
    fake_welcome,
    new_group_id,
)

POSTERS = 8
PAYLOAD = 1024
BENCH_LIMITS = {
    "unauth_per_address": 10_000_000,
    "requests_per_account": 10_000_000,
    "kp_claims_per_requester": 10_000_000,
}


# -- the baseline server (run as a subprocess with --baseline-server DIR) -----------


def baseline_server(data: Path) -> None:
    import aiosqlite
    from aiohttp import web

    sockets: set[web.WebSocketResponse] = set()

    async def ctx(app: web.Application):  # type: ignore[no-untyped-def]
        db = await aiosqlite.connect(data / "base.sqlite3", isolation_level=None)
        for p in ("journal_mode=WAL", "synchronous=FULL"):
            await db.execute(f"PRAGMA {p}")
        await db.execute("CREATE TABLE IF NOT EXISTS m (seq INTEGER PRIMARY KEY, data BLOB)")
        app["db"] = db
        app["lock"] = asyncio.Lock()
        yield
        await db.close()

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        async with request.app["lock"]:
            db = request.app["db"]
            await db.execute("BEGIN IMMEDIATE")
            async with db.execute("INSERT INTO m (data) VALUES (?)", (body,)) as cur:
                seq = cur.lastrowid
            await db.execute("COMMIT")
        for ws in list(sockets):
            await ws.send_bytes(body)
        return web.Response(body=struct.pack(">Q", seq))

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sockets.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            sockets.discard(ws)
        return ws

    async def main() -> None:
        app = web.Application()
        app.cleanup_ctx.append(ctx)
        app.router.add_post("/post", post)
        app.router.add_get("/ws", stream)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(f"listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- measurement ----------------------------------------------------------------


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

    async def drive(self, post: Callable[[int], Awaitable[None]]) -> dict[str, float]:
        counter = iter(range(self.messages))
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
        lat = sorted(self.latencies)
        return {
            "accepted": self.messages / (acked_at - start),
            "delivered": self.deliveries / (self.last_delivery - start),
            "median_ms": statistics.median(lat) * 1000,
            "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
        }


async def bench_relay(url: str, members: int, messages: int) -> dict[str, float]:
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
                async for msg in ws:
                    ev = E.StreamEvent.decode(msg.data)
                    if ev.kind == "message" and ev.message is not None:
                        run.received(ev.message)

            readers.append(asyncio.create_task(read()))
        posters = clients[:POSTERS]

        async def post(i: int) -> None:
            await posters[i % len(posters)].post(gid, run.payload(gid, i))

        result = await run.drive(post)
        for r in readers:
            r.cancel()
        return result


async def bench_baseline(url: str, members: int, messages: int) -> dict[str, float]:
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

        async def post(i: int) -> None:
            async with http.post(url + "/post", data=run.payload(gid, i)) as resp:
                await resp.read()

        result = await run.drive(post)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer messages (smoke run)")
    parser.add_argument("--baseline-server", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        baseline_server(args.baseline_server)
        return
    plans = [(10, 300 if args.quick else 1000), (100, 60 if args.quick else 200)]
    rounds = 1 if args.quick else 3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        relay = RelayProcess.init(Path(tmp) / "relay", registration="open", limits=BENCH_LIMITS)
        relay.serve()
        base, base_url = _start([sys.executable, __file__, "--baseline-server", tmp])
        try:
            for members, messages in plans:
                # alternate the two systems and keep the median of each figure, so a
                # burst of load from elsewhere on the machine does not favour either
                runs: list[tuple[dict[str, float], dict[str, float]]] = []
                for _ in range(rounds):
                    r = asyncio.run(bench_relay(relay.url, members, messages))
                    b = asyncio.run(bench_baseline(base_url, members, messages))
                    runs.append((r, b))
                rows.append((members, messages, _median([r for r, _ in runs]),
                             _median([b for _, b in runs])))  # fmt: skip
        finally:
            relay.stop()
            base.terminate()
            base.wait(10)
    print(f"median of {rounds} alternating rounds, {POSTERS} posters, {PAYLOAD}-byte messages")
    print(f"{'members':>7} {'msgs':>5} {'system':>8} {'accepted/s':>11} {'delivered/s':>12}"
          f" {'median ms':>10} {'p99 ms':>8}")  # fmt: skip
    for members, messages, r, b in rows:
        for name, m in (("relay", r), ("baseline", b)):
            print(
                f"{members:>7} {messages:>5} {name:>8} {m['accepted']:>11.0f} "
                f"{m['delivered']:>12.0f} {m['median_ms']:>10.1f} {m['p99_ms']:>8.1f}"
            )
    print()
    for members, _, r, b in rows:
        print(f"{members} members: relay accepts {r['accepted']:.0f} msg/s and delivers "
              f"{r['delivered']:.0f}/s (median {r['median_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms); "
              f"the bare baseline {b['accepted']:.0f} msg/s and {b['delivered']:.0f}/s "
              f"(median {b['median_ms']:.1f} ms, p99 {b['p99_ms']:.1f} ms): "
              f"accepted ratio {r['accepted'] / b['accepted']:.2f}, "
              f"delivered ratio {r['delivered'] / b['delivered']:.2f}.")  # fmt: skip


if __name__ == "__main__":
    main()
