"""The relay's core, end to end against a real ``cove-relay serve`` process:
accounts and login, KeyPackages, groups, ordered posting with compare-and-set
handshakes and idempotency, Welcome inboxes, fetch by cursor, WebSocket push
and resume."""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import pytest

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import limit
from tests.support.relay_process import (
    CONTENT_COMMIT,
    CONTENT_PROPOSAL,
    CallError,
    RelayProcess,
    TestClient,
    fake_private_message,
    fake_public_message,
    fake_welcome,
    new_group_id,
)

pytestmark = pytest.mark.integration


async def _clients(http: aiohttp.ClientSession, relay: RelayProcess, n: int) -> list[TestClient]:
    return [await TestClient.register(http, relay.url) for _ in range(n)]


async def _group_with(owner: TestClient, *others: TestClient) -> tuple[bytes, int]:
    """Create a group and add ``others`` by one commit with a Welcome; (group id, commit seq)."""
    gid = new_group_id()
    await owner.call("create_group", E.CreateGroupRequest(group_id=gid))
    if not others:
        return gid, 0
    for o in others:
        await o.call("upload_key_packages", E.KeyPackageUpload(key_packages=(o.key_package(),)))
    devices = []
    for o in others:
        claim = await owner.call("claim_key_packages", E.ClaimRequest(handle=o.handle))
        assert isinstance(claim, E.ClaimResponse)
        devices.extend(kp.device_id for kp in claim.key_packages)
    resp = await owner.post(
        gid, fake_private_message(gid, CONTENT_COMMIT), position=0,
        welcome=fake_welcome(), welcome_devices=tuple(devices),
    )  # fmt: skip
    return gid, resp.seq


async def _fetch_all(client: TestClient, gid: bytes, after: int = 0) -> list[E.LoggedMessage]:
    out: list[E.LoggedMessage] = []
    while True:
        page = await client.call("fetch_messages", group_id=gid, query={"after": after})
        assert isinstance(page, E.MessagePage)
        out.extend(page.messages)
        after = page.next
        if not page.more:
            return out


