"""Invite links at the relay (``docs/protocol/invites.md`` §4).

Per link the relay keeps an opaque id, a verifier of the link's capability, its
mode, caps and counters, and sealed bytes it cannot open — the preview, the join
requests, the declines and the open link's GroupInfo. It restricts, never
grants: moderators (by the relay's access-control table) manage links and read
the queue; whoever presents the capability may read the preview, register, post
a join request or fetch the GroupInfo, within the link's caps and expiry; the
clients decide who joins (their policy checks every Add and external commit).

Uses are counted as §4 says: a join request accepted into the queue (approval
links), an external commit through the link accepted into the log (open links,
:mod:`.link_join`); registrations are capped separately at ``max_uses``.
Clients never rely on these counts.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from cove.protocol.errors import ValidationError
from cove.protocol.invites import request_header, sealed_group_info_epoch
from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import (
    LINKS_KEPT_PER_GROUP,
    PAGE_JOIN_REQUESTS,
    SEALED_GROUP_INFO,
    limit,
)
from cove.protocol.wire.mls_header import peek_mls_header

from ..errors import BadRequest, BodyTooLarge, Conflict, NotFound, RateLimited, RelayError
from ..storage.base import Txn
from ..storage.links_base import LinkRecord
from .crypto import new_id
from .link_checks import NO_SUCH_LINK, LinkExpired, LinkRevoked, check_link
from .link_join import check_link_join

if TYPE_CHECKING:
    from .relay import Caller, Relay


PICKUP_LABEL = b"cove decline pickup v1"


def pickup_verifier(token: bytes) -> bytes:
    """What the relay stores for a requester's pickup token."""
    return hashlib.sha256(PICKUP_LABEL + token).digest()


def link_info(link: LinkRecord) -> K.LinkInfo:
    return K.LinkInfo(
        link_id=link.link_id, mode=link.mode, expires_at=link.expires_at,
        max_uses=link.max_uses, uses=link.uses, registrations=link.registrations,
        waiting=link.waiting, created_at=link.created_at, revoked_at=link.revoked_at,
    )  # fmt: skip


