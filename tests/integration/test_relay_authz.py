"""Authorization matrix (security requirements §3.2 F): anonymous callers,
non-members, removed members, banned members and plain members are refused
every action they may not take, and group answers never reveal whether a
group exists."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.api import ENDPOINTS, MSGPACK
from cove.protocol.wire.codes import ErrorCode
from tests.support.relay_process import (
    CONTENT_COMMIT,
    RelayProcess,
    TestClient,
    fake_private_message,
    fake_welcome,
    new_group_id,
)

pytestmark = pytest.mark.integration

#: A link id no group has (the group's answer comes first).
NO_LINK = "00" * 10

Probe = Callable[[TestClient, bytes], Awaitable[tuple[int, bytes]]]


def _group_probes(target: bytes, blob: bytes) -> dict[str, Probe]:
    """Every group action, as a raw request (so bodies can be compared byte for byte)."""

    def body(env: E.Envelope) -> bytes:
        return env.encode()

    def post(msg_kind: int, **extra: object) -> Probe:
        async def run(c: TestClient, gid: bytes) -> tuple[int, bytes]:
            req = E.PostMessageRequest(
                idempotency_key=secrets.token_bytes(16),
                message=fake_private_message(gid, msg_kind),
                position=0 if msg_kind == CONTENT_COMMIT else None,
                **extra,  # type: ignore[arg-type]
            )
            return await c.raw("POST", f"/v1/groups/{gid.hex()}/messages", body(req))

        return run

    return {
        "read group": lambda c, g: c.raw("GET", f"/v1/groups/{g.hex()}"),
        "read history": lambda c, g: c.raw("GET", f"/v1/groups/{g.hex()}/messages?after=0"),
        "post": post(1),
        "post commit": post(CONTENT_COMMIT),
        "remove": post(CONTENT_COMMIT, remove=(target,)),
        "leave": lambda c, g: c.raw("POST", f"/v1/groups/{g.hex()}/leave"),
        "set role": lambda c, g: c.raw("POST", f"/v1/groups/{g.hex()}/roles",
                                       body(E.RoleRequest(account_id=target, role="moderator"))),
        "ban": lambda c, g: c.raw("POST", f"/v1/groups/{g.hex()}/bans",
                                  body(E.BanRequest(account_id=target, banned=True))),
        "retention": lambda c, g: c.raw("POST", f"/v1/groups/{g.hex()}/retention",
                                        body(E.RetentionRequest(max_age_seconds=60))),
        "upload attachment": lambda c, g: c.raw("POST", f"/v1/groups/{g.hex()}/blobs", b"x" * 10,
                                                "application/octet-stream"),
        "fetch attachment": lambda c, g: c.raw("GET", f"/v1/groups/{g.hex()}/blobs/{blob.hex()}"),
        "list links": lambda c, g: c.raw("GET", f"/v1/groups/{g.hex()}/links"),
        "link queue": lambda c, g: c.raw("GET", f"/v1/groups/{g.hex()}/links/{NO_LINK}/requests"),
        "revoke link": lambda c, g: c.raw("POST", f"/v1/groups/{g.hex()}/links/{NO_LINK}/revoke"),
    }  # fmt: skip


async def _setup(http: aiohttp.ClientSession, relay: RelayProcess) -> dict[str, object]:
    owner, mod, member, removed, banned, outsider = [
        await TestClient.register(http, relay.url) for _ in range(6)
    ]
    gid = new_group_id()
    await owner.call("create_group", E.CreateGroupRequest(group_id=gid))
    devices = []
    for c in (mod, member, removed, banned):
        await c.call("upload_key_packages", E.KeyPackageUpload(key_packages=(c.key_package(),)))
        devices.append(c.device_id)
    await owner.post(gid, fake_private_message(gid, CONTENT_COMMIT), position=0,
                     welcome=fake_welcome(), welcome_devices=tuple(devices))  # fmt: skip
    await owner.call("set_role", E.RoleRequest(account_id=mod.account_id, role="moderator"),
                     group_id=gid)  # fmt: skip
    await mod.post(gid, fake_private_message(gid, CONTENT_COMMIT), position=1,
                   remove=(removed.account_id,))  # fmt: skip
    await mod.call("ban", E.BanRequest(account_id=banned.account_id, banned=True), group_id=gid)
    blob = await owner.call("upload_blob", b"attachment", group_id=gid)
    assert isinstance(blob, E.BlobRef)
    anonymous = TestClient(http, relay.url)
    return {"gid": gid, "owner": owner, "mod": mod, "member": member, "removed": removed,
            "banned": banned, "outsider": outsider, "anonymous": anonymous,
            "blob": blob.blob_id}  # fmt: skip


def test_authorization_matrix(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            s = await _setup(http, relay)
            gid = s["gid"]
            assert isinstance(gid, bytes)
            owner, member = s["owner"], s["member"]
            assert isinstance(owner, TestClient) and isinstance(member, TestClient)
            blob = s["blob"]
            assert isinstance(blob, bytes)
            probes = _group_probes(owner.account_id, blob)

            # anonymous: 401 on every authenticated endpoint, before anything is looked up
            anonymous = s["anonymous"]
            assert isinstance(anonymous, TestClient)
            for name, probe in probes.items():
                real = await probe(anonymous, gid)
                fake = await probe(anonymous, new_group_id())
                assert real[0] == 401, name
                assert real == fake, name
                assert E.ErrorBody.decode(real[1]).code == ErrorCode.UNAUTHORIZED
            for ep in ENDPOINTS:
                if not ep.auth:
                    continue
                path = ep.url(group_id=gid.hex(), blob_id=blob.hex(), link_id="00" * 10)
                status, _ = await anonymous.raw(ep.method, path, b"\x80", MSGPACK)
                assert status == 401, ep.name

            # non-member, removed member, banned member: the answer for a real group
            # is byte-identical to the answer for a group that does not exist
            for who in ("outsider", "removed", "banned"):
                c = s[who]
                assert isinstance(c, TestClient)
                for name, probe in probes.items():
                    real = await probe(c, gid)
                    fake = await probe(c, new_group_id())
                    assert real[0] == 404, (who, name, real)
                    assert real == fake, (who, name)
                    assert E.ErrorBody.decode(real[1]).code == ErrorCode.NOT_FOUND
                groups = await c.call("list_groups")
                assert isinstance(groups, E.GroupList)
                assert gid not in [g.group_id for g in groups.groups]

            # a plain member may read and post, but not moderate
            for name in ("set role", "ban", "retention", "remove", "list links", "link queue",
                         "revoke link"):  # fmt: skip
                status, raw = await probes[name](member, gid)
                assert status == 403, (name, status)
                assert E.ErrorBody.decode(raw).code == ErrorCode.FORBIDDEN
            for name in ("read group", "read history", "post", "fetch attachment"):
                status, _ = await probes[name](member, gid)
                assert status == 200, name
            # nor add anyone
            outsider = s["outsider"]
            assert isinstance(outsider, TestClient)
            await member.expect_error(ErrorCode.FORBIDDEN, "post_message", E.PostMessageRequest(
                idempotency_key=secrets.token_bytes(16), position=10,
                message=fake_private_message(gid, CONTENT_COMMIT), welcome=fake_welcome(),
                welcome_devices=(outsider.device_id,)), group_id=gid)  # fmt: skip
            # a moderator cannot remove or ban the owner, nor change roles
            mod = s["mod"]
            assert isinstance(mod, TestClient)
            for name in ("ban", "remove", "set role"):
                status, _ = await probes[name](mod, gid)
                assert status == 403, name
            # a banned account cannot be added back
            banned = s["banned"]
            assert isinstance(banned, TestClient)
            await banned.call(
                "upload_key_packages", E.KeyPackageUpload(key_packages=(banned.key_package(),))
            )
            info = await owner.call("get_group", group_id=gid)
            assert isinstance(info, E.GroupInfoResponse)
            await owner.expect_error(ErrorCode.ACCOUNT_BANNED, "post_message", E.PostMessageRequest(
                idempotency_key=secrets.token_bytes(16), position=info.handshake_seq,
                message=fake_private_message(gid, CONTENT_COMMIT), welcome=fake_welcome(),
                welcome_devices=(banned.device_id,)), group_id=gid)  # fmt: skip
            # the relay's table still lists exactly the members it should
            assert {m.account_id for m in info.members} == {
                owner.account_id,
                mod.account_id,
                member.account_id,
            }
            # a deleted account's token is dead
            await outsider.call("delete_account")
            await outsider.expect_error(ErrorCode.UNAUTHORIZED, "whoami")

    asyncio.run(main())


def test_removed_member_gets_no_new_messages(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            owner, gone = [await TestClient.register(http, relay.url) for _ in range(2)]
            gid = new_group_id()
            await owner.call("create_group", E.CreateGroupRequest(group_id=gid))
            await gone.call(
                "upload_key_packages", E.KeyPackageUpload(key_packages=(gone.key_package(),))
            )
            await owner.post(
                gid,
                fake_private_message(gid, CONTENT_COMMIT),
                position=0,
                welcome=fake_welcome(),
                welcome_devices=(gone.device_id,),
            )
            ws = await gone.ws()
            await ws.send_bytes(E.Subscribe(cursors=(E.Cursor(group_id=gid, seq=1),)).encode())
            ev = E.StreamEvent.decode((await ws.receive(timeout=10)).data)
            assert ev.kind == "ready"
            removal = await owner.post(gid, fake_private_message(gid, CONTENT_COMMIT),
                                       position=1, remove=(gone.account_id,))  # fmt: skip
            # the removal commit itself is delivered (the member learns it was removed) ...
            ev = E.StreamEvent.decode((await ws.receive(timeout=10)).data)
            assert (ev.kind, ev.seq) == ("message", removal.seq)
            ev = E.StreamEvent.decode((await ws.receive(timeout=10)).data)
            assert (ev.kind, ev.group_id) == ("removed", gid)
            # ... and nothing after it
            await owner.post(gid, fake_private_message(gid))
            marker = new_group_id()
            await ws.send_bytes(E.Subscribe(cursors=(E.Cursor(group_id=marker, seq=0),)).encode())
            ev = E.StreamEvent.decode((await ws.receive(timeout=10)).data)
            assert (ev.kind, ev.group_id) == ("removed", marker)
            await ws.close()
            await gone.expect_error(ErrorCode.NOT_FOUND, "fetch_messages", group_id=gid)

    asyncio.run(main())
