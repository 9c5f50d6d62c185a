"""Devices, roles, leaving and live Welcome notices."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.auth import add_device_signing_input
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


async def _second_device(first: TestClient) -> TestClient:
    device = Ed25519PrivateKey.generate()
    second = TestClient(first.http, first.base, first.handle, identity=first.identity,
                        device=device, relay_id=first.relay_id)  # fmt: skip
    signed = add_device_signing_input(first.relay_id, first.account_id, second.device_key)
    info = await first.call("add_device", E.AddDeviceRequest(
        device_key=second.device_key, identity_sig=first.identity.sign(signed),
        device_sig=device.sign(signed)))  # fmt: skip
    assert isinstance(info, E.DeviceInfo)
    second.account_id, second.device_id = first.account_id, info.device_id
    await second.login()
    return second


def test_claims_cover_every_device_and_welcomes_reach_each(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            alice = await TestClient.register(http, relay.url)
            bob = await TestClient.register(http, relay.url)
            bob2 = await _second_device(bob)
            me = await bob2.call("whoami")
            assert isinstance(me, E.AccountInfo) and len(me.devices) == 2
            # a device key signed only by itself is refused
            rogue = Ed25519PrivateKey.generate()
            from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

            rogue_key = rogue.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            signed = add_device_signing_input(bob.relay_id, bob.account_id, rogue_key)
            await bob.expect_error(ErrorCode.AUTH_FAILED, "add_device", E.AddDeviceRequest(
                device_key=rogue_key, identity_sig=rogue.sign(signed),
                device_sig=rogue.sign(signed)))  # fmt: skip
            for c in (bob, bob2):
                await c.call(
                    "upload_key_packages", E.KeyPackageUpload(key_packages=(c.key_package(),))
                )
            claim = await alice.call("claim_key_packages", E.ClaimRequest(handle=bob.handle))
            assert isinstance(claim, E.ClaimResponse)
            assert {kp.device_id for kp in claim.key_packages} == {bob.device_id, bob2.device_id}
            gid = new_group_id()
            await alice.call("create_group", E.CreateGroupRequest(group_id=gid))
            ws = await bob2.ws()
            await ws.send_bytes(E.Subscribe(cursors=(), inbox=0).encode())
            assert E.StreamEvent.decode((await ws.receive(timeout=10)).data).kind == "ready"
            await alice.post(gid, fake_private_message(gid, CONTENT_COMMIT), position=0,
                             welcome=fake_welcome(),
                             welcome_devices=(bob.device_id, bob2.device_id))  # fmt: skip
            ev = E.StreamEvent.decode((await ws.receive(timeout=10)).data)
            assert ev.kind == "welcome" and ev.seq is not None
            for c in (bob, bob2):
                inbox = await c.call("fetch_inbox")
                assert isinstance(inbox, E.InboxPage) and len(inbox.entries) == 1
            # the commit then reaches bob's devices as a member
            msg = fake_private_message(gid)
            await alice.post(gid, msg)
            ev = E.StreamEvent.decode((await ws.receive(timeout=10)).data)
            assert (ev.kind, ev.message) == ("message", msg)
            await ws.close()

    asyncio.run(main())


def test_roles_leaving_and_the_last_member(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            alice, bob, carol = [await TestClient.register(http, relay.url) for _ in range(3)]
            gid = new_group_id()
            await alice.call("create_group", E.CreateGroupRequest(group_id=gid))
            await alice.expect_error(ErrorCode.GROUP_EXISTS, "create_group",
                                     E.CreateGroupRequest(group_id=gid))  # fmt: skip
            for c in (bob, carol):
                await c.call(
                    "upload_key_packages", E.KeyPackageUpload(key_packages=(c.key_package(),))
                )
            await alice.post(gid, fake_private_message(gid, CONTENT_COMMIT), position=0,
                             welcome=fake_welcome(),
                             welcome_devices=(bob.device_id, carol.device_id))  # fmt: skip
            # ownership moves to bob; alice becomes a moderator
            await alice.call("set_role", E.RoleRequest(account_id=bob.account_id, role="owner"),
                             group_id=gid)  # fmt: skip
            info = await carol.call("get_group", group_id=gid)
            assert isinstance(info, E.GroupInfoResponse)
            roles = {m.account_id: m.role for m in info.members}
            assert roles == {alice.account_id: "moderator", bob.account_id: "owner",
                             carol.account_id: "member"}  # fmt: skip
            await alice.expect_error(ErrorCode.FORBIDDEN, "set_role", E.RoleRequest(
                account_id=carol.account_id, role="moderator"), group_id=gid)  # fmt: skip
            # carol leaves: she no longer sees the group
            await carol.call("leave_group", group_id=gid)
            await carol.expect_error(ErrorCode.NOT_FOUND, "get_group", group_id=gid)
            # when the last member leaves, the group and its log are gone
            await alice.call("leave_group", group_id=gid)
            await bob.call("leave_group", group_id=gid)
            dave = await TestClient.register(http, relay.url)
            await dave.call("create_group", E.CreateGroupRequest(group_id=gid))
            page = await dave.call("fetch_messages", group_id=gid)
            assert page == E.MessagePage(messages=(), next=0, more=False)

    asyncio.run(main())
