"""Invite links in the relay's domain with a controlled clock: the order of the link
checks, expiry at the relay's time, the retention of requests, declines and dead links,
the migration of a version-2 database, and the pickup verifier."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cove.protocol.invites import capability_verifier
from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.auth import registration_signing_input
from cove.protocol.wire.codes import ErrorCode
from cove.server.config import RelayConfig
from cove.server.domain.link_checks import check_link
from cove.server.domain.links import pickup_verifier
from cove.server.domain.relay import Caller, Relay
from cove.server.errors import RelayError
from cove.server.storage.links_base import LinkRecord
from cove.server.storage.sqlite import SqliteStorage, _statements, migrations

CAP = bytes(range(32))
T0 = 1_800_000_000


class FakeClock:
    def __init__(self) -> None:
        self.t = float(T0)

    def now(self) -> int:
        return int(self.t)

    def monotonic(self) -> float:
        return self.t


def record(**kw: object) -> LinkRecord:
    base: dict[str, object] = dict(
        link_id=bytes(10), group_id=bytes(16), capability_verifier=capability_verifier(CAP),
        mode="approval", expires_at=T0 + 100, max_uses=2, uses=0, registrations=0,
        created_at=T0, revoked_at=None, waiting=0,
    )  # fmt: skip
    base.update(kw)
    return LinkRecord(**base)  # type: ignore[arg-type]


def refusal(link: LinkRecord | None, cap: bytes = CAP, now: int = T0, **kw: bool | str) -> str:
    with pytest.raises(RelayError) as info:
        check_link(link, cap, now, **kw)  # type: ignore[arg-type]
    return f"{info.value.code.value}: {info.value.message}"


def test_check_link_tells_states_apart_only_after_the_capability() -> None:
    assert refusal(None) == "not_found: no such invite link"
    # a wrong capability learns nothing, whatever the link's state
    for state in (record(), record(revoked_at=T0), record(expires_at=T0)):
        assert refusal(state, cap=bytes(32)) == "not_found: no such invite link"
    revoked = "link_revoked: this invite link was revoked by the group's moderators"
    assert refusal(record(revoked_at=T0, expires_at=T0 - 1)) == revoked
    assert refusal(record(expires_at=T0)) == "link_expired: this invite link has expired"
    assert check_link(record(expires_at=T0 + 1), CAP, T0).expires_at == T0 + 1
    assert refusal(record(), mode="open").startswith("bad_request: this invite link admits")
    used_up = "link_used_up: this invite link has been used the maximum number of times"
    assert refusal(record(uses=2), use=True) == used_up
    assert check_link(record(uses=2), CAP, T0).uses == 2  # a moderator's view needs no use
    assert refusal(record(registrations=2), registration=True) == used_up
    assert refusal(record(uses=2), registration=True) == used_up
    assert check_link(record(uses=1, registrations=1), CAP, T0, registration=True)


def test_pickup_verifier_is_labelled_sha256() -> None:
    token = bytes(range(32))
    assert pickup_verifier(token) == hashlib.sha256(b"cove decline pickup v1" + token).digest()
    assert pickup_verifier(token) != hashlib.sha256(token).digest()


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


async def _account(relay: Relay, handle: str, **link: bytes | str) -> Caller:
    ident, dev = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    signed = registration_signing_input(relay.relay_id, handle, _raw(ident), _raw(dev))
    resp = await relay.do_register(
        E.RegisterRequest(
            handle=handle,
            identity_key=_raw(ident),
            device_key=_raw(dev),
            identity_sig=ident.sign(signed),
            device_sig=dev.sign(signed),
            **link,
        )
    )  # type: ignore[arg-type]
    return Caller(resp.account_id, resp.device_id, b"")


def _sealed_request(link_id: bytes) -> bytes:
    return b"\x01" + link_id + (1).to_bytes(4, "big") + bytes(2048)


def test_expiry_and_retention_by_the_relays_clock(tmp_path: Path) -> None:
    async def main() -> None:
        clock = FakeClock()
        relay = Relay(RelayConfig(tmp_path, registration="invite"),
                      SqliteStorage(tmp_path / "r.sqlite3"), clock)  # fmt: skip
        await relay.storage.open()
        try:
            await relay.start()
            org = await _account(relay, "org", invite=await relay.invites.create(1, None))
            gid = bytes(range(16))
            await relay.do_create_group(org, E.CreateGroupRequest(group_id=gid))
            link_id = bytes(range(10))
            await relay.links.create(org, gid, K.LinkCreateRequest(
                link_id=link_id, capability_verifier=capability_verifier(CAP), mode="approval",
                expires_at=T0 + 3600, max_uses=5, preview=bytes(1024)))  # fmt: skip
            # registration with the link, in invite-only mode
            nia = await _account(relay, "nia", link_id=link_id, link_capability=CAP)
            for pickup in (b"a" * 16, b"b" * 16):
                await relay.links.post_request(nia, link_id, K.JoinRequestPost(
                    capability=CAP, sealed=_sealed_request(link_id), pickup_id=pickup,
                    pickup_verifier=pickup_verifier(bytes(32))))  # fmt: skip
            page = await relay.links.list_requests(org, gid, link_id, 0)
            await relay.links.remove_request(org, gid, link_id, K.JoinRequestRemove(
                request_id=page.requests[0].request_id, decline=b"\x01" + bytes(100)))  # fmt: skip
            declined = await relay.links.pickup(
                K.DeclinePickup(pickup_id=b"a" * 16, pickup_token=bytes(32))
            )
            assert declined.state == "declined"
            # one second before expiry the link works; at expiry it does not
            clock.t = T0 + 3599
            got = await relay.links.fetch_preview(link_id, K.LinkAccess(capability=CAP))
            assert got.preview == bytes(1024)
            clock.t = T0 + 3600
            with pytest.raises(RelayError) as info:
                await relay.links.fetch_preview(link_id, K.LinkAccess(capability=CAP))
            assert info.value.code is ErrorCode.LINK_EXPIRED
            with pytest.raises(RelayError) as info:
                await _account(relay, "late", link_id=link_id, link_capability=CAP)
            assert info.value.code is ErrorCode.LINK_EXPIRED
            # the sweep at expiry drops the preview, keeps the queue for the moderators
            await relay.do_purge()
            async with relay.storage.read() as txn:
                assert await txn.link_preview(link_id) is None
            assert len((await relay.links.list_requests(org, gid, link_id, 0)).requests) == 1
            # after join_request_ttl the request and the decline are gone
            clock.t = T0 + relay.config.limit("join_request_ttl")
            assert await relay.do_purge() == 2
            assert (await relay.links.list_requests(org, gid, link_id, 0)).requests == ()
            gone = await relay.links.pickup(
                K.DeclinePickup(pickup_id=b"a" * 16, pickup_token=bytes(32))
            )
            assert gone.state == "none"
            # dead_link_kept after expiry the link itself is forgotten
            info_before = await relay.links.list(org, gid)
            assert [x.link_id for x in info_before.links] == [link_id]
            clock.t = T0 + 3600 + relay.config.limit("dead_link_kept")
            await relay.do_purge()
            assert (await relay.links.list(org, gid)).links == ()
            with pytest.raises(RelayError) as info:
                await relay.links.fetch_preview(link_id, K.LinkAccess(capability=CAP))
            assert info.value.code is ErrorCode.NOT_FOUND
        finally:
            await relay.stop()
            await relay.storage.close()

    asyncio.run(main())


def test_creating_links_forgets_the_oldest_dead_ones(tmp_path: Path) -> None:
    async def main() -> None:
        clock = FakeClock()
        relay = Relay(RelayConfig(tmp_path, registration="open"),
                      SqliteStorage(tmp_path / "r.sqlite3"), clock)  # fmt: skip
        await relay.storage.open()
        try:
            await relay.start()
            org = await _account(relay, "org")
            gid = bytes(range(16))
            await relay.do_create_group(org, E.CreateGroupRequest(group_id=gid))

            async def new(i: int) -> bytes:
                link_id = i.to_bytes(10, "big")
                await relay.links.create(org, gid, K.LinkCreateRequest(
                    link_id=link_id, capability_verifier=capability_verifier(CAP),
                    mode="open", expires_at=clock.now() + 60, max_uses=1,
                    preview=bytes(64)))  # fmt: skip
                return link_id

            # 16 live links at most
            live = [await new(i) for i in range(16)]
            with pytest.raises(RelayError) as info:
                await new(99)
            assert info.value.code is ErrorCode.LINK_EXISTS
            assert "revoke one first" in info.value.message
            # revoked ones are remembered (they answer "revoked") up to 64 per group
            for link_id in live:
                clock.t += 1
                await relay.links.revoke(org, gid, link_id)
            created = live[:]
            for i in range(100, 170):
                clock.t += 1
                created.append(await new(i))
                if len(created) - 16 > 0 and i % 16 == 15:
                    for link_id in created[-16:]:
                        await relay.links.revoke(org, gid, link_id)
            kept = [x.link_id for x in (await relay.links.list(org, gid)).links]
            assert len(kept) == 64
            assert kept == created[-64:]  # the oldest dead ones went first
        finally:
            await relay.stop()
            await relay.storage.close()

    asyncio.run(main())


def test_a_version_2_database_migrates_to_invite_links(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT")
    for version, sql in migrations():
        if version <= 2:
            for statement in _statements(sql):
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))
    db.execute("INSERT INTO groups (group_id, created_at) VALUES (?, 1)", (bytes(16),))
    db.close()

    async def main() -> None:
        storage = SqliteStorage(path)
        await storage.open()
        try:
            schema = await storage.schema()
            async with storage.read() as txn:
                assert await txn.links_of(bytes(16)) == []
        finally:
            await storage.close()
        assert schema["links"][:3] == ["link_id", "group_id", "capability_verifier"]
        assert {"link_group_info", "join_requests", "join_declines"} <= set(schema)

    asyncio.run(main())
    db = sqlite3.connect(path)
    assert [r[0] for r in db.execute("SELECT version FROM schema_version")] == [1, 2, 3, 4]
    db.close()


def test_a_version_3_database_drops_group_infos_without_a_position(tmp_path: Path) -> None:
    """Migration 0004: a stored GroupInfo had no log position; it is dropped (the
    group's next commit stores a new one) and the column is added."""
    path = tmp_path / "r.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL) STRICT")
    for version, sql in migrations():
        if version <= 3:
            for statement in _statements(sql):
                db.execute(statement)
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))
    gid, link_id = bytes(16), bytes(10)
    db.execute("INSERT INTO groups (group_id, created_at) VALUES (?, 1)", (gid,))
    db.execute(
        "INSERT INTO links (link_id, group_id, capability_verifier, mode, expires_at,"
        " max_uses, created_at) VALUES (?, ?, ?, 'open', 100, 3, 1)",
        (link_id, gid, bytes(32)),
    )
    db.execute("INSERT INTO link_group_info VALUES (?, 0, ?)", (link_id, b"sealed"))
    db.close()

    async def main() -> None:
        storage = SqliteStorage(path)
        await storage.open()
        try:
            schema = await storage.schema()
            async with storage.read() as txn:
                assert await txn.group_info(link_id) is None
                assert (await txn.link(link_id)) is not None
        finally:
            await storage.close()
        assert schema["link_group_info"] == ["link_id", "epoch", "sealed", "position"]

    asyncio.run(main())