class Links:
    def __init__(self, relay: Relay) -> None:
        self._relay = relay
        self._group_info_uploads = 0

    async def _moderated_link(
        self, txn: Txn, caller: Caller, group_id: bytes, link_id: bytes
    ) -> LinkRecord:
        relay = self._relay
        me = await relay.access_member_txn(txn, group_id, caller)
        relay.check_role(me, "moderator")
        link = await txn.link(link_id)
        if link is None or link.group_id != group_id:
            raise NotFound(NO_SUCH_LINK)
        return link

    # -- moderators ---------------------------------------------------------------

    async def create(self, caller: Caller, group_id: bytes, req: K.LinkCreateRequest) -> K.LinkInfo:
        relay = self._relay
        now = relay.clock.now()
        if req.expires_at <= now:
            raise BadRequest("the link's expiry is in the past")
        if req.expires_at > now + relay.config.limit("link_lifetime"):
            raise BadRequest("the link's expiry is too far ahead (see link_lifetime)")
        async with relay.storage.write() as txn:
            me = await relay.access_member_txn(txn, group_id, caller)
            relay.check_role(me, "moderator")
            links = await txn.links_of(group_id)
            live = [x for x in links if x.revoked_at is None and x.expires_at > now]
            if len(live) >= limit("links_per_group"):
                raise Conflict(
                    f"the group has {len(live)} live invite links; revoke one first",
                    code=ErrorCode.LINK_EXISTS,
                )
            await txn.forget_dead_links(group_id, now, LINKS_KEPT_PER_GROUP)
            if not await txn.insert_link(req.link_id, group_id, req.capability_verifier,
                                         req.mode, req.expires_at, req.max_uses, now,
                                         req.preview):  # fmt: skip
                raise Conflict("an invite link with this id exists", code=ErrorCode.LINK_EXISTS)
            link = await txn.link(req.link_id)
        assert link is not None
        return link_info(link)

    async def list(self, caller: Caller, group_id: bytes) -> K.LinkList:
        relay = self._relay
        async with relay.storage.read() as txn:
            me = await relay.access_member_txn(txn, group_id, caller)
            relay.check_role(me, "moderator")
            links = await txn.links_of(group_id)
        return K.LinkList(links=tuple(link_info(x) for x in links))

    async def revoke(self, caller: Caller, group_id: bytes, link_id: bytes) -> K.LinkInfo:
        relay = self._relay
        async with relay.storage.write() as txn:
            before = await self._moderated_link(txn, caller, group_id, link_id)
            if before.revoked_at is None:
                await txn.revoke_link(link_id, relay.clock.now())
            link = await txn.link(link_id)
        assert link is not None
        await relay.storage.checkpoint()  # secure_delete overwrote; the WAL goes too
        return link_info(link)

    async def update_preview(
        self, caller: Caller, group_id: bytes, link_id: bytes, req: K.LinkPreviewUpdate
    ) -> E.Ok:
        relay = self._relay
        async with relay.storage.write() as txn:
            link = await self._moderated_link(txn, caller, group_id, link_id)
            if link.revoked_at is not None:
                raise LinkRevoked()
            if relay.clock.now() >= link.expires_at:
                raise LinkExpired()
            await txn.set_link_preview(link_id, req.preview)
        return E.Ok()

    async def list_requests(
        self, caller: Caller, group_id: bytes, link_id: bytes, after: int
    ) -> K.JoinRequestPage:
        relay = self._relay
        async with relay.storage.read() as txn:
            await self._moderated_link(txn, caller, group_id, link_id)
            rows = await txn.join_requests(link_id, after, PAGE_JOIN_REQUESTS + 1)
        more = len(rows) > PAGE_JOIN_REQUESTS
        rows = rows[:PAGE_JOIN_REQUESTS]
        return K.JoinRequestPage(
            requests=tuple(K.JoinRequestEntry(request_id=r.request_id, position=r.position,
                                              device_id=r.device_id, received_at=r.received_at,
                                              sealed=r.sealed) for r in rows),
            next=rows[-1].position if rows else min(after, 10000),
            more=more,
        )  # fmt: skip

    async def remove_request(
        self, caller: Caller, group_id: bytes, link_id: bytes, req: K.JoinRequestRemove
    ) -> E.Ok:
        relay = self._relay
        if req.decline is not None and req.decline[0] != 1:
            raise BadRequest("not a sealed decline")
        async with relay.storage.write() as txn:
            await self._moderated_link(txn, caller, group_id, link_id)
            pickup = await txn.delete_join_request(link_id, req.request_id)
            if pickup is None:
                raise NotFound("no such join request")
            if req.decline is not None:
                await txn.insert_decline(pickup[0], pickup[1], relay.clock.now(), req.decline)
        return E.Ok()

    # -- holders of the link ---------------------------------------------------------

    async def fetch_preview(self, link_id: bytes, req: K.LinkAccess) -> K.LinkPreviewResponse:
        relay = self._relay
        async with relay.storage.read() as txn:
            link = check_link(await txn.link(link_id), req.capability, relay.clock.now(),
                              use=True)  # fmt: skip
            preview = await txn.link_preview(link_id)
        if preview is None:  # expired between the purge and now
            raise LinkExpired()
        return K.LinkPreviewResponse(preview=preview, mode=link.mode, expires_at=link.expires_at)

    async def register_with(self, txn: Txn, link_id: bytes, capability: bytes) -> None:
        """Inside the registration's transaction: check the link and count it."""
        check_link(await txn.link(link_id), capability, self._relay.clock.now(),
                   registration=True)  # fmt: skip
        await txn.count_link_registration(link_id)

    async def post_request(
        self, caller: Caller, link_id: bytes, req: K.JoinRequestPost
    ) -> K.JoinRequestAccepted:
        relay = self._relay
        try:
            named, _generation = request_header(req.sealed)
        except ValidationError:
            raise BadRequest("not a sealed join request") from None
        if not hmac.compare_digest(named, link_id):
            raise BadRequest("the join request names another link")
        now = relay.clock.now()
        request_id = new_id()
        async with relay.storage.write() as txn:
            link = check_link(await txn.link(link_id), req.capability, now, state=False)
            again = await txn.request_by_pickup(req.pickup_id)
            if again is not None:  # a retry: answered again, not counted twice
                if (again.link_id, again.sealed, again.verifier) != (
                    link_id,
                    req.sealed,
                    req.pickup_verifier,
                ):
                    raise BadRequest("this pickup id is taken; derive a fresh one")
                return K.JoinRequestAccepted(request_id=again.request_id,
                                             position=again.position)  # fmt: skip
            check_link(link, req.capability, now, mode="approval", use=True)
            if await txn.is_banned(link.group_id, caller.account_id):
                raise RelayError("you are banned from this group", code=ErrorCode.ACCOUNT_BANNED)
            if link.waiting >= relay.config.limit("join_requests_per_link"):
                raise RelayError("too many join requests are waiting for this link",
                                 code=ErrorCode.JOIN_REQUEST_LIMIT)  # fmt: skip
            if await txn.waiting_of_account(caller.account_id) >= relay.config.limit(
                "join_requests_per_account"
            ):
                raise RelayError("you have too many join requests waiting",
                                 code=ErrorCode.JOIN_REQUEST_LIMIT)  # fmt: skip
            position = await txn.count_link_use(link_id)
            if not await txn.insert_join_request(request_id, link_id, position, caller.device_id,
                                                 req.pickup_id, req.pickup_verifier, now,
                                                 req.sealed):  # fmt: skip
                raise BadRequest("this pickup id is taken; derive a fresh one")
        return K.JoinRequestAccepted(request_id=request_id, position=position)

    async def pickup(self, req: K.DeclinePickup) -> K.DeclineStatus:
        relay = self._relay
        async with relay.storage.read() as txn:
            found = await txn.pickup(req.pickup_id)
        if found is None or not hmac.compare_digest(
            found.verifier, pickup_verifier(req.pickup_token)
        ):
            return K.DeclineStatus(state="none")
        if found.decline is None:
            return K.DeclineStatus(state="pending")
        return K.DeclineStatus(state="declined", decline=found.decline)

    async def join(
        self, caller: Caller, link_id: bytes, req: K.LinkJoinPost
    ) -> E.PostMessageResponse:
        """An external commit through an open link: checked here, again and
        sequenced in the group commit (:mod:`.link_join`)."""
        relay = self._relay
        async with relay.storage.read() as txn:
            # revocation, expiry, mode and caps: in the batch, after the retry check
            link = check_link(await txn.link(link_id), req.capability, relay.clock.now(),
                              state=False)  # fmt: skip
        post = check_link_join(link.group_id, link_id, caller.account_id, req)
        return await relay.committer.submit(post)

    # -- open links: the sealed GroupInfo --------------------------------------------------

    async def put_group_info(
        self, caller: Caller, group_id: bytes, link_id: bytes, declared: int | None,
        position: int | None,
    ) -> None:  # fmt: skip
        """The checks before the body is read: size, log position named, membership,
        the link."""
        relay = self._relay
        if declared is None:
            raise BadRequest("a GroupInfo upload needs a Content-Length")
        if declared > SEALED_GROUP_INFO:
            raise BodyTooLarge(f"a sealed GroupInfo is at most {SEALED_GROUP_INFO} bytes")
        if position is None:
            raise BadRequest("a GroupInfo upload names its log position (?position=)")
        async with relay.storage.read() as txn:
            await self._member_link(txn, caller, group_id, link_id)

    def admit_upload(self) -> None:
        if self._group_info_uploads >= self._relay.config.limit("uploads_at_once"):
            raise RateLimited(1)
        self._group_info_uploads += 1

    def end_upload(self) -> None:
        self._group_info_uploads -= 1

    async def _member_link(
        self, txn: Txn, caller: Caller, group_id: bytes, link_id: bytes
    ) -> LinkRecord:
        await self._relay.access_member_txn(txn, group_id, caller)
        link = await txn.link(link_id)
        if link is None or link.group_id != group_id:
            raise NotFound(NO_SUCH_LINK)
        if link.revoked_at is not None:
            raise LinkRevoked()
        if self._relay.clock.now() >= link.expires_at:
            raise LinkExpired()
        if link.mode != "open":
            raise BadRequest("only open links have a GroupInfo")
        return link

    async def store_group_info(
        self, caller: Caller, group_id: bytes, link_id: bytes, position: int, sealed: bytes
    ) -> E.Ok:
        """Keep the newest: a GroupInfo older than the stored one (by epoch or by log
        position) is refused; so is one beyond the group's log (its epoch past the
        epoch after the last handshake message, its position past that message) or
        whose epoch is not the one of the log at its position (the message there was
        sent in the epoch before it, or in it)."""
        relay = self._relay
        try:
            named, epoch = sealed_group_info_epoch(sealed)
        except ValidationError:
            raise BadRequest("not a sealed GroupInfo") from None
        if not hmac.compare_digest(named, link_id):
            raise BadRequest("the sealed GroupInfo names another link")
        async with relay.storage.write() as txn:
            await self._member_link(txn, caller, group_id, link_id)
            if epoch > await _epoch_ceiling(txn, group_id):
                raise BadRequest("the GroupInfo's epoch is beyond the group's log")
            group = await txn.group(group_id)
            if group is None or position > group.handshake_seq:
                raise BadRequest("the GroupInfo's log position is beyond the group's handshakes")
            if not await _epoch_fits(txn, group_id, position, epoch):
                raise BadRequest("the GroupInfo's epoch is not the log's at its position")
            stored = await txn.group_info(link_id)
            if stored is not None and (stored.epoch > epoch or stored.position > position):
                raise RelayError(
                    f"a sealed GroupInfo of epoch {stored.epoch} at log position "
                    f"{stored.position} is stored",
                    code=ErrorCode.STALE_GROUP_INFO,
                )
            await txn.put_group_info(link_id, epoch, position, sealed)
        return E.Ok()

    async def fetch_group_info(self, link_id: bytes, req: K.LinkAccess) -> K.LinkGroupInfo:
        relay = self._relay
        async with relay.storage.read() as txn:
            check_link(await txn.link(link_id), req.capability, relay.clock.now(), mode="open",
                       use=True)  # fmt: skip
            stored = await txn.group_info(link_id)
        if stored is None:
            raise NotFound("no GroupInfo is stored for this link yet")
        return K.LinkGroupInfo(sealed=stored.sealed, position=stored.position)


async def _epoch_fits(txn: Txn, group_id: bytes, position: int, epoch: int) -> bool:
    """Whether a GroupInfo of ``epoch`` can have been made at log ``position``: epoch
    0 before any message; else the message there was sent in ``epoch`` or in the one
    before (the commit that began it). Unknown if that message is gone (retention)."""
    if position == 0:
        return epoch == 0
    rows = await txn.messages_after(group_id, position - 1, 1)
    if not rows or rows[0].seq != position:
        return True
    at = peek_mls_header(rows[0].data).epoch
    return at is None or epoch in (at, at + 1)


async def _epoch_ceiling(txn: Txn, group_id: bytes) -> int:
    """The highest epoch a GroupInfo of this group can have now: one past the epoch
    of its last handshake message (0 if it has none; unbounded if that message was
    purged by retention)."""
    group = await txn.group(group_id)
    if group is None or group.handshake_seq == 0:
        return 0
    rows = await txn.messages_after(group_id, group.handshake_seq - 1, 1)
    if not rows or rows[0].seq != group.handshake_seq:
        return (1 << 64) - 1
    epoch = peek_mls_header(rows[0].data).epoch
    return (1 << 64) - 1 if epoch is None else epoch + 1
