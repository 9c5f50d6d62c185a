"""Rate limits at their documented defaults (docs/server/limits.md, read from
cove.protocol.wire.limits): unauthenticated requests per address and
authenticated requests per account."""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import limit
from tests.support.relay_process import (
    CONTENT_COMMIT,
    RelayProcess,
    TestClient,
    fake_private_message,
    fake_welcome,
    new_group_id,
)

pytestmark = pytest.mark.integration


def test_rates_per_address_and_per_account(tmp_path: Path) -> None:
    with RelayProcess.start(tmp_path, registration="open") as relay:

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                cap = limit("unauth_per_address")
                alice = await TestClient.register(http, relay.url)  # 4 unauthenticated calls
                anon = TestClient(http, relay.url)
                allowed = 4
                while True:
                    status, raw = await anon.raw("POST", "/v1/auth/challenge")
                    if status != 200:
                        break
                    allowed += 1
                    assert allowed <= cap
                # the fixture's health probes at start-up count too (a few at most)
                assert cap - 5 <= allowed <= cap
                err = E.ErrorBody.decode(raw)
                assert status == 429 and err.code == ErrorCode.RATE_LIMITED
                assert err.retry_after is not None and err.retry_after >= 1
                # authenticated traffic is limited per account, not per address
                # (the bucket refills at cap/60 per second while the loop runs)
                per_account = limit("requests_per_account")
                served = 0
                while True:
                    status, raw = await alice.raw("GET", "/v1/account")
                    if status != 200:
                        break
                    served += 1
                    assert served <= 2 * per_account, "no per-account limit"
                assert served >= per_account
                assert status == 429
                assert E.ErrorBody.decode(raw).code == ErrorCode.RATE_LIMITED

        asyncio.run(main())


def _ws_frame(payload: bytes) -> bytes:
    mask = secrets.token_bytes(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x82, 0x80 | len(payload)]) + mask + masked


def test_slow_websocket_reader_is_dropped(tmp_path: Path) -> None:
    """H6: a client that never reads its socket is disconnected once
    ``ws_send_queue`` events wait for it; the others are unaffected."""
    limits = {"ws_send_queue": 8, "requests_per_account": 1_000_000}
    with RelayProcess.start(tmp_path, registration="open", limits=limits) as relay:

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                alice, slow = [await TestClient.register(http, relay.url) for _ in range(2)]
                gid = new_group_id()
                await alice.call("create_group", E.CreateGroupRequest(group_id=gid))
                await slow.call(
                    "upload_key_packages", E.KeyPackageUpload(key_packages=(slow.key_package(),))
                )
                await alice.post(
                    gid,
                    fake_private_message(gid, CONTENT_COMMIT),
                    position=0,
                    welcome=fake_welcome(),
                    welcome_devices=(slow.device_id,),
                )
                # the slow reader: a raw socket that subscribes and then never reads
                sock = socket.create_connection(("127.0.0.1", relay.port), timeout=30)
                key = base64.b64encode(secrets.token_bytes(16)).decode()
                sock.sendall((f"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                              f"Sec-WebSocket-Version: 13\r\n"
                              f"Authorization: Bearer {slow.token}\r\n\r\n").encode())  # fmt: skip
                head = b""
                while b"\r\n\r\n" not in head:
                    head += sock.recv(1)
                assert head.startswith(b"HTTP/1.1 101")
                sock.sendall(_ws_frame(E.Subscribe(cursors=()).encode()))
                fast = await alice.ws()
                await fast.send_bytes(E.Subscribe(cursors=()).encode())
                assert E.StreamEvent.decode((await fast.receive(timeout=10)).data).kind == "ready"
                got: list[int | None] = []

                async def read_fast() -> None:
                    while len(got) < 120:
                        ev = E.StreamEvent.decode((await fast.receive(timeout=30)).data)
                        got.append(ev.seq)

                reader = asyncio.create_task(read_fast())
                sent = []
                for _ in range(120):
                    msg = fake_private_message(gid, payload=secrets.token_bytes(200_000))
                    sent.append((await alice.post(gid, msg)).seq)
                await asyncio.wait_for(reader, 60)
                assert got == sent
                await fast.close()
                # the relay has given up on the slow reader: draining its socket ends in EOF
                loop = asyncio.get_running_loop()

                def drain() -> int:
                    total = 0
                    sock.settimeout(30)
                    while chunk := sock.recv(1 << 20):
                        total += len(chunk)
                    return total

                started = loop.time()
                received = await loop.run_in_executor(None, drain)
                sock.close()
                assert received < 120 * 200_000 // 2
                assert loop.time() - started < 20

        asyncio.run(main())


def test_slowloris_header_is_cut_off(tmp_path: Path) -> None:
    """H3: a client that trickles its request head is disconnected after
    ``header_timeout``; a normal client is served meanwhile."""
    timeout = 1
    with RelayProcess.start(tmp_path, registration="open",
                            limits={"header_timeout": timeout}) as relay:  # fmt: skip
        sock = socket.create_connection(("127.0.0.1", relay.port), timeout=30)
        sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
        assert asyncio.run(_health(relay.url)) == 200
        started = time.monotonic()
        closed_after = None
        for _ in range(40):  # keep trickling one header byte every 0.1 s
            try:
                sock.sendall(b"X")
            except OSError:
                closed_after = time.monotonic() - started
                break
            sock.settimeout(0.1)
            try:
                if sock.recv(1024) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                pass
        sock.close()
        assert closed_after is not None, "the relay never cut the slow header"
        assert closed_after < timeout + 2


async def _health(url: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(url + "/v1/health") as resp:
        return resp.status
