"""Domain pieces that need a controlled clock: rate limits and login challenges."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.auth import login_signing_input, registration_signing_input
from cove.server.config import RelayConfig
from cove.server.domain.crypto import Token
from cove.server.domain.ratelimit import RateLimiter
from cove.server.domain.relay import Relay
from cove.server.errors import AuthFailed, RateLimited
from cove.server.storage.sqlite import SqliteStorage


class FakeClock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def now(self) -> int:
        return int(self.t)

    def monotonic(self) -> float:
        return self.t


def test_token_bucket() -> None:
    clock = FakeClock()
    rl = RateLimiter(clock, 3, 60)
    assert [rl.retry_after("a") for _ in range(3)] == [0, 0, 0]
    assert rl.retry_after("a") == 20
    assert rl.retry_after("b") == 0
    clock.t += 20
    assert rl.retry_after("a") == 0
    assert rl.retry_after("a") > 0


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_challenges_expire_and_are_single_use(tmp_path: Path) -> None:
    async def main() -> None:
        clock = FakeClock()
        relay = Relay(RelayConfig(tmp_path, registration="open"),
                      SqliteStorage(tmp_path / "r.sqlite3"), clock)  # fmt: skip
        await relay.storage.open()
        try:
            await relay.start()
            ident, dev = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
            signed = registration_signing_input(relay.relay_id, "alice", _raw(ident), _raw(dev))
            await relay.do_register(E.RegisterRequest(
                handle="alice", identity_key=_raw(ident), device_key=_raw(dev),
                identity_sig=ident.sign(signed), device_sig=dev.sign(signed)))  # fmt: skip

            def login(ch: bytes, key: Ed25519PrivateKey = dev) -> E.LoginRequest:
                sig = key.sign(login_signing_input(relay.relay_id, ch, "alice", _raw(dev)))
                return E.LoginRequest(handle="alice", device_key=_raw(dev), challenge=ch,
                                      signature=sig)  # fmt: skip

            ch = relay.do_challenge().challenge
            clock.t += 121
            with pytest.raises(AuthFailed):
                await relay.do_login(login(ch))
            ch = relay.do_challenge().challenge
            with pytest.raises(AuthFailed):  # signed by the identity key, not the device key
                await relay.do_login(login(ch, ident))
            with pytest.raises(AuthFailed):  # spent by the failed attempt
                await relay.do_login(login(ch))
            ch = relay.do_challenge().challenge
            resp = await relay.do_login(login(ch))
            token = Token(resp.token)
            assert resp.token not in repr(token)
            caller = await relay.access_caller(token, "192.0.2.1")
            assert caller.account_id == resp.account_id and resp.token not in repr(caller)
            with pytest.raises(AuthFailed):
                await relay.do_login(login(ch))
            # registration proof of possession: a signature by another key fails
            other = Ed25519PrivateKey.generate()
            bad = registration_signing_input(relay.relay_id, "bob", _raw(other), _raw(dev))
            with pytest.raises(AuthFailed):
                await relay.do_register(E.RegisterRequest(
                    handle="bob", identity_key=_raw(other), device_key=_raw(dev),
                    identity_sig=other.sign(bad), device_sig=other.sign(bad)))  # fmt: skip
            # the challenge table is bounded
            relay.config.limits["outstanding_challenges"] = 5
            relay._challenges.clear()
            for _ in range(5):
                relay.do_challenge()
            with pytest.raises(RateLimited):
                relay.do_challenge()
        finally:
            await relay.storage.close()

    asyncio.run(main())
