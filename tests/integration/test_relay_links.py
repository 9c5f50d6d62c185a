"""Invite links at a real relay: moderators create, list and revoke them; the holder of
a link reads its sealed preview, registers with it (no relay invite code), queues a
sealed join request and picks up a sealed decline; an open link's sealed GroupInfo
and the external commit that names the link; caps, expiry and revocation with their
typed errors; and a canary sweep of the relay's files.

Every sealed blob is built with ``cove.protocol.invites`` (the real constructions).
Expiry is reached by moving a link's ``expires_at`` into the past in the relay's
database file (the relay reads it on every request), never by waiting.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import msgpack
import pytest

from cove.protocol.codec import Writer
from cove.protocol.crypto import OsRandom
from cove.protocol.invites import (
    HistoryLevel,
    InviteLink,
    LinkMode,
    LinkPreview,
    PendingRequest,
    derive_intake_key,
    make_join_request,
    new_invite_link,
    open_decline,
    open_group_info,
    open_preview,
    seal_decline,
    seal_group_info,
    seal_preview,
)
from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.auth import registration_signing_input
from cove.protocol.wire.codes import ErrorCode
from cove.server.domain.links import pickup_verifier
from tests.integration.conftest import SHARED_LIMITS
from tests.support.canary import Canaries, scan_tree
from tests.support.relay_process import (
    CONTENT_COMMIT,
    CallError,
    RelayProcess,
    TestClient,
    fake_public_message,
    fake_welcome,
    new_group_id,
    raw_private,
    unique_handle,
)

pytestmark = pytest.mark.integration

INTAKE = derive_intake_key(bytes(32), 1)
WEEK = 7 * 86400


@pytest.fixture(scope="module")
def links_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    """A relay that registers only with an invite code (or a link)."""
    data: Path = tmp_path_factory.mktemp("links")
    with RelayProcess.start(data, registration="invite", limits=SHARED_LIMITS) as proc:
        yield proc


def organizer_code(relay: RelayProcess) -> str:
    return relay.cli("invite", "create", "--uses", "1").strip().splitlines()[-1]


async def organizer(http: aiohttp.ClientSession, relay: RelayProcess) -> TestClient:
    return await TestClient.register(http, relay.url, invite=organizer_code(relay))


@dataclass
class Made:
    link: InviteLink
    preview: LinkPreview
    sealed_preview: bytes
    info: K.LinkInfo

    @property
    def capability(self) -> bytes:
        return self.link.keys().capability


def make_link(
    relay: RelayProcess, org: TestClient, gid: bytes, *, mode: LinkMode = LinkMode.APPROVAL,
    max_uses: int = 3, texts: dict[str, str] | None = None,
) -> tuple[InviteLink, LinkPreview, bytes]:  # fmt: skip
    texts = texts or {}
    link = new_invite_link(relay.url, org.handle, org.identity_key, OsRandom())
    now = int(time.time())
    preview = LinkPreview(
        group_id=gid, link_id=link.link_id, mode=mode,
        group_name=texts.get("name", "Living with lupus"),
        description=texts.get("description", "A place to share what helps."),
        rules_version=1, rules_salt=bytes(16), rules_text=texts.get("rules", "Be kind."),
        questions=(texts.get("question", "How did you hear about us?"),)
        if mode == LinkMode.APPROVAL else (),
        history=HistoryLevel.TITLES, welcome_message=texts.get("welcome", "Welcome!"),
        inviter_handle=org.handle, inviter_identity_key=org.identity_key,
        intake=INTAKE.public if mode == LinkMode.APPROVAL else None,
        max_uses=max_uses, expires_at=now + WEEK, created_at=now,
    )  # fmt: skip
    return link, preview, seal_preview(preview, link, raw_private(org.identity), OsRandom())


async def create(relay: RelayProcess, org: TestClient, gid: bytes, **kw: object) -> Made:
    mode = kw.get("mode", LinkMode.APPROVAL)
    link, preview, sealed = make_link(relay, org, gid, **kw)  # type: ignore[arg-type]
    info = await org.call("create_link", K.LinkCreateRequest(
        link_id=link.link_id, capability_verifier=link.keys().capability_verifier,
        mode="approval" if mode == LinkMode.APPROVAL else "open",
        expires_at=preview.expires_at, max_uses=preview.max_uses, preview=sealed,
    ), group_id=gid)  # fmt: skip
    assert isinstance(info, K.LinkInfo)
    return Made(link, preview, sealed, info)


async def register_with_link(
    http: aiohttp.ClientSession, relay: RelayProcess, made: Made, *, capability: bytes | None = None
) -> TestClient:
    client = TestClient(http, relay.url, unique_handle("nia"))
    health = await client.call("health")
    assert isinstance(health, E.Health)
    signed = registration_signing_input(
        health.relay_id, client.handle, client.identity_key, client.device_key
    )
    resp = await client.call("register", E.RegisterRequest(
        handle=client.handle, identity_key=client.identity_key, device_key=client.device_key,
        identity_sig=client.identity.sign(signed), device_sig=client.device.sign(signed),
        link_id=made.link.link_id, link_capability=capability or made.capability,
    ))  # fmt: skip
    assert isinstance(resp, E.RegisterResponse)
    client.account_id, client.device_id = resp.account_id, resp.device_id
    await client.login()
    return client


def join_request(made: Made, who: TestClient, answer: str = "My rheumatologist.") -> PendingRequest:
    return make_join_request(
        made.preview, made.link, handle=who.handle, identity_private=raw_private(who.identity),
        key_package=who.key_package(), answers=(answer,), now=int(time.time()), rng=OsRandom(),
    )  # fmt: skip


def post_body(made: Made, pending: PendingRequest) -> tuple[K.JoinRequestPost, bytes, bytes]:
    pickup_id, token = secrets.token_bytes(16), secrets.token_bytes(32)
    body = K.JoinRequestPost(
        capability=made.capability, sealed=pending.sealed, pickup_id=pickup_id,
        pickup_verifier=pickup_verifier(token),
    )  # fmt: skip
    return body, pickup_id, token


def external_commit(group_id: bytes, epoch: int = 0) -> bytes:
    """A PublicMessage commit from a ``new_member_commit`` sender (what the relay peeks)."""
    w = Writer()
    w.uint16(1)
    w.uint16(1)  # mls_public_message
    w.opaque(group_id)
    w.uint64(epoch)
    w.uint8(4)  # sender: new_member_commit
    w.opaque(b"")
    w.uint8(CONTENT_COMMIT)
    w.fixed(secrets.token_bytes(80))
    return w.getvalue()


def set_expiry(relay: RelayProcess, link_id: bytes, expires_at: int) -> None:
    """Move a link's expiry in the relay's own database (time passing, without waiting)."""
    db = sqlite3.connect(relay.data / "relay.sqlite3", timeout=10)
    try:
        db.execute("UPDATE links SET expires_at = ? WHERE link_id = ?", (expires_at, link_id))
        db.commit()
    finally:
        db.close()


async def expect(code: ErrorCode, message: str | None, coro: object) -> CallError:
    try:
        await coro  # type: ignore[misc]
    except CallError as exc:
        assert exc.code == code, exc
        assert exc.status == code.status
        if message is not None:
            assert exc.body.message == message, exc.body.message
        return exc
    raise AssertionError(f"expected {code}")


EXPIRED = "this invite link has expired"
USED_UP = "this invite link has been used the maximum number of times"
REVOKED = "this invite link was revoked by the group's moderators"


def run(coro: object) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


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

            # epoch 0: the group has no commit yet; epoch 1 is beyond its log
            await org.call("put_group_info", sealed_at(0), group_id=gid, link_id=made.link.link_id)
            await expect(ErrorCode.BAD_REQUEST, "the GroupInfo's epoch is beyond the group's log",
                         org.call("put_group_info", sealed_at(1), group_id=gid,
                                  link_id=made.link.link_id))  # fmt: skip
            await org.post(gid, fake_public_message(gid, CONTENT_COMMIT, epoch=0), position=0)
            await org.call("put_group_info", sealed_at(1), group_id=gid, link_id=made.link.link_id)
            await expect(ErrorCode.STALE_GROUP_INFO, "a sealed GroupInfo of epoch 1 is stored",
                         org.call("put_group_info", sealed_at(0), group_id=gid,
                                  link_id=made.link.link_id))  # fmt: skip
            await expect(ErrorCode.BAD_REQUEST, "the sealed GroupInfo names another link",
                         org.call("put_group_info", sealed_at(1, secrets.token_bytes(10)),
                                  group_id=gid, link_id=made.link.link_id))  # fmt: skip
            # non-members cannot store one
            await newcomer.expect_error(ErrorCode.NOT_FOUND, "put_group_info", sealed_at(1),
                                        group_id=gid, link_id=made.link.link_id)  # fmt: skip
            got = await newcomer.call("fetch_group_info", access, link_id=made.link.link_id)
            assert isinstance(got, bytes)
            assert open_group_info(got, keys) == (1, b"group info \x01", b"tree")
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
            await expect(
                ErrorCode.LINK_REVOKED,
                REVOKED,
                org.call("put_group_info", sealed_at(2), group_id=gid, link_id=made.link.link_id),
            )

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
                    group_id=gid, link_id=opened.link.link_id)  # fmt: skip
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
                )
                async with RelayTransport(links_relay.url, nia.token) as her:
                    assert open_group_info(await ci.fetch_group_info(her, open_link), keys) == (
                        0,
                        b"gi",
                        b"tree",
                    )
                    answer = await ci.join_by_link(her, open_link, external_commit(gid), 0)
                assert not answer.duplicate
                assert (await ci.list_links(mod, gid)).links[-1].uses == 1

    run(main())
