"""The anchor for ``bench_relay.py``: a bare aiohttp + SQLite group-commit fan-out server.

    .venv/bin/python bench/anchor_relay.py DATA_DIR      # prints "listening on URL"

What a competent minimal relay with the same durability does, and nothing
else: ``POST /post`` queues the body; one writer drains the queue and, in one
call to its database thread, runs ``BEGIN IMMEDIATE``, one ``INSERT`` per post
and ``COMMIT`` (WAL, ``synchronous=FULL``: the commit is fsynced); only then it
answers each post with its sequence number and queues each body for every open
WebSocket (``GET /ws``), each socket with its own sender task so that one slow
reader holds up neither the writer nor the others. No authentication, no
envelopes, no validation, no ordering rules, no access log. Cove's relay does
all of those on top of the same design, so the ratio between the two is the
cost of being Cove.
"""

from __future__ import annotations

import asyncio
import sqlite3
import struct
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from aiohttp import web

MAX_BATCH = 256


def serve(data: Path) -> None:
    pool = ThreadPoolExecutor(max_workers=1)
    sockets: dict[web.WebSocketResponse, asyncio.Queue[bytes]] = {}
    queue: asyncio.Queue[tuple[bytes, asyncio.Future[int]]] = asyncio.Queue()
    db: sqlite3.Connection | None = None

    def open_db() -> sqlite3.Connection:
        conn = sqlite3.connect(data / "anchor.sqlite3", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS m (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        return conn

    def write(conn: sqlite3.Connection, bodies: list[bytes]) -> list[int]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            seqs = []
            for body in bodies:
                cur = conn.execute("INSERT INTO m (data) VALUES (?)", (body,))
                assert cur.lastrowid is not None
                seqs.append(cur.lastrowid)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return seqs

    async def writer() -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            while len(batch) < MAX_BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            bodies = [b for b, _ in batch]
            assert db is not None
            conn = db
            try:
                seqs = await loop.run_in_executor(pool, write, conn, bodies)
            except Exception as exc:
                for _, fut in batch:
                    fut.set_exception(exc)
                continue
            for (body, fut), seq in zip(batch, seqs, strict=True):
                fut.set_result(seq)
                for q in sockets.values():
                    q.put_nowait(body)

    async def ctx(app: web.Application):  # type: ignore[no-untyped-def]
        nonlocal db
        db = await asyncio.get_running_loop().run_in_executor(pool, open_db)
        task = asyncio.create_task(writer())
        yield
        task.cancel()

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        queue.put_nowait((body, fut))
        return web.Response(body=struct.pack(">Q", await fut))

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        q: asyncio.Queue[bytes] = asyncio.Queue()
        sockets[ws] = q

        async def send() -> None:  # one sender per socket: a slow one holds up no other
            while True:
                await ws.send_bytes(await q.get())

        sender = asyncio.create_task(send())
        try:
            async for _ in ws:
                pass
        finally:
            del sockets[ws]
            sender.cancel()
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


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
