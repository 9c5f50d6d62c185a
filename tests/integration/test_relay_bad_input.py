"""Bad input (security requirements §3.2 G, H1): malformed msgpack, wrong types,
unknown fields, truncation, oversized bodies and frames, deep nesting, broken
HTTP — always a typed 4xx (or a WebSocket close), never a 5xx, and the relay
keeps serving. Hypothesis drives the bodies; example counts are bounded."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import aiohttp
import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.api import ENDPOINTS, MSGPACK, Endpoint
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import MLS_MESSAGE, REQUEST_BODY, WS_FRAME
from tests.support.relay_process import (
    RelayProcess,
    TestClient,
    fake_private_message,
    new_group_id,
)

pytestmark = [pytest.mark.integration, pytest.mark.property]

EXAMPLES = 200


class Harness:
    def __init__(self, relay: RelayProcess) -> None:
        self.relay = relay
        self.runner = asyncio.Runner()
        self.http: aiohttp.ClientSession = self.runner.run(self._session())
        self.client: TestClient = self.runner.run(TestClient.register(self.http, relay.url))
        self.gid = new_group_id()
        self.runner.run(self.client.call("create_group", E.CreateGroupRequest(group_id=self.gid)))

    async def _session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    def path(self, ep: Endpoint) -> str:
        return ep.url(group_id=self.gid.hex(), blob_id="00" * 16, link_id="00" * 10)

    def send(self, ep: Endpoint, body: bytes, content_type: str = MSGPACK) -> tuple[int, bytes]:
        return self.runner.run(self.client.raw(ep.method, self.path(ep), body, content_type))

    def close(self) -> None:
        self.runner.run(self.http.close())
        self.runner.close()


@pytest.fixture(scope="module")
def harness(relay: RelayProcess) -> Iterator[Harness]:
    h = Harness(relay)
    yield h
    h.close()
    assert "bug [" not in relay.log(), "the relay logged an internal error"


def assert_typed_4xx(status: int, raw: bytes) -> ErrorCode:
    assert 400 <= status < 500, (status, raw[:200])
    err = E.ErrorBody.decode(raw)
    return ErrorCode(err.code)


MSGPACK_ENDPOINTS = [ep for ep in ENDPOINTS if ep.body == "msgpack"]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=True),
    st.text(max_size=40), st.binary(max_size=80),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers(-100, 100)), inner, max_size=6),
    ),
    max_leaves=20,
)


def _pack(v: object) -> bytes:
    return msgpack.packb(v, use_bin_type=True)


@st.composite
def bad_bodies(draw: st.DrawFn, ep: Endpoint) -> bytes:
    assert ep.request is not None
    fields = [name for name, _, _ in ep.request.schema()]
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.binary(max_size=300))
    if kind == 1:  # arbitrary msgpack structure
        return _pack(draw(values))
    if kind == 2:  # a map with the right names but arbitrary values
        m: dict[object, object] = {"v": 1}
        for name in fields:
            if draw(st.booleans()):
                m[name] = draw(values)
        return _pack(m)
    if kind == 3:  # unknown field / wrong version
        m = {"v": draw(st.sampled_from([0, 1, 2, 255, "1"])), draw(st.text(max_size=10)): 1}
        return _pack(m)
    if kind == 4:  # deep nesting
        depth = draw(st.integers(10, 100_000))
        return b"\x91" * depth + b"\xc0"
    if kind == 5:  # declared lengths far beyond the data
        prefix = draw(st.sampled_from([b"\xdb", b"\xc6", b"\xdd", b"\xdf"]))
        return prefix + draw(st.binary(min_size=4, max_size=4)) + draw(st.binary(max_size=20))
    # truncation of a well-formed map
    m = {"v": 1, **{name: b"x" * 16 for name in fields}}
    packed = _pack(m)
    return packed[: draw(st.integers(0, len(packed) - 1))]


@pytest.mark.parametrize("ep", MSGPACK_ENDPOINTS, ids=lambda ep: ep.name)
def test_malformed_bodies_get_typed_4xx(harness: Harness, ep: Endpoint) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=bad_bodies(ep))
    def check(body: bytes) -> None:
        status, raw = harness.send(ep, body)
        if status < 400:  # an arbitrary body may happen to be valid; then it must be a success
            assert status == 200
            return
        assert_typed_4xx(status, raw)

    check()  # fmt: skip
    status, _ = harness.runner.run(harness.client.raw("GET", "/v1/health"))
    assert status == 200


def test_wrong_content_type_and_oversized_bodies(harness: Harness) -> None:
    ep = next(e for e in ENDPOINTS if e.name == "create_group")
    good = E.CreateGroupRequest(group_id=new_group_id()).encode()
    status, raw = harness.send(ep, good, "application/json")
    assert assert_typed_4xx(status, raw) is ErrorCode.UNSUPPORTED_MEDIA_TYPE
    status, raw = harness.send(ep, b"\x00" * (REQUEST_BODY + 1))
    assert status == 413 and assert_typed_4xx(status, raw) is ErrorCode.BODY_TOO_LARGE
    # an oversized MLS message inside a well-formed envelope
    post = next(e for e in ENDPOINTS if e.name == "post_message")
    big = {"v": 1, "idempotency_key": b"k" * 16, "message": b"m" * (MLS_MESSAGE + 1)}
    status, raw = harness.send(post, _pack(big))
    assert assert_typed_4xx(status, raw) is ErrorCode.BAD_REQUEST
    # query parameters
    for query in ("after=-1", "after=abc", "after=1&after=2", "bogus=1", "after=" + "9" * 30):
        status, raw = harness.runner.run(harness.client.raw(
            "GET", f"/v1/groups/{harness.gid.hex()}/messages?{query}"))  # fmt: skip
        assert assert_typed_4xx(status, raw) is ErrorCode.BAD_REQUEST, query
    # path parameters that are not ids answer like a missing group
    for bad in ("zz", "00", "0" * 200, "AB" * 16):
        status, raw = harness.runner.run(harness.client.raw("GET", f"/v1/groups/{bad}"))
        assert assert_typed_4xx(status, raw) is ErrorCode.NOT_FOUND
    # unknown paths and methods are typed too
    status, raw = harness.runner.run(harness.client.raw("GET", "/v1/nothing"))
    assert assert_typed_4xx(status, raw) is ErrorCode.NOT_FOUND
    status, raw = harness.runner.run(harness.client.raw("PUT", "/v1/groups"))
    assert assert_typed_4xx(status, raw) is ErrorCode.METHOD_NOT_ALLOWED


def _raw_http(port: int, data: bytes, *, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        if not read:
            return b""
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_broken_http_and_truncated_bodies(harness: Harness) -> None:
    port = harness.relay.port
    token = harness.client.token
    path = f"/v1/groups/{harness.gid.hex()}/messages"
    # a body shorter than its Content-Length, then the connection closes
    body = E.PostMessageRequest(idempotency_key=b"t" * 16,
                                message=fake_private_message(harness.gid)).encode()  # fmt: skip
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {MSGPACK}\r\nContent-Length: {len(body) + 500}\r\n\r\n"
    ).encode()
    _raw_http(port, head + body)
    # header line over the limit, too many headers, conflicting framing, garbage
    long_line = b"GET /v1/health HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"
    many = (
        b"GET /v1/health HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n"
    )
    smuggle = (b"POST /v1/accounts HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")  # fmt: skip
    for raw in (long_line, many, smuggle, b"\x16\x03\x01\x00\xa5garbage\r\n\r\n"):
        answer = _raw_http(port, raw)
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 400
        assert 400 <= status < 500, answer[:100]
    # the message of the truncated request was not stored
    page = harness.runner.run(harness.client.call("fetch_messages", group_id=harness.gid))
    assert isinstance(page, E.MessagePage) and page.messages == ()
    status, _ = harness.runner.run(harness.client.raw("GET", "/v1/health"))
    assert status == 200
    log = harness.relay.log()
    assert "127.0.0.1" not in log and token not in log


def test_websocket_bad_frames_close_the_socket(harness: Harness) -> None:
    async def close_code(frame: bytes | str) -> int | None:
        ws = await harness.client.ws()
        if isinstance(frame, str):
            await ws.send_str(frame)
        else:
            await ws.send_bytes(frame)
        msg = await ws.receive(timeout=10)
        while msg.type not in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                               aiohttp.WSMsgType.ERROR):  # fmt: skip
            msg = await ws.receive(timeout=10)
        code = ws.close_code if msg.type != aiohttp.WSMsgType.CLOSE else msg.data
        await ws.close()
        return code

    run = harness.runner.run
    assert run(close_code(b"\x00" * (WS_FRAME + 1))) == 1009
    assert run(close_code(b"\xc1garbage")) == 1007
    assert run(close_code(b"\x91" * 50_000 + b"\xc0")) == 1007
    assert run(close_code(E.Ok().encode())) == 1007
    assert run(close_code("hello")) == 1003

    # the relay still serves WebSockets
    async def ok() -> str:
        ws = await harness.client.ws()
        await ws.send_bytes(E.Subscribe(cursors=()).encode())
        ev = E.StreamEvent.decode((await ws.receive(timeout=10)).data)
        await ws.close()
        return ev.kind

    assert run(ok()) == "ready"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(frame=st.one_of(st.binary(max_size=200), values.map(_pack)))
def test_websocket_fuzzed_subscribe_frames(harness: Harness, frame: bytes) -> None:
    async def main() -> None:
        ws = await harness.client.ws()
        await ws.send_bytes(frame)
        msg = await ws.receive(timeout=10)
        if msg.type == aiohttp.WSMsgType.BINARY:  # it happened to be a valid Subscribe
            assert E.StreamEvent.decode(msg.data).kind == "ready"
        else:
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
            assert msg.data in (1007, 1003), msg
        await ws.close()

    harness.runner.run(main())
