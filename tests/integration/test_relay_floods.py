"""Floods and hostile HTTP against a real relay subprocess (issue 10, relay limits).

Every loop is bounded; nothing sleeps; nothing asserts a duration. What each
test pins down:

- no header or body gives a 5xx (``Bearer \\xff`` gave 500 on every endpoint);
- bad tokens spend the address's unauthenticated budget and end in 429, and
  leave one short access line each, no traceback;
- malformed HTTP leaves the access log working, echoes nothing into it, and is
  answered with ``Server: cove-relay`` like everything else;
- a body that trickles in is cut off at its deadline;
- uploads are refused by declared size, by quota and by the in-flight caps
  before their body is read.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from pathlib import Path

import aiohttp
import pytest

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.api import ENDPOINTS
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import limit
from tests.support.relay_process import (
    RawAnswer,
    RelayProcess,
    TestClient,
    new_group_id,
    raw_http,
    read_answer,
)

pytestmark = pytest.mark.integration

MARKER = b"zqxmarker"  # sent inside malformed requests; must never reach the log


def _path(ep_path: str) -> str:
    return ep_path.replace("{group_id}", "ab" * 16).replace("{blob_id}", "cd" * 16)


def _request(method: str, path: str, headers: list[bytes], body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1".encode(), b"Host: relay", b"Connection: close"]
    head += headers
    if body or method == "POST":
        head.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _error(answer: RawAnswer) -> E.ErrorBody:
    assert answer.headers.get("content-type") == "application/msgpack", answer
    return E.ErrorBody.decode(answer.body)


def test_no_header_or_body_gives_a_5xx(relay: RelayProcess) -> None:
    """Every endpoint, with tokens and headers no client would send, with and
    without a valid token, and garbage bodies: 4xx at worst, never 5xx."""

    async def login() -> TestClient:
        async with aiohttp.ClientSession() as http:
            return await TestClient.register(http, relay.url)

    alice = asyncio.run(login())
    valid = f"Authorization: Bearer {alice.token}".encode()
    hostile = [
        [b"Authorization: Bearer \xff"],
        [b"Authorization: Bearer " + b"\xff" * 64],
        [b"Authorization: Bearer " + b"A" * 64],  # well formed, not the relay's tag
        [b"Authorization: Bearer " + alice.token.encode()[:-1] + b"\xe9"],
        [b"Authorization: bearer  " + alice.token.encode() + b" trailing"],
        [b"Authorization: \x00\x01\x02"],
        [b"Authorization: Basic " + b"\xc3\x28" * 40],
        [valid, b"Content-Type: application/msgpack; charset=\xff"],
        [valid, b"Content-Type: \xff/\xfe"],
        [valid, b"X-Forwarded-For: \xff\xfe, ::::"],
        [valid, b"Accept: \xff", b"Accept-Encoding: \xff"],
        [valid, b"Expect: 100-continue"],
        [valid, b"Expect: \xff"],
        [valid, b"Cookie: " + b"\xff" * 100],
    ]
    bodies = [b"", b"\xff" * 50, b"\x81\xa1v\x01", b"\xc1", b"\x92" + b"\x91" * 300]
    answers = 0
    for ep in ENDPOINTS:
        path = _path(ep.path)
        for headers in hostile:
            answer = raw_http(relay.port, _request(ep.method, path, headers))
            assert answer.status < 500, (ep.name, headers, answer)
            assert answer.headers["server"] == "cove-relay"
            answers += 1
        if ep.method == "POST":
            for ctype in (b"application/msgpack", b"application/octet-stream", b"text/plain"):
                for body in bodies:
                    req = _request(ep.method, path, [valid, b"Content-Type: " + ctype], body)
                    answer = raw_http(relay.port, req)
                    assert answer.status < 500, (ep.name, ctype, body[:10], answer)
                    answers += 1
    assert answers > len(ENDPOINTS) * len(hostile)
    log = relay.log()
    assert "Traceback" not in log and "bug [" not in log
    assert " 500 " not in log


def test_bad_tokens_are_rate_limited_per_address_and_logged_briefly(tmp_path: Path) -> None:
    """``Bearer \\xff`` (and any token the relay did not issue) is 401 until the
    address's unauthenticated budget is spent, then 429 with Retry-After; a valid
    token from the same address still works (accounts have their own budget)."""
    with RelayProcess.start(tmp_path, registration="open") as relay:

        async def register() -> TestClient:
            async with aiohttp.ClientSession() as http:
                return await TestClient.register(http, relay.url)

        alice = asyncio.run(register())
        cap = limit("unauth_per_address")
        statuses = []
        tokens = [b"\xff", b"\xff" * 64, secrets.token_urlsafe(48).encode()]
        for i in range(3 * cap):
            req = _request("GET", "/v1/account", [b"Authorization: Bearer " + tokens[i % 3]])
            answer = raw_http(relay.port, req)
            err = _error(answer)
            statuses.append(answer.status)
            if answer.status == 429:
                assert err.code == ErrorCode.RATE_LIMITED
                assert int(answer.headers["retry-after"]) >= 1
            else:
                assert (answer.status, err.code) == (401, ErrorCode.UNAUTHORIZED)
        first_429 = statuses.index(429)
        # registration and the fixture's health probes spent a few of the budget
        assert cap - 10 <= first_429 <= cap
        # the bucket refills at cap/60 per second while the loop runs: a few more 401s
        assert statuses.count(401) <= cap + 10
        assert statuses[-cap:].count(429) >= cap - 10
        ok = raw_http(
            relay.port,
            _request("GET", "/v1/account", [f"Authorization: Bearer {alice.token}".encode()]),
        )
        assert ok.status == 200
    log = relay.log()  # after the relay stopped: every line is written
    assert "Traceback" not in log and "Error" not in log
    whoami = [line for line in log.splitlines() if "cove.relay.access: GET whoami " in line]
    assert len(whoami) == 3 * cap + 1  # one short access line per request, nothing more
    assert sum(" 401 " in line for line in whoami) == statuses.count(401)
    assert max(len(line) for line in whoami) < 100
    assert all("cove.relay.access: " in line or "cove.relay:" in line for line in log.splitlines())


def test_malformed_http_keeps_the_access_log_and_hides_versions(tmp_path: Path) -> None:
    """aiohttp answers malformed HTTP itself; those answers carry no version, the
    access log survives them (one ``- - 400`` line each) without echoing what was
    sent, and the relay keeps serving."""
    malformed = [
        b"ZQX" + MARKER + b"\x1b[31m /v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nBad " + MARKER + b"\r\n\r\n",
        b"GET /v1/health?" + MARKER + b"\xff=1 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /" + MARKER + b" HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-A: " + MARKER * 1000 + b"\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-%d: %s\r\n" % (i, MARKER) for i in range(200))
        + b"\r\n",
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: " + MARKER + b"\r\n\r\n",
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz" + MARKER + b"\r\n\r\n",
        b"GET /v1/health HTTP/1.1\r\nHost: x\x00" + MARKER + b"\r\n\r\n",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + MARKER + b"\x00" * 40 + b"\r\n\r\n",
    ]
    with RelayProcess.start(tmp_path, registration="open") as relay:
        for request in malformed:
            answer = raw_http(relay.port, request)
            assert 400 <= answer.status < 500, (request[:40], answer)
            assert answer.headers["server"] == "cove-relay", answer.headers
        assert raw_http(relay.port, _request("GET", "/v1/health", [])).status == 200
    log = relay.log()  # after the relay stopped: every line is written
    assert MARKER.decode() not in log
    assert "Traceback" not in log and "AssertionError" not in log
    assert "aiohttp/" not in log and "Python/" not in log
    access = [line for line in log.splitlines() if "cove.relay.access:" in line]
    assert sum(" - - 400 " in line for line in access) >= len(malformed) - 1
    assert access[-1].endswith("ms") and " GET health 200 " in access[-1]


def test_a_trickling_body_is_cut_off_at_its_deadline(tmp_path: Path) -> None:
    """A body arriving a byte at a time is answered ``400 bad_request`` at the
    deadline (``body_timeout`` + size / ``body_min_rate``) and its connection
    closed, however steadily it trickles; other clients are served meanwhile."""
    limits = {"body_timeout": 1, "body_min_rate": 1_000_000}
    with RelayProcess.start(tmp_path, registration="open", limits=limits) as relay:
        sock = socket.create_connection(("127.0.0.1", relay.port), timeout=30)
        head = b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/msgpack\r\n"
        sock.sendall(head + b"Content-Length: 400\r\n\r\n")
        assert raw_http(relay.port, _request("GET", "/v1/health", [])).status == 200
        received = b""
        sent = 0
        for _ in range(400):  # one byte, then wait up to 0.1 s for an answer
            sock.sendall(b"\x00")
            sent += 1
            sock.settimeout(0.1)
            try:
                received = sock.recv(65536)
            except TimeoutError:
                continue
            break
        assert received, "the relay waited for the whole trickling body"
        assert sent < 400
        sock.settimeout(30)
        rest = received
        while chunk := sock.recv(65536):  # the relay closes the connection
            rest += chunk
        sock.close()
        head, _, body = rest.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 400 ")
        err = E.ErrorBody.decode(body)
        assert err.code == ErrorCode.BAD_REQUEST
        assert err.message == "request body not received within 1 s"
        assert b"Connection: close" in head


def _upload_head(token: str, gid: bytes, size: int, *, expect: bool = False) -> bytes:
    return (
        f"POST /v1/groups/{gid.hex()}/blobs HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {size}\r\n" + ("Expect: 100-continue\r\n" if expect else "") + "\r\n"
    ).encode()


def _await_continue(sock: socket.socket) -> None:
    sock.settimeout(30)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(1)
        assert chunk, "closed before 100 Continue"
        buf += chunk
    assert buf == b"HTTP/1.1 100 Continue\r\n\r\n", buf


def test_uploads_are_refused_from_the_head(tmp_path: Path) -> None:
    """Declared size, quota (stored + in flight) and the in-flight caps refuse an
    upload before any of its body is sent: each refused request below sends its
    head only, and its answer comes back anyway."""
    mib = 1024 * 1024
    limits = {"blob": 2 * mib, "group_blob_quota": 5 * mib, "uploads_at_once": 3,
              "requests_per_account": 1_000_000, "unauth_per_address": 1_000_000}  # fmt: skip
    with RelayProcess.start(tmp_path, registration="open", limits=limits) as relay:

        async def setup() -> tuple[list[TestClient], list[bytes]]:
            async with aiohttp.ClientSession() as http:
                clients = [await TestClient.register(http, relay.url) for _ in range(3)]
                gids = [new_group_id() for _ in clients]
                for who, group_id in zip(clients, gids, strict=True):
                    await who.call("create_group", E.CreateGroupRequest(group_id=group_id))
                for _ in range(2):
                    await clients[0].call(
                        "upload_blob", secrets.token_bytes(2 * mib), group_id=gids[0]
                    )
                return clients, gids

        (a, b, c), (gid, other, c_gid) = asyncio.run(setup())
        port = relay.port
        # declared size over the blob limit: no body sent, 413 anyway
        err = _error(raw_http(port, _upload_head(a.token, gid, 2 * mib + 1)))
        assert (err.code, err.message) == ("body_too_large", f"attachment over {2 * mib} bytes")
        # over the quota (4 MiB stored of 5): refused from the head, Expect or not
        for expect in (False, True):
            err = _error(raw_http(port, _upload_head(a.token, gid, mib + 1, expect=expect)))
            quota_message = "the group's attachment quota is used up"
            assert (err.code, err.message) == ("quota_exceeded", quota_message)
        # no Content-Length: refused, whatever the body
        chunked = (f"POST /v1/groups/{gid.hex()}/blobs HTTP/1.1\r\nHost: x\r\n"
                   f"Authorization: Bearer {a.token}\r\nContent-Type: application/octet-stream\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n").encode()  # fmt: skip
        err = _error(raw_http(port, chunked))
        assert (err.code, err.message) == ("bad_request", "an upload needs a Content-Length")
        # in flight: the quota counts reserved bytes; two uploads of b hold its slots
        held = []
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(_upload_head(b.token, other, mib, expect=True))
            _await_continue(sock)  # admitted: the slot is held from here
            held.append(sock)
        answer = raw_http(port, _upload_head(b.token, other, 10, expect=True))
        assert answer.status == 429 and _error(answer).code == ErrorCode.RATE_LIMITED
        assert answer.headers["retry-after"] == "1"
        # another account is not held up by b's slots, but the relay-wide cap (3) is
        c_sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        c_sock.sendall(_upload_head(c.token, c_gid, 10, expect=True))
        _await_continue(c_sock)
        err = _error(raw_http(port, _upload_head(a.token, gid, 10, expect=True)))
        assert err.code == ErrorCode.RATE_LIMITED  # relay-wide: 3 in flight
        # a non-member is told "no such group" before anything else
        err = _error(raw_http(port, _upload_head(c.token, gid, 10, expect=True)))
        assert (err.code, err.message) == ("not_found", "no such group")
        # bodies complete: each held upload is stored, and the slots free up
        c_sock.sendall(b"x" * 10)
        assert read_answer(c_sock).status == 200
        c_sock.close()
        for sock in held:
            sock.sendall(secrets.token_bytes(mib))
            answer = read_answer(sock)
            assert answer.status == 200
            assert E.BlobRef.decode(answer.body).size == mib
            sock.close()
        answer = raw_http(port, _upload_head(b.token, other, 3) + b"abc")
        assert answer.status == 200
        # a body shorter than declared, then EOF: 400, nothing stored
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(_upload_head(b.token, other, 100) + b"short")
            sock.shutdown(socket.SHUT_WR)
            try:
                answer = read_answer(sock)
                assert answer.status == 400
            except ConnectionError:
                pass  # the relay may just drop a connection whose body was cut

        # 2 + 2 + 1 + 1 blobs: the refused and the cut-short uploads stored nothing
        assert "blobs: 6" in relay.cli("status").splitlines()
        assert "Traceback" not in relay.log()


def test_an_upload_flood_by_one_member_keeps_memory_bounded(tmp_path: Path) -> None:
    """40 concurrent 8 MiB uploads by one member (which took the relay from 69 MB to
    516 MB when every body was buffered): at most ``uploads_per_account`` are read
    at once, the others are refused from the head with 429, and the relay's peak
    memory grows by a small multiple of one attachment (bench/bench_relay_flood.py
    prints the figures)."""
    blob = limit("blob")
    limits = {"unauth_per_address": 1_000_000, "requests_per_account": 1_000_000}
    with RelayProcess.start(tmp_path, registration="open", limits=limits) as relay:

        async def flood() -> list[int]:
            async with aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=300), connector=aiohttp.TCPConnector(limit=0)
            ) as http:
                member = await TestClient.register(http, relay.url)
                gid = new_group_id()
                await member.call("create_group", E.CreateGroupRequest(group_id=gid))
                body = secrets.token_bytes(blob)

                async def one() -> int:
                    try:
                        status, _ = await member.raw(
                            "POST",
                            f"/v1/groups/{gid.hex()}/blobs",
                            body,
                            "application/octet-stream",
                        )
                    except aiohttp.ClientError:
                        return 0  # answered and closed before the whole body was sent
                    return status

                return list(await asyncio.gather(*(one() for _ in range(40))))

        before = relay.memory()["VmRSS"]
        statuses = asyncio.run(flood())
        peak = relay.memory()["VmHWM"]
        assert set(statuses) <= {200, 429, 0}, statuses
        assert statuses.count(200) >= limit("uploads_per_account")
        assert statuses.count(429) >= 40 - 8 * limit("uploads_per_account")
        assert peak - before < 12 * blob, (before, peak)
        stored = relay.cli("status").splitlines()
        assert f"blobs: {statuses.count(200)}" in stored
