"""A real ``cove-relay`` subprocess for integration tests, and a small test client.

::

    with RelayProcess.start(tmp_path, registration="open") as relay:
        async def main():
            async with TestClient.session(relay.url) as http:
                alice = await TestClient.register(http, "alice")
                await alice.call("create_group", E.CreateGroupRequest(group_id=gid))
        asyncio.run(main())

The relay runs as ``python -m cove.server`` from this interpreter, on
127.0.0.1 port 0; the fixture reads the ``listening on`` line for the port,
polls ``/v1/health`` with a bounded timeout and ends the process by its pid.
Its stderr (the relay's log) goes to ``DATA/relay.log`` so tests can inspect it.

:class:`TestClient` drives the relay through the endpoint table of
:mod:`cove.protocol.wire.api` (the same table the real client uses) and raises
:class:`CallError` with the typed :class:`ErrorCode` on any error answer. The
``fake_*`` helpers build MLS byte strings whose cleartext header is valid — the
relay only peeks at the headers of group messages and Welcomes, so tests need no
MLS group. KeyPackages are checked in full at upload, so they are real ones:
:func:`make_key_package` and :meth:`TestClient.key_package` (bound to the
client's handle, identity key and device key).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from cove.protocol.codec import Writer
from cove.protocol.crypto import OsRandom
from cove.protocol.identity import CoveIdentity
from cove.protocol.mls.key_package_bundle import DEFAULT_LIFETIME, KeyPackageBundle
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.api import BY_NAME, MSGPACK
from cove.protocol.wire.auth import login_signing_input, registration_signing_input
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.schema import Envelope

START_TIMEOUT = 20.0


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    return str(value)


@dataclass
class RelayProcess:
    data: Path
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    port: int = 0
    invite: str = ""

    @classmethod
    def init(
        cls,
        data: Path,
        *,
        registration: str = "invite",
        limits: dict[str, int] | None = None,
        retention: dict[str, float] | None = None,
        server: dict[str, str] | None = None,
    ) -> RelayProcess:
        """``cove-relay init`` into ``data``, then adjust the config for the test."""
        out = subprocess.run(
            [sys.executable, "-m", "cove.server", "init", "--data", str(data)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        invite = out.stdout.decode().strip().splitlines()[-1]
        config = data / "relay.toml"
        text = config.read_text()
        text = text.replace('mode = "invite"', f'mode = "{registration}"')
        if retention:
            for key, value in retention.items():
                text = text.replace(f"\n{key} = ", f"\n{key} = {value}\n# was: ", 1)
        if server:
            settings = "".join(f"{k} = {_toml_value(v)}\n" for k, v in server.items())
            text = text.replace("[registration]", settings + "\n[registration]", 1)
        if limits:
            text += "".join(f"{k} = {_toml_value(v)}\n" for k, v in limits.items())
        config.write_text(text)
        return cls(data=data, invite=invite)

    @classmethod
    @contextlib.contextmanager
    def start(cls, data: Path, **kwargs: Any) -> Iterator[RelayProcess]:
        relay = cls.init(data, **kwargs)
        relay.serve()
        try:
            yield relay
        finally:
            relay.stop()

    def serve(self, port: int = 0) -> None:
        """Start ``serve --port PORT`` (0: any free port); return when ``/v1/health``
        answers. A stopped relay restarts on its old port with ``serve(port=relay.port)``."""
        log = open(self.data / "relay.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cove.server", "serve", "--data", str(self.data),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        assert self.proc.stdout is not None
        line = _readline_with_timeout(self.proc, START_TIMEOUT)
        prefix = "listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError(f"relay did not start: {line!r}; log: {self.log()[-2000:]}")
        self.url = line[len(prefix) :].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        asyncio.run(self._wait_healthy())

    async def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    # the TLS test's certificate is self-signed; health is all we check here
                    ssl = False if self.url.startswith("https") else None
                    async with http.get(self.url + "/v1/health", ssl=ssl) as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("relay never became healthy")
                await asyncio.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM by pid, then SIGKILL if it does not exit within 10 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def kill(self) -> None:
        """``kill -9`` the relay (crash tests)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def memory(self) -> dict[str, int]:
        """The relay process's ``VmRSS`` and ``VmHWM`` (peak RSS) in bytes, from /proc."""
        assert self.proc is not None
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0]) * 1024
        return out

    def log(self) -> str:
        path = self.data / "relay.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def cli(self, *args: str) -> str:
        """Run another ``cove-relay`` subcommand against this data dir; its stdout."""
        out = subprocess.run(
            [sys.executable, "-m", "cove.server", *args, "--data", str(self.data)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return out.stdout.decode()


def _readline_with_timeout(proc: subprocess.Popen[bytes], timeout: float) -> str:
    import selectors

    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not sel.select(left):
            break
        chunk = os.read(proc.stdout.fileno(), 1)
        if not chunk:
            break
        buf += chunk
    sel.close()
    return buf.decode(errors="replace")


# -- a test client over the endpoint table ----------------------------------------


class CallError(Exception):
    def __init__(self, status: int, code: ErrorCode, body: E.ErrorBody) -> None:
        self.status = status
        self.code = code
        self.body = body
        super().__init__(f"{status} {code.value}: {body.message}")


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def make_key_package(
    handle: str, identity: Ed25519PrivateKey, device: Ed25519PrivateKey, *,
    now: int | None = None, lifetime: int = DEFAULT_LIFETIME,
) -> bytes:  # fmt: skip
    """A valid KeyPackage (suite 1, as an MLSMessage) of ``device`` of ``handle``."""
    credential = CoveIdentity.create(handle, raw_private(identity), _raw_public(device))
    bundle = KeyPackageBundle.create(
        1, credential.credential(), OsRandom(),
        now=int(time.time()) if now is None else now, lifetime=lifetime,
        signature_private=raw_private(device),
    )  # fmt: skip
    return bundle.key_package_bytes()


def unique_handle(prefix: str = "u") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class TestClient:
    __test__ = False  # not a pytest class

    http: aiohttp.ClientSession
    base: str
    handle: str = ""
    identity: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    device: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    token: str = ""
    account_id: bytes = b""
    device_id: bytes = b""
    relay_id: bytes = b""

    @staticmethod
    @contextlib.asynccontextmanager
    async def session(base: str) -> AsyncIterator[aiohttp.ClientSession]:
        del base
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            yield http

    @classmethod
    async def register(
        cls, http: aiohttp.ClientSession, base: str, handle: str | None = None,
        invite: str | None = None, *, login: bool = True,
    ) -> TestClient:  # fmt: skip
        client = cls(http, base, handle or unique_handle())
        health = await client.call("health")
        assert isinstance(health, E.Health)
        client.relay_id = health.relay_id
        signed = registration_signing_input(
            client.relay_id, client.handle, client.identity_key, client.device_key
        )
        resp = await client.call("register", E.RegisterRequest(
            handle=client.handle, identity_key=client.identity_key,
            device_key=client.device_key, identity_sig=client.identity.sign(signed),
            device_sig=client.device.sign(signed), invite=invite,
        ))  # fmt: skip
        assert isinstance(resp, E.RegisterResponse)
        client.account_id, client.device_id = resp.account_id, resp.device_id
        if login:
            await client.login()
        return client

    @property
    def identity_key(self) -> bytes:
        return _raw_public(self.identity)

    @property
    def device_key(self) -> bytes:
        return _raw_public(self.device)

    def key_package(self, *, now: int | None = None, lifetime: int = DEFAULT_LIFETIME) -> bytes:
        """A valid KeyPackage of this device, as the relay accepts at upload."""
        return make_key_package(self.handle, self.identity, self.device, now=now,
                                lifetime=lifetime)  # fmt: skip

    async def login(self) -> None:
        ch = await self.call("challenge")
        assert isinstance(ch, E.ChallengeResponse)
        sig = self.device.sign(
            login_signing_input(ch.relay_id, ch.challenge, self.handle, self.device_key)
        )
        resp = await self.call("login", E.LoginRequest(
            handle=self.handle, device_key=self.device_key, challenge=ch.challenge, signature=sig,
        ))  # fmt: skip
        assert isinstance(resp, E.LoginResponse)
        self.token = resp.token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def raw(
        self, method: str, path: str, body: bytes | None = None,
        content_type: str = MSGPACK, headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:  # fmt: skip
        h = {**self.headers(), **(headers or {})}
        if body is not None:
            h.setdefault("Content-Type", content_type)
        async with self.http.request(method, self.base + path, data=body, headers=h) as resp:
            return resp.status, await resp.read()

    async def call(
        self, name: str, body: Envelope | bytes | None = None,
        query: dict[str, int] | None = None, **params: bytes,
    ) -> Envelope | bytes:  # fmt: skip
        ep = BY_NAME[name]
        path = ep.url(**{k: v.hex() for k, v in params.items()})
        if query:
            path += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        data: bytes | None = None
        ctype = MSGPACK
        if isinstance(body, Envelope):
            data = body.encode()
        elif isinstance(body, bytes):
            data, ctype = body, "application/octet-stream"
        status, raw = await self.raw(ep.method, path, data, ctype)
        if status >= 400:
            err = E.ErrorBody.decode(raw)
            raise CallError(status, ErrorCode(err.code), err)
        if ep.response is None:
            return raw
        return ep.response.decode(raw)

    async def expect_error(
        self, code: ErrorCode, name: str, body: Envelope | bytes | None = None, **params: bytes
    ) -> CallError:
        try:
            await self.call(name, body, **params)
        except CallError as exc:
            assert exc.code == code, f"{name}: expected {code}, got {exc}"
            assert exc.status == code.status
            return exc
        raise AssertionError(f"{name}: expected {code}, got success")

    async def post(
        self, group_id: bytes, message: bytes, *, position: int | None = None,
        key: bytes | None = None, **extra: Any,
    ) -> E.PostMessageResponse:  # fmt: skip
        resp = await self.call("post_message", E.PostMessageRequest(
            idempotency_key=key or secrets.token_bytes(16), message=message,
            position=position, **extra,
        ), group_id=group_id)  # fmt: skip
        assert isinstance(resp, E.PostMessageResponse)
        return resp

    async def ws(self) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(
            self.base + "/v1/stream", headers=self.headers(), autoclose=False
        )


# -- MLS bytes with valid cleartext headers (RFC 9420 §6) ------------------------------

CONTENT_APPLICATION, CONTENT_PROPOSAL, CONTENT_COMMIT = 1, 2, 3


def fake_private_message(
    group_id: bytes, content_type: int = CONTENT_APPLICATION, epoch: int = 0,
    payload: bytes | None = None,
) -> bytes:  # fmt: skip
    w = Writer()
    w.uint16(1)  # mls10
    w.uint16(2)  # mls_private_message
    w.opaque(group_id)
    w.uint64(epoch)
    w.uint8(content_type)
    w.opaque(b"")  # authenticated_data
    w.opaque(secrets.token_bytes(28))  # encrypted_sender_data
    w.opaque(payload if payload is not None else secrets.token_bytes(64))  # ciphertext
    return w.getvalue()


def fake_public_message(group_id: bytes, content_type: int, epoch: int = 0) -> bytes:
    w = Writer()
    w.uint16(1)
    w.uint16(1)  # mls_public_message
    w.opaque(group_id)
    w.uint64(epoch)
    w.uint8(1)  # sender: member
    w.uint32(0)
    w.opaque(b"")
    w.uint8(content_type)
    w.fixed(secrets.token_bytes(80))  # content, signature, tags: not examined
    return w.getvalue()


def fake_welcome() -> bytes:
    w = Writer()
    w.uint16(1)
    w.uint16(3)  # mls_welcome
    w.uint16(1)  # cipher suite
    w.opaque(secrets.token_bytes(120))
    w.opaque(secrets.token_bytes(200))
    return w.getvalue()


def new_group_id() -> bytes:
    return secrets.token_bytes(32)


# -- raw HTTP, for what aiohttp's client will not send --------------------------------


@dataclass
class RawAnswer:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


def read_answer(sock: socket.socket, *, timeout: float = 30.0) -> RawAnswer:
    """Read one HTTP answer from ``sock`` (head, then ``Content-Length`` bytes);
    interim ``1xx`` answers are skipped. Raises ``ConnectionError`` if the relay
    closes the connection without answering."""
    sock.settimeout(timeout)
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed without an answer after {buf[:200]!r}")
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status >= 200:
            break
    length = int(headers.get("content-length", "0"))
    while len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return RawAnswer(status, headers, buf[:length])


def raw_http(port: int, request: bytes, *, timeout: float = 30.0) -> RawAnswer:
    """Send ``request`` as is on a new connection and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_answer(sock, timeout=timeout)
