"""Open invite links at a real relay: the sealed GroupInfo (newest epoch only, never
beyond the group's log), external commits that name the link, counted once and
sequenced like any handshake; a canary sweep of the relay's files; and the client's
calls (``client/invites.py``) through the generated transport. Builders in
``tests/support/links.py``; approval links in ``test_relay_links.py``.
"""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cove.protocol.crypto import OsRandom
from cove.protocol.invites import (
    LinkMode,
    open_decline,
    open_group_info,
    open_preview,
    seal_decline,
    seal_group_info,
)
from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.codes import ErrorCode
from cove.server.domain.links import pickup_verifier
from tests.integration.conftest import SHARED_LIMITS
from tests.support.canary import Canaries, scan_tree
from tests.support.links import (
    REVOKED,
    USED_UP,
    Made,
    create,
    expect,
    external_commit,
    join_request,
    make_link,
    organizer,
    organizer_code,
    post_body,
    register_with_link,
    run,
)
from tests.support.relay_process import (
    CONTENT_COMMIT,
    RelayProcess,
    TestClient,
    fake_public_message,
    new_group_id,
)

pytestmark = pytest.mark.integration


# -- open links ---------------------------------------------------------------------------


def test_open_link_group_info_and_external_commits(links_relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            org = await TestClient.register(
                http, links_relay.url, invite=organizer_code(links_relay)
            )
            gid = new_group_id()
            await org.call("create_group", E.CreateGroupRequest(group_id=gid))
            made = await create(links_relay, org, gid, mode=LinkMode.OPEN, max_uses=2)
            keys = made.link.keys()
            newcomer = await register_with_link(http, links_relay, made)
            access = K.LinkAccess(capability=made.capability)
            await newcomer.expect_error(ErrorCode.NOT_FOUND, "fetch_group_info", access,
                                        link_id=made.link.link_id)  # fmt: skip

            def sealed_at(epoch: int, link_id: bytes = made.link.link_id) -> bytes:
                return seal_group_info(
                    link_id,
                    keys.groupinfo_public,
                    epoch,
                    b"group info " + bytes([epoch]),
                    b"tree",
                    OsRandom(),
                )

            def put(epoch: int, position: int | None, link_id: bytes = made.link.link_id,
                    who: TestClient = org) -> Any:  # fmt: skip
                query = None if position is None else {"position": position}
                return who.call("put_group_info", sealed_at(epoch, link_id), query,
                                group_id=gid, link_id=made.link.link_id)  # fmt: skip

            # the upload names its log position
            await expect(ErrorCode.BAD_REQUEST,
                         "a GroupInfo upload names its log position (?position=)",
                         put(0, None))  # fmt: skip
            # epoch 0: the group has no commit yet; epoch 1 is beyond its log
            await put(0, 0)
            await expect(ErrorCode.BAD_REQUEST, "the GroupInfo's epoch is beyond the group's log",
                         put(1, 0))  # fmt: skip
            await org.post(gid, fake_public_message(gid, CONTENT_COMMIT, epoch=0), position=0)
            group = await org.call("get_group", group_id=gid)
            assert isinstance(group, E.GroupInfoResponse)
            commit_seq = group.handshake_seq
            # a position ahead of the log's handshakes, or one the epoch does not fit
            await expect(ErrorCode.BAD_REQUEST,
                         "the GroupInfo's log position is beyond the group's handshakes",
                         put(1, commit_seq + 1))  # fmt: skip
            await expect(ErrorCode.BAD_REQUEST,
                         "the GroupInfo's epoch is not the log's at its position",
                         put(1, 0))  # fmt: skip
            await put(1, commit_seq)
            await expect(ErrorCode.STALE_GROUP_INFO,
                         f"a sealed GroupInfo of epoch 1 at log position {commit_seq} is stored",
                         put(0, 0))  # fmt: skip
            await expect(ErrorCode.BAD_REQUEST, "the sealed GroupInfo names another link",
                         put(1, commit_seq, secrets.token_bytes(10)))  # fmt: skip
            # non-members cannot store one
            await expect(ErrorCode.NOT_FOUND, None, put(1, commit_seq, who=newcomer))
            got = await newcomer.call("fetch_group_info", access, link_id=made.link.link_id)
            assert isinstance(got, K.LinkGroupInfo)
            assert got.position == commit_seq
            assert open_group_info(got.sealed, keys) == (1, b"group info \x01", b"tree")
            # the stored row holds the position next to the sealed bytes
            with contextlib.closing(sqlite3.connect(links_relay.data / "relay.sqlite3")) as db:
                row = db.execute("SELECT epoch, position FROM link_group_info WHERE link_id = ?",
                                 (made.link.link_id,)).fetchone()  # fmt: skip
            assert row == (1, commit_seq)
            # a later handshake in epoch 1 (a proposal, say): a member who processed it
            # names its position; an older position of the same epoch is refused then
            await org.post(gid, fake_public_message(gid, CONTENT_COMMIT, epoch=1),
                           position=commit_seq)  # fmt: skip
            group = await org.call("get_group", group_id=gid)
            assert isinstance(group, E.GroupInfoResponse)
            later = group.handshake_seq
            assert later > commit_seq
            await expect(ErrorCode.BAD_REQUEST,
                         "the GroupInfo's epoch is not the log's at its position",
                         put(2, commit_seq))  # fmt: skip
            await put(1, later)
            await expect(ErrorCode.STALE_GROUP_INFO,
                         f"a sealed GroupInfo of epoch 1 at log position {later} is stored",
                         put(1, commit_seq))  # fmt: skip
            # the external commit names the link in its request; it is sequenced like any
            # handshake message (compare-and-set) and counted once accepted
            join = K.LinkJoinPost(capability=made.capability,
                                  idempotency_key=secrets.token_bytes(16),
                                  message=external_commit(gid, 1), position=0)  # fmt: skip
            await expect(
                ErrorCode.HANDSHAKE_CONFLICT,
                None,
                newcomer.call("join_by_link", join, link_id=made.link.link_id),
            )
            group = await org.call("get_group", group_id=gid)
            assert isinstance(group, E.GroupInfoResponse)
            join = K.LinkJoinPost(capability=made.capability, idempotency_key=join.idempotency_key,
                                  message=join.message, position=group.head_seq)  # fmt: skip
            first = await newcomer.call("join_by_link", join, link_id=made.link.link_id)
            assert isinstance(first, E.PostMessageResponse) and not first.duplicate
            again = await newcomer.call("join_by_link", join, link_id=made.link.link_id)
            assert again == E.PostMessageResponse(seq=first.seq, duplicate=True)
            mine = await newcomer.call("get_group", group_id=gid)
            assert isinstance(mine, E.GroupInfoResponse)
            assert (mine.my_role, mine.joined_seq) == ("member", first.seq)
            # a member commit (not an external one) is not a link join
            await expect(ErrorCode.INVALID_MLS_MESSAGE, None, newcomer.call(
                "join_by_link", K.LinkJoinPost(
                    capability=made.capability, idempotency_key=secrets.token_bytes(16),
                    message=fake_public_message(gid, CONTENT_COMMIT, 2), position=first.seq),
                link_id=made.link.link_id))  # fmt: skip
            # ... nor one for another group
            await expect(ErrorCode.INVALID_MLS_MESSAGE, None, newcomer.call(
                "join_by_link", K.LinkJoinPost(
                    capability=made.capability, idempotency_key=secrets.token_bytes(16),
                    message=external_commit(new_group_id(), 2), position=first.seq),
                link_id=made.link.link_id))  # fmt: skip
            second = await register_with_link(http, links_relay, made)
            last = K.LinkJoinPost(
                capability=made.capability, idempotency_key=secrets.token_bytes(16),
                message=external_commit(gid, 2), position=first.seq,
            )  # fmt: skip
            taken = await second.call("join_by_link", last, link_id=made.link.link_id)
            assert isinstance(taken, E.PostMessageResponse)
            # the link is used up now, yet a retry of the last join is answered again
            retry = await second.call("join_by_link", last, link_id=made.link.link_id)
            assert retry == E.PostMessageResponse(seq=taken.seq, duplicate=True)
            listing = await org.call("list_links", group_id=gid)
            assert isinstance(listing, K.LinkList)
            assert (listing.links[0].uses, listing.links[0].registrations) == (2, 2)
            third = await TestClient.register(http, links_relay.url,
                                              invite=organizer_code(links_relay))  # fmt: skip
            await expect(ErrorCode.LINK_USED_UP, USED_UP, third.call("join_by_link", K.LinkJoinPost(
                capability=made.capability, idempotency_key=secrets.token_bytes(16),
                message=external_commit(gid, 3), position=first.seq + 1),
                link_id=made.link.link_id))  # fmt: skip
            await expect(
                ErrorCode.LINK_USED_UP,
                USED_UP,
                third.call("fetch_group_info", access, link_id=made.link.link_id),
            )
            # an approval link admits no external commit
            approval = await create(links_relay, org, gid)
            await expect(ErrorCode.BAD_REQUEST, None, third.call("join_by_link", K.LinkJoinPost(
                capability=approval.capability, idempotency_key=secrets.token_bytes(16),
                message=external_commit(gid, 3), position=first.seq + 1),
                link_id=approval.link.link_id))  # fmt: skip
            # revoked: the stored GroupInfo is gone
            await org.call("revoke_link", group_id=gid, link_id=made.link.link_id)
            await expect(
                ErrorCode.LINK_REVOKED,
                REVOKED,
                newcomer.call("fetch_group_info", access, link_id=made.link.link_id),
            )
            await expect(ErrorCode.LINK_REVOKED, REVOKED, put(2, first.seq))

    run(main())


# -- nothing readable at the relay ----------------------------------------------------------


def test_canary_sweep_finds_no_link_secret_preview_answer_or_group_info(tmp_path: Path) -> None:
    canaries = Canaries()
    texts = {k: canaries.new(f"preview {k}") for k in ("name", "description", "rules",
                                                       "question", "welcome")}  # fmt: skip
    answer = canaries.new("join answer")
    decline_text = canaries.new("decline message")
    group_info = canaries.new("group info").encode()
    tree = canaries.new("ratchet tree").encode()
    secrets_found: list[bytes] = []
    with RelayProcess.start(tmp_path, registration="invite", limits=SHARED_LIMITS) as relay:

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                org = await TestClient.register(http, relay.url, invite=relay.invite)
                gid = new_group_id()
                await org.call("create_group", E.CreateGroupRequest(group_id=gid))
                made = await create(relay, org, gid, texts=texts)
                opened = await create(relay, org, gid, mode=LinkMode.OPEN, texts=texts)
                nia = await register_with_link(http, relay, made)
                pending = join_request(made, nia, answer)
                body, pickup_id, token = post_body(made, pending)
                await nia.call("post_join_request", body, link_id=made.link.link_id)
                page = await org.call("list_join_requests", group_id=gid,
                                      link_id=made.link.link_id)  # fmt: skip
                assert isinstance(page, K.JoinRequestPage)
                await org.call("remove_join_request", K.JoinRequestRemove(
                    request_id=page.requests[0].request_id,
                    decline=seal_decline(pending.request, decline_text, OsRandom())),
                    group_id=gid, link_id=made.link.link_id)  # fmt: skip
                await TestClient(http, relay.url).call(
                    "pickup_decline", K.DeclinePickup(pickup_id=pickup_id, pickup_token=token)
                )
                keys = opened.link.keys()
                await org.call("put_group_info", seal_group_info(
                    opened.link.link_id, keys.groupinfo_public, 0, group_info, tree, OsRandom()),
                    {"position": 0}, group_id=gid, link_id=opened.link.link_id)  # fmt: skip
                await nia.call("fetch_group_info", K.LinkAccess(capability=opened.capability),
                               link_id=opened.link.link_id)  # fmt: skip
                await nia.call("fetch_link_preview", K.LinkAccess(capability=made.capability),
                               link_id=made.link.link_id)  # fmt: skip
                for m in (made, opened):
                    k = m.link.keys()
                    fragment = m.link.url.split("#", 1)[1]
                    secrets_found.extend([
                        m.link.secret, m.link.secret.hex().encode(), fragment.encode(),
                        fragment.upper().encode(), k.capability, k.capability.hex().encode(),
                        k.preview_key, k.groupinfo_private, token, token.hex().encode(),
                    ])  # fmt: skip
                # the planted canaries are findable: the scan can fail
                (tmp_path / "planted").write_text(texts["rules"])

        run(main())
        hits_running = scan_tree(tmp_path, canaries.values())
    hits = scan_tree(tmp_path, canaries.values())
    assert ("planted", texts["rules"]) in hits
    assert [h for h in hits + hits_running if h[0] != "planted"] == []
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets_found:
                assert secret not in data, (path.name, len(secret))


# -- the client's calls (client/invites.py) through the generated transport --------------------


def test_client_invite_calls_through_the_transport(links_relay: RelayProcess) -> None:
    from cove.client import invites as ci
    from cove.client.transport import RelayError, RelayTransport

    assert ci.pickup_verifier(b"t" * 32) == pickup_verifier(b"t" * 32)  # both sides agree

    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            org = await organizer(http, links_relay)
            gid = new_group_id()
            await org.call("create_group", E.CreateGroupRequest(group_id=gid))
            link, preview, sealed = make_link(links_relay, org, gid)
            async with RelayTransport(links_relay.url, org.token) as mod, \
                    RelayTransport(links_relay.url) as anon:  # fmt: skip
                info = await ci.create_link(mod, gid, link, open_link=False,
                                            expires_at=preview.expires_at, max_uses=3,
                                            sealed_preview=sealed)  # fmt: skip
                assert info.link_id == link.link_id
                assert (await ci.list_links(mod, gid)).links == (info,)
                got = await ci.fetch_preview(anon, link)
                assert open_preview(got.preview, link).inviter_handle == org.handle
                made = Made(link, preview, sealed, info)
                nia = await register_with_link(http, links_relay, made)
                pending = join_request(made, nia)
                async with RelayTransport(links_relay.url, nia.token) as her:
                    accepted = await ci.post_join_request(her, link, pending)
                assert accepted.position == 1
                assert (await ci.pickup_decline(anon, pending)).state == "pending"
                [entry] = await ci.list_join_requests(mod, gid, link.link_id)
                assert entry.sealed == pending.sealed
                await ci.remove_join_request(
                    mod,
                    gid,
                    link.link_id,
                    entry.request_id,
                    seal_decline(pending.request, "Sorry", OsRandom()),
                )
                status = await ci.pickup_decline(anon, pending)
                assert (
                    status.decline is not None and open_decline(status.decline, pending) == "Sorry"
                )
                await ci.revoke_link(mod, gid, link.link_id)
                try:
                    await ci.fetch_preview(anon, link)
                except RelayError as exc:
                    assert exc.code is ErrorCode.LINK_REVOKED
                    assert str(exc) == f"link_revoked: {REVOKED}"
                else:
                    raise AssertionError("a revoked link's preview was served")
                # open link: GroupInfo and the external commit
                open_link, open_preview_, open_sealed = make_link(
                    links_relay, org, gid, mode=LinkMode.OPEN
                )
                await ci.create_link(mod, gid, open_link, open_link=True,
                                     expires_at=open_preview_.expires_at, max_uses=1,
                                     sealed_preview=open_sealed)  # fmt: skip
                keys = open_link.keys()
                await ci.put_group_info(
                    mod,
                    gid,
                    open_link.link_id,
                    seal_group_info(
                        open_link.link_id, keys.groupinfo_public, 0, b"gi", b"tree", OsRandom()
                    ),
                    0,
                )
                async with RelayTransport(links_relay.url, nia.token) as her:
                    fetched = await ci.fetch_group_info(her, open_link)
                    assert fetched.position == 0
                    assert open_group_info(fetched.sealed, keys) == (0, b"gi", b"tree")
                    answer = await ci.join_by_link(her, open_link, external_commit(gid), 0)
                assert not answer.duplicate
                assert (await ci.list_links(mod, gid)).links[-1].uses == 1

    run(main())