def test_register_login_logout(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            alice = await TestClient.register(http, relay.url)
            me = await alice.call("whoami")
            assert isinstance(me, E.AccountInfo)
            assert me.handle == alice.handle and me.identity_key == alice.identity_key
            assert [d.device_key for d in me.devices] == [alice.device_key]
            # the same handle or keys cannot be registered twice
            with pytest.raises(CallError) as err:
                await TestClient.register(http, relay.url, alice.handle)
            assert err.value.code is ErrorCode.HANDLE_TAKEN
            # a login signed by another key fails; a challenge is single-use
            ch = await alice.call("challenge")
            assert isinstance(ch, E.ChallengeResponse)
            req = E.LoginRequest(handle=alice.handle, device_key=alice.device_key,
                                 challenge=ch.challenge, signature=b"\0" * 64)  # fmt: skip
            await alice.expect_error(ErrorCode.AUTH_FAILED, "login", req)
            await alice.expect_error(ErrorCode.AUTH_FAILED, "login", req)
            await alice.call("logout")
            await alice.expect_error(ErrorCode.UNAUTHORIZED, "whoami")
            await alice.login()
            assert isinstance(await alice.call("whoami"), E.AccountInfo)

    asyncio.run(main())


def test_registration_needs_an_invite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with RelayProcess.start(tmp_path) as relay:
        extra = relay.cli("invite", "create", "--uses", "2", "--expires", "1h")
        code2 = extra.strip().splitlines()[-1]

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                with pytest.raises(CallError) as err:
                    await TestClient.register(http, relay.url)
                assert err.value.code is ErrorCode.INVALID_INVITE
                with pytest.raises(CallError) as err:
                    await TestClient.register(http, relay.url, invite="cove-not-a-code")
                assert err.value.code is ErrorCode.INVALID_INVITE
                first = await TestClient.register(http, relay.url, invite=relay.invite)
                with pytest.raises(CallError) as err:
                    await TestClient.register(http, relay.url, invite=relay.invite)
                assert err.value.code is ErrorCode.INVALID_INVITE
                # without an invite, a taken handle is not revealed
                with pytest.raises(CallError) as err:
                    await TestClient.register(http, relay.url, first.handle)
                assert err.value.code is ErrorCode.INVALID_INVITE
                # a registration refused for a taken handle does not use up the invite
                with pytest.raises(CallError) as err:
                    await TestClient.register(http, relay.url, first.handle, invite=code2)
                assert err.value.code is ErrorCode.HANDLE_TAKEN
                await TestClient.register(http, relay.url, invite=code2)
                await TestClient.register(http, relay.url, invite=code2)
                with pytest.raises(CallError):
                    await TestClient.register(http, relay.url, invite=code2)

        asyncio.run(main())
        status = relay.cli("status")
        assert "accounts: 3" in status


def test_key_packages_one_time_then_last_resort(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            alice, bob = await _clients(http, relay, 2)
            kps = (bob.key_package(), bob.key_package())
            last = bob.key_package()
            count = await bob.call(
                "upload_key_packages", E.KeyPackageUpload(key_packages=kps, last_resort=last)
            )
            assert count == E.KeyPackageCount(one_time=2, last_resort=True)
            got = []
            for _ in range(4):
                claim = await alice.call("claim_key_packages", E.ClaimRequest(handle=bob.handle))
                assert isinstance(claim, E.ClaimResponse)
                assert claim.account_id == bob.account_id
                assert claim.identity_key == bob.identity_key
                (kp,) = claim.key_packages
                assert kp.device_id == bob.device_id and kp.device_key == bob.device_key
                got.append((kp.key_package, kp.last_resort))
            assert sorted(g[0] for g in got[:2]) == sorted(kps)
            assert not got[0][1] and not got[1][1]
            assert got[2] == (last, True) and got[3] == (last, True)
            assert await bob.call("count_key_packages") == E.KeyPackageCount(
                one_time=0, last_resort=True
            )
            # not a KeyPackage
            bad = E.KeyPackageUpload(key_packages=(fake_welcome(),))
            await bob.expect_error(ErrorCode.INVALID_MLS_MESSAGE, "upload_key_packages", bad)
            await alice.expect_error(ErrorCode.NOT_FOUND, "claim_key_packages",
                                     E.ClaimRequest(handle="nobody-here"))  # fmt: skip
            carol = await TestClient.register(http, relay.url)
            await alice.expect_error(ErrorCode.NO_KEY_PACKAGE, "claim_key_packages",
                                     E.ClaimRequest(handle=carol.handle))  # fmt: skip

    asyncio.run(main())


def test_concurrent_claims_get_distinct_key_packages(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            target, *adders = await _clients(http, relay, 6)
            kps = tuple(target.key_package() for _ in range(5))
            await target.call("upload_key_packages", E.KeyPackageUpload(key_packages=kps))
            claims = await asyncio.gather(*(
                a.call("claim_key_packages", E.ClaimRequest(handle=target.handle)) for a in adders
            ))  # fmt: skip
            got = [c.key_packages[0].key_package for c in claims]  # type: ignore[union-attr]
            assert sorted(got) == sorted(kps)

    asyncio.run(main())


def test_key_package_claims_are_rate_limited(relay: RelayProcess) -> None:
    per_target = limit("kp_claims_per_target")
    per_requester = limit("kp_claims_per_requester")

    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            adder, victim = await _clients(http, relay, 2)
            await victim.call("upload_key_packages", E.KeyPackageUpload(
                key_packages=tuple(victim.key_package() for _ in range(3)),
                last_resort=victim.key_package(),
            ))  # fmt: skip
            for _ in range(per_target):
                await adder.call("claim_key_packages", E.ClaimRequest(handle=victim.handle))
            err = await adder.expect_error(ErrorCode.RATE_LIMITED, "claim_key_packages",
                                           E.ClaimRequest(handle=victim.handle))  # fmt: skip
            assert err.body.retry_after and err.body.retry_after > 0
            # a second requester is also held back by the per-target limit
            other = await TestClient.register(http, relay.url)
            await other.expect_error(ErrorCode.RATE_LIMITED, "claim_key_packages",
                                     E.ClaimRequest(handle=victim.handle))  # fmt: skip
            # per requester: spread over fresh targets
            spender = await TestClient.register(http, relay.url)
            targets = await _clients(http, relay, per_requester // per_target + 1)
            for t in targets:
                await t.call(
                    "upload_key_packages",
                    E.KeyPackageUpload(key_packages=(), last_resort=t.key_package()),
                )
            done = 0
            for t in targets:
                for _ in range(per_target):
                    if done == per_requester:
                        break
                    await spender.call("claim_key_packages", E.ClaimRequest(handle=t.handle))
                    done += 1
            await spender.expect_error(ErrorCode.RATE_LIMITED, "claim_key_packages",
                                       E.ClaimRequest(handle=targets[-1].handle))  # fmt: skip

    asyncio.run(main())


def test_group_log_is_totally_ordered(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            alice, bob, carol = await _clients(http, relay, 3)
            gid, commit_seq = await _group_with(alice, bob, carol)
            assert commit_seq == 1
            info = await alice.call("get_group", group_id=gid)
            assert isinstance(info, E.GroupInfoResponse)
            assert {m.handle: m.role for m in info.members} == {
                alice.handle: "owner",
                bob.handle: "member",
                carol.handle: "member",
            }
            sent: dict[int, bytes] = {}

            async def burst(c: TestClient) -> None:
                for _ in range(15):
                    msg = fake_private_message(gid)
                    resp = await c.post(gid, msg)
                    assert not resp.duplicate
                    sent[resp.seq] = msg

            await asyncio.gather(burst(alice), burst(bob), burst(carol))
            assert sorted(sent) == list(range(2, 47))
            log = await _fetch_all(bob, gid, after=commit_seq)
            assert [m.seq for m in log] == list(range(2, 47))
            assert all(sent[m.seq] == m.message for m in log)
            # paging by cursor
            page = await alice.call("fetch_messages", group_id=gid, query={"after": 10, "limit": 5})
            assert isinstance(page, E.MessagePage)
            assert [m.seq for m in page.messages] == [11, 12, 13, 14, 15]
            assert page.next == 15 and page.more
            groups = await bob.call("list_groups")
            assert isinstance(groups, E.GroupList)
            (summary,) = [g for g in groups.groups if g.group_id == gid]
            assert summary.head_seq == 46 and summary.handshake_seq == 1
            # a message for another group is refused
            other = fake_private_message(new_group_id())
            await alice.expect_error(ErrorCode.INVALID_MLS_MESSAGE, "post_message",
                                     E.PostMessageRequest(idempotency_key=secrets.token_bytes(16),
                                                          message=other), group_id=gid)  # fmt: skip

    asyncio.run(main())


def test_idempotent_retries(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            (alice,) = await _clients(http, relay, 1)
            gid, _ = await _group_with(alice)
            key = secrets.token_bytes(16)
            msg = fake_private_message(gid)
            first = await alice.post(gid, msg, key=key)
            await alice.post(gid, fake_private_message(gid))
            again = await alice.post(gid, msg, key=key)
            assert again.seq == first.seq and again.duplicate and not first.duplicate
            await alice.expect_error(ErrorCode.IDEMPOTENCY_MISMATCH, "post_message",
                                     E.PostMessageRequest(idempotency_key=key,
                                                          message=fake_private_message(gid)),
                                     group_id=gid)  # fmt: skip
            assert len(await _fetch_all(alice, gid)) == 2
            # a handshake retried after it was accepted is answered again, not a conflict
            ckey = secrets.token_bytes(16)
            commit = fake_private_message(gid, CONTENT_COMMIT)
            c1 = await alice.post(gid, commit, position=2, key=ckey)
            c2 = await alice.post(gid, commit, position=2, key=ckey)
            assert c1.seq == c2.seq == 3 and c2.duplicate

    asyncio.run(main())


def test_concurrent_commits_exactly_one_wins(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            members = await _clients(http, relay, 10)
            alice, bob, carol = members[:3]
            gid, _ = await _group_with(alice, *members[1:])
            await bob.post(gid, fake_private_message(gid))  # application messages need no position
            head = 2
            # ten members commit from the same position at once (check D4)
            outcomes = await asyncio.gather(
                *(c.post(gid, fake_private_message(gid, CONTENT_COMMIT, epoch=1), position=head)
                  for c in members),
                return_exceptions=True,
            )  # fmt: skip
            wins = [o for o in outcomes if isinstance(o, E.PostMessageResponse)]
            losses = [o for o in outcomes if isinstance(o, CallError)]
            assert len(wins) == 1 and len(losses) == 9, outcomes
            winner_seq = wins[0].seq
            for loss in losses:
                assert loss.code is ErrorCode.HANDSHAKE_CONFLICT and loss.status == 409
                assert loss.body.position == winner_seq
            loser = members[next(i for i, o in enumerate(outcomes) if isinstance(o, CallError))]
            # a stale position is refused for proposals too
            await loser.expect_error(
                ErrorCode.HANDSHAKE_CONFLICT, "post_message",
                E.PostMessageRequest(idempotency_key=secrets.token_bytes(16), position=head,
                                     message=fake_public_message(gid, CONTENT_PROPOSAL, 1)),
                group_id=gid,
            )  # fmt: skip
            # the loser syncs to the winner's position and retries: accepted
            retry = await loser.post(gid, fake_private_message(gid, CONTENT_COMMIT, epoch=2),
                                     position=winner_seq)  # fmt: skip
            assert retry.seq == winner_seq + 1
            # a broken commit (garbage ciphertext) is sequenced like any other and
            # locks nobody: the next poster names a position after it
            broken = await carol.post(gid, fake_private_message(gid, CONTENT_COMMIT, 3, b"junk"),
                                      position=retry.seq)  # fmt: skip
            after = await alice.post(gid, fake_private_message(gid, CONTENT_COMMIT, epoch=3),
                                     position=broken.seq)  # fmt: skip
            assert after.seq == broken.seq + 1
            # a handshake message without a position, or beyond the log, is refused
            await alice.expect_error(ErrorCode.BAD_REQUEST, "post_message", E.PostMessageRequest(
                idempotency_key=secrets.token_bytes(16),
                message=fake_private_message(gid, CONTENT_COMMIT)), group_id=gid)  # fmt: skip
            await alice.expect_error(ErrorCode.BAD_REQUEST, "post_message", E.PostMessageRequest(
                idempotency_key=secrets.token_bytes(16), position=after.seq + 5,
                message=fake_private_message(gid, CONTENT_COMMIT)), group_id=gid)  # fmt: skip

    asyncio.run(main())


def test_welcome_goes_to_the_invited_device_when_its_commit_is_accepted(
    relay: RelayProcess,
) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            alice, bob, carol = await _clients(http, relay, 3)
            gid, _ = await _group_with(alice)
            await alice.post(gid, fake_private_message(gid))  # before bob joins
            await bob.call(
                "upload_key_packages", E.KeyPackageUpload(key_packages=(bob.key_package(),))
            )
            await carol.call(
                "upload_key_packages", E.KeyPackageUpload(key_packages=(carol.key_package(),))
            )
            welcome = fake_welcome()
            claim = await alice.call("claim_key_packages", E.ClaimRequest(handle=bob.handle))
            assert isinstance(claim, E.ClaimResponse)
            # a commit that loses the race releases no Welcome and adds nobody
            await alice.post(gid, fake_private_message(gid, CONTENT_COMMIT), position=1)
            await alice.expect_error(ErrorCode.HANDSHAKE_CONFLICT, "post_message",
                E.PostMessageRequest(idempotency_key=secrets.token_bytes(16),
                                     message=fake_private_message(gid, CONTENT_COMMIT),
                                     position=1, welcome=welcome,
                                     welcome_devices=(bob.device_id,)), group_id=gid)  # fmt: skip
            inbox = await bob.call("fetch_inbox")
            assert inbox == E.InboxPage(entries=())
            await bob.expect_error(ErrorCode.NOT_FOUND, "get_group", group_id=gid)
            # the accepted commit releases it
            resp = await alice.post(
                gid,
                fake_private_message(gid, CONTENT_COMMIT),
                position=2,
                welcome=welcome,
                welcome_devices=(bob.device_id,),
            )
            inbox = await bob.call("fetch_inbox")
            assert isinstance(inbox, E.InboxPage)
            (entry,) = inbox.entries
            assert entry.group_id == gid and entry.commit_seq == resp.seq
            assert entry.welcome == welcome
            info = await bob.call("get_group", group_id=gid)
            assert isinstance(info, E.GroupInfoResponse)
            assert info.my_role == "member" and info.joined_seq == resp.seq
            # bob reads only what came after the commit that added him
            await alice.post(gid, fake_private_message(gid))
            assert [m.seq for m in await _fetch_all(bob, gid)] == [resp.seq + 1]
            await bob.call("ack_inbox", E.InboxAck(up_to=entry.inbox_id))
            assert await bob.call("fetch_inbox") == E.InboxPage(entries=())
            assert await carol.call("fetch_inbox") == E.InboxPage(entries=())
            # welcomes only with a commit
            await alice.expect_error(ErrorCode.BAD_REQUEST, "post_message",
                E.PostMessageRequest(idempotency_key=secrets.token_bytes(16),
                                     message=fake_private_message(gid), welcome=welcome,
                                     welcome_devices=(carol.device_id,)), group_id=gid)  # fmt: skip

    asyncio.run(main())


async def _next_event(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10) -> E.StreamEvent:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.BINARY, msg
    return E.StreamEvent.decode(msg.data)


def test_websocket_push_and_resume(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            alice, bob = await _clients(http, relay, 2)
            gid, commit_seq = await _group_with(alice, bob)
            ws = await bob.ws()
            await ws.send_bytes(E.Subscribe(cursors=(E.Cursor(group_id=gid, seq=commit_seq),),
                                            inbox=0).encode())  # fmt: skip
            welcome = await _next_event(ws)
            assert welcome.kind == "welcome" and welcome.seq
            assert (await _next_event(ws)).kind == "ready"
            m1 = fake_private_message(gid)
            r1 = await alice.post(gid, m1)
            ev = await _next_event(ws)
            assert (ev.kind, ev.group_id, ev.seq, ev.message) == ("message", gid, r1.seq, m1)
            await ws.close()
            missed = [fake_private_message(gid) for _ in range(3)]
            for m in missed:
                await alice.post(gid, m)
            ws = await bob.ws()
            await ws.send_bytes(E.Subscribe(cursors=(E.Cursor(group_id=gid, seq=r1.seq),)).encode())
            got = [await _next_event(ws) for _ in range(3)]
            assert [e.message for e in got] == missed
            assert [e.seq for e in got] == [r1.seq + 1, r1.seq + 2, r1.seq + 3]
            assert (await _next_event(ws)).kind == "ready"
            live = fake_private_message(gid)
            await alice.post(gid, live)
            assert (await _next_event(ws)).message == live
            # a cursor for a group bob is not in answers "removed", existing or not
            await ws.send_bytes(E.Subscribe(cursors=(E.Cursor(group_id=new_group_id(), seq=0),
                                                     )).encode())  # fmt: skip
            assert (await _next_event(ws)).kind == "removed"
            assert (await _next_event(ws)).kind == "ready"
            await ws.close()

    asyncio.run(main())


def test_websocket_connection_limit(relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            (alice,) = await _clients(http, relay, 1)
            cap = limit("ws_connections_per_account")
            sockets = [await alice.ws() for _ in range(cap)]
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await alice.ws()
            assert err.value.status == 429
            for ws in sockets:
                await ws.close()
            # freed again (poll: the relay notices closes asynchronously)
            for _ in range(100):
                try:
                    ws = await alice.ws()
                    await ws.close()
                    break
                except aiohttp.WSServerHandshakeError:
                    await asyncio.sleep(0.05)
            else:
                raise AssertionError("connections were not released")

    asyncio.run(main())
