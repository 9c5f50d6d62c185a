"""Invite links at a real relay: moderators create, list and revoke them; the holder of
a link reads its sealed preview, registers with it (no relay invite code), queues a
sealed join request and picks up a sealed decline; an open link's sealed GroupInfo
and the external commit that names the link; caps, expiry and revocation with their
typed errors; and a canary sweep of the relay's files.

Every sealed blob is built with ``cove.protocol.invites`` (the real constructions).
Expiry is reached by moving a link's ``expires_at`` into the past in the relay's
database file (the relay reads it on every request), never by waiting.

Open links, the canary sweep and the client's calls: ``test_relay_links_open.py``;
builders: ``tests/support/links.py``.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from pathlib import Path

import aiohttp
import msgpack
import pytest

from cove.protocol.crypto import OsRandom
from cove.protocol.invites import (
    LinkMode,
    open_decline,
    open_preview,
    seal_decline,
)
from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.auth import registration_signing_input
from cove.protocol.wire.codes import ErrorCode
from tests.integration.conftest import SHARED_LIMITS
from tests.support.links import (
    EXPIRED,
    REVOKED,
    USED_UP,
    create,
    expect,
    external_commit,
    join_request,
    make_link,
    organizer_code,
    post_body,
    register_with_link,
    run,
    set_expiry,
)
from tests.support.relay_process import (
    CONTENT_COMMIT,
    RelayProcess,
    TestClient,
    fake_public_message,
    fake_welcome,
    new_group_id,
    unique_handle,
)

pytestmark = pytest.mark.integration


# -- management ------------------------------------------------------------------------


def test_moderators_create_list_and_revoke_links(links_relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            org = await TestClient.register(
                http, links_relay.url, invite=organizer_code(links_relay)
            )
            gid = new_group_id()
            await org.call("create_group", E.CreateGroupRequest(group_id=gid))
            made = await create(links_relay, org, gid)
            assert (made.info.mode, made.info.uses, made.info.registrations) == ("approval", 0, 0)
            assert made.info.max_uses == 3 and made.info.revoked_at is None
            # a second link with the same id is refused
            await expect(ErrorCode.LINK_EXISTS, "an invite link with this id exists", org.call(
                "create_link", K.LinkCreateRequest(
                    link_id=made.link.link_id, capability_verifier=bytes(32), mode="open",
                    expires_at=made.preview.expires_at, max_uses=1, preview=made.sealed_preview,
                ), group_id=gid))  # fmt: skip
            # an expiry in the past, or beyond link_lifetime, is refused
            for expires_at in (int(time.time()) - 1, int(time.time()) + 400 * 86400):
                link, _, sealed = make_link(links_relay, org, gid)
                await expect(ErrorCode.BAD_REQUEST, None, org.call("create_link",
                    K.LinkCreateRequest(link_id=link.link_id,
                                        capability_verifier=link.keys().capability_verifier,
                                        mode="approval", expires_at=expires_at, max_uses=1,
                                        preview=sealed), group_id=gid))  # fmt: skip
            # a plain member may neither create nor list links (the relay restricts)
            bob = await register_with_link(http, links_relay, made)
            await org.post(gid, fake_public_message(gid, CONTENT_COMMIT), position=0,
                           welcome=fake_welcome(), welcome_devices=(bob.device_id,))  # fmt: skip
            await bob.expect_error(ErrorCode.FORBIDDEN, "list_links", group_id=gid)
            link2, preview2, sealed2 = make_link(links_relay, org, gid)
            await bob.expect_error(ErrorCode.FORBIDDEN, "create_link", K.LinkCreateRequest(
                link_id=link2.link_id, capability_verifier=link2.keys().capability_verifier,
                mode="approval", expires_at=preview2.expires_at, max_uses=1, preview=sealed2,
            ), group_id=gid)  # fmt: skip
            await bob.expect_error(ErrorCode.FORBIDDEN, "revoke_link", group_id=gid,
                                   link_id=made.link.link_id)  # fmt: skip
            # a stranger sees no group
            stranger = await register_with_link(http, links_relay, made)
            await stranger.expect_error(ErrorCode.NOT_FOUND, "list_links", group_id=gid)
            listing = await org.call("list_links", group_id=gid)
            assert isinstance(listing, K.LinkList)
            assert [x.link_id for x in listing.links] == [made.link.link_id]
            assert listing.links[0].registrations == 2
            revoked = await org.call("revoke_link", group_id=gid, link_id=made.link.link_id)
            assert isinstance(revoked, K.LinkInfo) and revoked.revoked_at is not None
            await expect(ErrorCode.LINK_REVOKED, REVOKED, org.call(
                "fetch_link_preview", K.LinkAccess(capability=made.capability),
                link_id=made.link.link_id))  # fmt: skip
            # a wrong capability learns nothing, not even that the link was revoked
            await expect(ErrorCode.NOT_FOUND, "no such invite link", org.call(
                "fetch_link_preview", K.LinkAccess(capability=bytes(32)),
                link_id=made.link.link_id))  # fmt: skip
            await expect(ErrorCode.NOT_FOUND, "no such invite link", org.call(
                "fetch_link_preview", K.LinkAccess(capability=made.capability),
                link_id=secrets.token_bytes(10)))  # fmt: skip

    run(main())


def test_preview_registration_and_caps(links_relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            org = await TestClient.register(
                http, links_relay.url, invite=organizer_code(links_relay)
            )
            gid = new_group_id()
            await org.call("create_group", E.CreateGroupRequest(group_id=gid))
            made = await create(links_relay, org, gid, max_uses=2)
            anon = TestClient(http, links_relay.url)
            got = await anon.call("fetch_link_preview", K.LinkAccess(capability=made.capability),
                                  link_id=made.link.link_id)  # fmt: skip
            assert isinstance(got, K.LinkPreviewResponse)
            assert got.preview == made.sealed_preview
            assert (got.mode, got.expires_at) == ("approval", made.preview.expires_at)
            assert open_preview(got.preview, made.link).group_name == "Living with lupus"
            # without a code or a link, registration is refused; a wrong capability too
            await expect(
                ErrorCode.NOT_FOUND,
                "no such invite link",
                register_with_link(http, links_relay, made, capability=bytes(32)),
            )
            a = await register_with_link(http, links_relay, made)
            b = await register_with_link(http, links_relay, made)
            assert a.account_id != b.account_id
            await expect(
                ErrorCode.LINK_USED_UP, USED_UP, register_with_link(http, links_relay, made)
            )
            # the account rows hold nothing about the link
            db = sqlite3.connect(links_relay.data / "relay.sqlite3")
            try:
                cols = [r[1] for r in db.execute("PRAGMA table_info(accounts)")]
                rows = db.execute("SELECT * FROM accounts WHERE account_id = ?",
                                  (a.account_id,)).fetchall()  # fmt: skip
            finally:
                db.close()
            assert cols == ["account_id", "handle", "identity_key", "created_at"]
            assert made.link.link_id not in b"".join(
                v if isinstance(v, bytes) else str(v).encode() for v in rows[0]
            )
            # expiry, by the relay's clock
            made2 = await create(links_relay, org, gid)
            set_expiry(links_relay, made2.link.link_id, int(time.time()) - 1)
            await expect(ErrorCode.LINK_EXPIRED, EXPIRED, anon.call(
                "fetch_link_preview", K.LinkAccess(capability=made2.capability),
                link_id=made2.link.link_id))  # fmt: skip
            await expect(
                ErrorCode.LINK_EXPIRED, EXPIRED, register_with_link(http, links_relay, made2)
            )
            # an invite code and a link at once are refused
            both = TestClient(http, links_relay.url, unique_handle("both"))
            signed = registration_signing_input(
                (await both.call("health")).relay_id,  # type: ignore[union-attr]
                both.handle, both.identity_key, both.device_key)  # fmt: skip
            await expect(ErrorCode.BAD_REQUEST, None, both.call("register", E.RegisterRequest(
                handle=both.handle, identity_key=both.identity_key, device_key=both.device_key,
                identity_sig=both.identity.sign(signed), device_sig=both.device.sign(signed),
                invite=organizer_code(links_relay), link_id=made.link.link_id,
                link_capability=made.capability)))  # fmt: skip

    run(main())


# -- approval links -------------------------------------------------------------------------


def test_join_requests_queue_decline_and_pickup(links_relay: RelayProcess) -> None:
    async def main() -> None:
        async with aiohttp.ClientSession() as http:
            org = await TestClient.register(
                http, links_relay.url, invite=organizer_code(links_relay)
            )
            gid = new_group_id()
            await org.call("create_group", E.CreateGroupRequest(group_id=gid))
            made = await create(links_relay, org, gid, max_uses=3)
            nia = await register_with_link(http, links_relay, made)
            pending = join_request(made, nia)
            body, pickup_id, token = post_body(made, pending)
            # the capability gates the post
            await expect(ErrorCode.NOT_FOUND, "no such invite link", nia.call(
                "post_join_request", K.JoinRequestPost(
                    capability=bytes(32), sealed=body.sealed, pickup_id=body.pickup_id,
                    pickup_verifier=body.pickup_verifier), link_id=made.link.link_id))  # fmt: skip
            # a request sealed for another link is refused
            other = await create(links_relay, org, gid)
            stray = join_request(other, nia)
            await expect(ErrorCode.BAD_REQUEST, "the join request names another link", nia.call(
                "post_join_request", K.JoinRequestPost(
                    capability=made.capability, sealed=stray.sealed, pickup_id=body.pickup_id,
                    pickup_verifier=body.pickup_verifier), link_id=made.link.link_id))  # fmt: skip
            accepted = await nia.call("post_join_request", body, link_id=made.link.link_id)
            assert isinstance(accepted, K.JoinRequestAccepted) and accepted.position == 1
            # a retry (same pickup id, same bytes) is answered again, not counted twice
            again = await nia.call("post_join_request", body, link_id=made.link.link_id)
            assert again == accepted
            await expect(ErrorCode.BAD_REQUEST, "this pickup id is taken; derive a fresh one",
                         nia.call("post_join_request", K.JoinRequestPost(
                             capability=made.capability, sealed=join_request(made, nia).sealed,
                             pickup_id=pickup_id, pickup_verifier=body.pickup_verifier),
                             link_id=made.link.link_id))  # fmt: skip
            status = await TestClient(http, links_relay.url).call(
                "pickup_decline", K.DeclinePickup(pickup_id=pickup_id, pickup_token=token)
            )
            assert status == K.DeclineStatus(state="pending")
            # a wrong token learns nothing
            status = await TestClient(http, links_relay.url).call(
                "pickup_decline", K.DeclinePickup(pickup_id=pickup_id,
                                                  pickup_token=bytes(32)))  # fmt: skip
            assert status == K.DeclineStatus(state="none")
            # only the group's moderators see the queue
            await nia.expect_error(ErrorCode.NOT_FOUND, "list_join_requests", group_id=gid,
                                   link_id=made.link.link_id)  # fmt: skip
            page = await org.call("list_join_requests", group_id=gid, link_id=made.link.link_id)
            assert isinstance(page, K.JoinRequestPage) and not page.more
            [entry] = page.requests
            assert (entry.request_id, entry.position, entry.device_id, entry.sealed) == (
                accepted.request_id,
                1,
                nia.device_id,
                pending.sealed,
            )
            listing = await org.call("list_links", group_id=gid)
            assert isinstance(listing, K.LinkList)
            [info] = [x for x in listing.links if x.link_id == made.link.link_id]
            assert (info.uses, info.waiting, info.registrations) == (1, 1, 1)
            # the moderator declines with a sealed message; the requester picks it up
            sealed_decline = seal_decline(pending.request, "Not this time, sorry.", OsRandom())
            await org.call("remove_join_request", K.JoinRequestRemove(
                request_id=entry.request_id, decline=sealed_decline),
                group_id=gid, link_id=made.link.link_id)  # fmt: skip
            status = await TestClient(http, links_relay.url).call(
                "pickup_decline", K.DeclinePickup(pickup_id=pickup_id, pickup_token=token)
            )
            assert isinstance(status, K.DeclineStatus) and status.state == "declined"
            assert status.decline is not None
            assert open_decline(status.decline, pending) == "Not this time, sorry."
            await org.expect_error(ErrorCode.NOT_FOUND, "remove_join_request",
                                   K.JoinRequestRemove(request_id=entry.request_id),
                                   group_id=gid, link_id=made.link.link_id)  # fmt: skip
            # uses count queued requests: two more, then the link is used up
            for _ in range(2):
                body2, _, _ = post_body(made, join_request(made, nia))
                await nia.call("post_join_request", body2, link_id=made.link.link_id)
            body3, _, _ = post_body(made, join_request(made, nia))
            await expect(
                ErrorCode.LINK_USED_UP,
                USED_UP,
                nia.call("post_join_request", body3, link_id=made.link.link_id),
            )
            # approving: the moderator's Add names the requester's device; then removes it
            page = await org.call("list_join_requests", group_id=gid, link_id=made.link.link_id)
            assert isinstance(page, K.JoinRequestPage) and len(page.requests) == 2
            await org.post(
                gid,
                fake_public_message(gid, CONTENT_COMMIT),
                position=0,
                welcome=fake_welcome(),
                welcome_devices=(page.requests[0].device_id,),
            )
            for r in page.requests:
                await org.call("remove_join_request", K.JoinRequestRemove(request_id=r.request_id),
                               group_id=gid, link_id=made.link.link_id)  # fmt: skip
            group = await nia.call("get_group", group_id=gid)
            assert isinstance(group, E.GroupInfoResponse) and group.my_role == "member"
            # revocation deletes the queue
            body4, _, _ = post_body(other, join_request(other, nia))
            await nia.call("post_join_request", body4, link_id=other.link.link_id)
            await org.call("revoke_link", group_id=gid, link_id=other.link.link_id)
            page = await org.call("list_join_requests", group_id=gid, link_id=other.link.link_id)
            assert isinstance(page, K.JoinRequestPage) and page.requests == ()
            await expect(
                ErrorCode.LINK_REVOKED,
                REVOKED,
                nia.call("post_join_request", body4, link_id=other.link.link_id),
            )
            # an open link takes no requests
            open_made = await create(links_relay, org, gid, mode=LinkMode.OPEN)
            body5, _, _ = post_body(made, join_request(made, nia))
            await expect(ErrorCode.BAD_REQUEST, None, nia.call(
                "post_join_request", K.JoinRequestPost(
                    capability=open_made.capability, sealed=body5.sealed,
                    pickup_id=body5.pickup_id, pickup_verifier=body5.pickup_verifier),
                link_id=open_made.link.link_id))  # fmt: skip

    run(main())


def test_join_request_limits(tmp_path: Path) -> None:
    limits = {**SHARED_LIMITS, "join_requests_per_account": 2, "join_requests_per_link": 3,
              "group_members": 2}  # fmt: skip
    with RelayProcess.start(tmp_path, registration="open", limits=limits) as relay:

        async def main() -> None:
            async with aiohttp.ClientSession() as http:
                org = await TestClient.register(http, relay.url)
                gid = new_group_id()
                await org.call("create_group", E.CreateGroupRequest(group_id=gid))
                made = await create(relay, org, gid, max_uses=50)
                a, b = [await TestClient.register(http, relay.url) for _ in range(2)]
                for who in (a, a, b):
                    body, _, _ = post_body(made, join_request(made, who))
                    await who.call("post_join_request", body, link_id=made.link.link_id)
                body, _, _ = post_body(made, join_request(made, a))
                exc = await expect(
                    ErrorCode.JOIN_REQUEST_LIMIT,
                    None,
                    a.call("post_join_request", body, link_id=made.link.link_id),
                )
                assert "too many join requests" in exc.body.message
                c = await TestClient.register(http, relay.url)
                body, _, _ = post_body(made, join_request(made, c))
                exc = await expect(
                    ErrorCode.JOIN_REQUEST_LIMIT,
                    "too many join requests are waiting for this link",
                    c.call("post_join_request", body, link_id=made.link.link_id),
                )
                # a banned account may not ask
                await org.call("ban", E.BanRequest(account_id=c.account_id, banned=True),
                               group_id=gid)  # fmt: skip
                page = await org.call("list_join_requests", group_id=gid,
                                      link_id=made.link.link_id)  # fmt: skip
                assert isinstance(page, K.JoinRequestPage)
                await org.call("remove_join_request",
                               K.JoinRequestRemove(request_id=page.requests[0].request_id),
                               group_id=gid, link_id=made.link.link_id)  # fmt: skip
                await expect(
                    ErrorCode.ACCOUNT_BANNED,
                    None,
                    c.call("post_join_request", body, link_id=made.link.link_id),
                )
                # ... nor join through an open link; nobody joins a full group
                opened = await create(relay, org, gid, mode=LinkMode.OPEN, max_uses=5)
                head = await org.call("get_group", group_id=gid)
                assert isinstance(head, E.GroupInfoResponse)

                def commit_through_link(epoch: int) -> K.LinkJoinPost:
                    return K.LinkJoinPost(
                        capability=opened.capability, idempotency_key=secrets.token_bytes(16),
                        message=external_commit(gid, epoch), position=head.head_seq,
                    )  # fmt: skip

                exc = await expect(ErrorCode.ACCOUNT_BANNED, "you are banned from this group",
                                   c.call("join_by_link", commit_through_link(0),
                                          link_id=opened.link.link_id))  # fmt: skip
                listing = await org.call("list_links", group_id=gid)
                assert isinstance(listing, K.LinkList)
                assert [x.uses for x in listing.links if x.link_id == opened.link.link_id] == [0]
                d, e = [await TestClient.register(http, relay.url) for _ in range(2)]
                joined = await d.call("join_by_link", commit_through_link(0),
                                      link_id=opened.link.link_id)  # fmt: skip
                assert isinstance(joined, E.PostMessageResponse)
                full = K.LinkJoinPost(
                    capability=opened.capability, idempotency_key=secrets.token_bytes(16),
                    message=external_commit(gid, 1), position=joined.seq,
                )  # fmt: skip
                await expect(
                    ErrorCode.FORBIDDEN,
                    "the group is full",
                    e.call("join_by_link", full, link_id=opened.link.link_id),
                )
                # a request over 64 KiB never reaches the queue
                big = body.sealed[:15] + secrets.token_bytes(65537 - 15)
                status, raw = await a.raw(
                    "POST", f"/v1/links/{made.link.link_id.hex()}/requests",
                    _msgpack({"v": 1, "capability": made.capability, "sealed": big,
                              "pickup_id": bytes(16), "pickup_verifier": bytes(32)}))  # fmt: skip
                assert status == 400
                assert E.ErrorBody.decode(raw).code == "bad_request"

        run(main())


def _msgpack(obj: object) -> bytes:
    data = msgpack.packb(obj, use_bin_type=True)
    assert isinstance(data, bytes)
    return data
