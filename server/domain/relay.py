"""The relay's domain service: every rule behind the HTTP API.

Handlers decode a request envelope, call one method here and encode what it
returns. Each method runs its reads and writes in one storage transaction and
publishes events to the :class:`~.events.Hub` only after the commit, so an
answer (and a push) always means the change is durable. Posts go through the
group commit (:mod:`.group_commit`, rules in :mod:`.posting`); KeyPackages,
uploads and invites have modules of their own, reached as attributes.

Commit ordering (``docs/decisions/0002-handshake-compare-and-set.md``): a
handshake message is appended only if no handshake message was appended after
the poster's ``position``; otherwise :class:`HandshakeConflict` carries the
newer position. The relay never judges a commit, so a broken one costs the
others one round trip and can never lock the group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from cove.protocol.wire import envelopes as E
from cove.protocol.wire.auth import (
    add_device_signing_input,
    login_signing_input,
    registration_signing_input,
)
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.limits import RATE_WINDOWS, limit_row

from ..config import RelayConfig
from ..errors import (
    AuthFailed,
    BadRequest,
    Conflict,
    Forbidden,
    GroupNotFound,
    InvalidInvite,
    NotFound,
    RateLimited,
    Unauthorized,
)
from ..storage.base import MemberRecord, Session, Storage, Txn
from .clock import Clock
from .crypto import (
    Token,
    new_id,
    new_token,
    secret_hash,
    token_is_ours,
    verify_ed25519,
)
from .events import Hub
from .group_commit import GroupCommitter
from .invites import Invites
from .key_packages import KeyPackages
from .links import Links
from .posting import RANK, MemberCache, Post, check_post, check_role
from .ratelimit import RateLimiter
from .uploads import Uploads

log = logging.getLogger("cove.relay")

RELAY_ID_KEY = "relay_id"
TOKEN_KEY_NAME = "token_key"  # noqa: S105 - the name of a relay_meta row
_SESSION_CACHE_SECONDS = 60.0
_SESSION_CACHE_SIZE = 100_000


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated device. The token itself is not kept here."""

    account_id: bytes
    device_id: bytes
    token_hash: bytes

    def __repr__(self) -> str:
        return f"Caller(account={self.account_id.hex()[:8]}…)"


class Relay:
    def __init__(
        self,
        config: RelayConfig,
        storage: Storage,
        clock: Clock,
        *,
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        self.config = config
        self.storage = storage
        self.clock = clock
        self.hub = Hub(config.limit("ws_connections_per_account"), config.limit("ws_send_queue"))
        self.uploads = Uploads(self)
        self.invites = Invites(self)
        self.key_packages = KeyPackages(self)
        self.links = Links(self)
        self.members = MemberCache()
        self.committer = GroupCommitter(
            storage, clock, self.hub, self.members, config.limit("group_members")
        )
        self.relay_id = b""
        self._token_key = b""
        self._challenges: dict[bytes, float] = {}
        # token hash -> (session, monotonic time cached); see access_caller
        self._sessions: dict[bytes, tuple[Session, float]] = {}
        self._limiters: dict[str, RateLimiter] = {}
        for name in (
            "unauth_per_address",
            "requests_per_account",
            "kp_claims_per_requester",
            "kp_claims_per_target",
        ):
            row = limit_row(name)
            self._limiters[name] = RateLimiter(clock, config.limit(name), RATE_WINDOWS[row.unit])

    async def start(self) -> None:
        async with self.storage.write() as txn:
            relay_id = await txn.get_meta(RELAY_ID_KEY)
            if relay_id is None:
                relay_id = new_id()
                await txn.set_meta(RELAY_ID_KEY, relay_id)
            token_key = await txn.get_meta(TOKEN_KEY_NAME)
            if token_key is None:
                token_key = new_id() + new_id()
                await txn.set_meta(TOKEN_KEY_NAME, token_key)
        self.relay_id = relay_id
        self._token_key = token_key

    async def stop(self) -> None:
        """Stop the group commit (queued posts are refused; none is half-written)."""
        await self.committer.stop()

    # -- rate limits ----------------------------------------------------------

    def check_rate(self, name: str, key: object) -> None:
        wait = self._limiters[name].retry_after(key)
        if wait:
            raise RateLimited(wait)

    # -- accounts and login ---------------------------------------------------------

    async def do_register(self, req: E.RegisterRequest) -> E.RegisterResponse:
        signed = registration_signing_input(
            self.relay_id, req.handle, req.identity_key, req.device_key
        )
        verify_ed25519(req.identity_key, req.identity_sig, signed)
        verify_ed25519(req.device_key, req.device_sig, signed)
        if req.identity_key == req.device_key:
            raise BadRequest("identity and device keys must differ")
        now = self.clock.now()
        account_id, device_id = new_id(), new_id()
        async with self.storage.write() as txn:
            # The invite first, so that without one nothing (not even whether a
            # handle is taken) is revealed; a refusal below rolls its use back.
            if req.link_id is not None or req.link_capability is not None:
                if req.link_id is None or req.link_capability is None or req.invite is not None:
                    raise BadRequest("registering with a link needs link_id and link_capability"
                                     " and no invite code")  # fmt: skip
                await self.links.register_with(txn, req.link_id, req.link_capability)
            elif self.config.registration != "open" and (
                req.invite is None or not await txn.use_invite(secret_hash(req.invite), now)
            ):
                raise InvalidInvite("invite code unknown, used up or expired")
            if await txn.account_by_handle(req.handle) is not None:
                raise Conflict("handle taken", code=ErrorCode.HANDLE_TAKEN)
            for key in (req.identity_key, req.device_key):
                if await txn.key_in_use(key):
                    raise Conflict("key already registered", code=ErrorCode.KEY_IN_USE)
            await txn.insert_account(account_id, req.handle, req.identity_key, now)
            await txn.insert_device(device_id, account_id, req.device_key, now)
        return E.RegisterResponse(account_id=account_id, device_id=device_id)

    def do_challenge(self) -> E.ChallengeResponse:
        lifetime = self.config.limit("challenge_lifetime")
        now = self.clock.monotonic()
        if len(self._challenges) >= self.config.limit("outstanding_challenges"):
            for c, exp in list(self._challenges.items()):
                if exp <= now:
                    del self._challenges[c]
            if len(self._challenges) >= self.config.limit("outstanding_challenges"):
                raise RateLimited(lifetime)
        challenge = new_id() + new_id()
        self._challenges[challenge] = now + lifetime
        return E.ChallengeResponse(challenge=challenge, relay_id=self.relay_id, expires_in=lifetime)

    async def do_login(self, req: E.LoginRequest) -> E.LoginResponse:
        expires = self._challenges.pop(req.challenge, None)  # single use, even on failure
        if expires is None or expires <= self.clock.monotonic():
            raise AuthFailed("login failed")
        async with self.storage.read() as txn:
            device = await txn.device_by_key(req.device_key)
            account = None if device is None else await txn.account_by_id(device.account_id)
        if device is None or account is None or account.handle != req.handle:
            raise AuthFailed("login failed")
        verify_ed25519(
            req.device_key,
            req.signature,
            login_signing_input(self.relay_id, req.challenge, req.handle, req.device_key),
        )
        token = new_token(self._token_key)
        expires_at = self.clock.now() + self.config.limit("token_lifetime")
        async with self.storage.write() as txn:
            await txn.insert_token(secret_hash(token), device.device_id, expires_at)
        return E.LoginResponse(
            token=str(token),
            expires_at=expires_at,
            account_id=account.account_id,
            device_id=device.device_id,
        )

    def _auth_failed(self, address: str, message: str) -> Unauthorized:
        """A request that did not authenticate costs its address one unauthenticated
        request: a flood of bad tokens from one address ends in 429s."""
        self.check_rate("unauth_per_address", address)
        return Unauthorized(message)

    async def access_caller(self, token: Token | None, address: str) -> Caller:
        """The caller behind ``token``. A missing, garbled or foreign (untagged) token
        is refused without a database lookup; every failure spends one of the
        address's unauthenticated requests, so a flood ends in 429s."""
        if not token:
            raise self._auth_failed(address, "missing bearer token")
        token_hash = secret_hash(token)
        session = self._cached_session(token_hash)  # only verified tokens are cached
        if session is None:
            if not token_is_ours(self._token_key, token):
                raise self._auth_failed(address, "unknown or expired token")
            async with self.storage.read() as txn:
                session = await txn.session_by_token(token_hash, self.clock.now())
            if session is None:
                raise self._auth_failed(address, "unknown or expired token")
            if len(self._sessions) >= _SESSION_CACHE_SIZE:
                self._sessions.clear()
            self._sessions[token_hash] = (session, self.clock.monotonic())
        self.check_rate("requests_per_account", session.account_id)
        return Caller(session.account_id, session.device_id, token_hash)

    def _cached_session(self, token_hash: bytes) -> Session | None:
        """Sessions are cached for a minute; logout and account deletion evict
        them at once, expiry is checked on every use."""
        hit = self._sessions.get(token_hash)
        if hit is None:
            return None
        session, cached_at = hit
        if (
            self.clock.monotonic() - cached_at > _SESSION_CACHE_SECONDS
            or session.expires_at <= self.clock.now()
        ):
            del self._sessions[token_hash]
            return None
        return session

    async def do_logout(self, caller: Caller) -> E.Ok:
        async with self.storage.write() as txn:
            await txn.delete_token(caller.token_hash)
        self._sessions.pop(caller.token_hash, None)
        return E.Ok()

    async def whoami(self, caller: Caller) -> E.AccountInfo:
        async with self.storage.read() as txn:
            account = await txn.account_by_id(caller.account_id)
            devices = await txn.devices_of(caller.account_id)
        if account is None:
            raise Unauthorized("unknown or expired token")
        return E.AccountInfo(
            account_id=account.account_id,
            handle=account.handle,
            identity_key=account.identity_key,
            devices=tuple(E.DeviceInfo(device_id=d.device_id, device_key=d.device_key)
                          for d in devices),
        )  # fmt: skip

    async def do_add_device(self, caller: Caller, req: E.AddDeviceRequest) -> E.DeviceInfo:
        async with self.storage.read() as txn:
            account = await txn.account_by_id(caller.account_id)
        if account is None:
            raise Unauthorized("unknown or expired token")
        signed = add_device_signing_input(self.relay_id, account.account_id, req.device_key)
        verify_ed25519(account.identity_key, req.identity_sig, signed)
        verify_ed25519(req.device_key, req.device_sig, signed)
        device_id = new_id()
        async with self.storage.write() as txn:
            if await txn.key_in_use(req.device_key):
                raise Conflict("key already registered", code=ErrorCode.KEY_IN_USE)
            await txn.insert_device(device_id, account.account_id, req.device_key, self.clock.now())
        return E.DeviceInfo(device_id=device_id, device_key=req.device_key)

    async def do_delete_account(self, caller: Caller) -> E.Ok:
        """Delete the account, its devices, tokens, KeyPackages, inbox, memberships
        and bans; groups left without members are deleted with their logs and blobs."""
        async with self.storage.write() as txn:
            groups = [g.group_id for g, _ in await txn.groups_of(caller.account_id)]
            await txn.delete_account(caller.account_id)
            self.members.clear()
            for group_id in groups:
                if await txn.count_members(group_id) == 0:
                    await txn.delete_group(group_id)
        self.hub.drop_account(caller.account_id)
        for token_hash, (session, _) in list(self._sessions.items()):
            if session.account_id == caller.account_id:
                del self._sessions[token_hash]
        await self.storage.checkpoint()
        return E.Ok()

    # -- groups -----------------------------------------------------------------------

    @staticmethod
    async def access_member_txn(txn: Txn, group_id: bytes, caller: Caller) -> MemberRecord:
        """The caller's membership, or :class:`GroupNotFound` — the same answer
        whether the group is missing or the caller is not (or no longer) in it."""
        member = await txn.member(group_id, caller.account_id)
        if member is None:
            raise GroupNotFound()
        return member

    @staticmethod
    def check_role(member: MemberRecord, at_least: str) -> None:
        check_role(member, at_least)

    async def list_groups(self, caller: Caller) -> E.GroupList:
        async with self.storage.read() as txn:
            rows = await txn.groups_of(caller.account_id)
        return E.GroupList(groups=tuple(
            E.GroupSummary(group_id=g.group_id, role=role, head_seq=g.head_seq,
                           handshake_seq=g.handshake_seq)
            for g, role in rows
        ))  # fmt: skip

    async def do_create_group(self, caller: Caller, req: E.CreateGroupRequest) -> E.GroupSummary:
        async with self.storage.write() as txn:
            if not await txn.insert_group(req.group_id, self.clock.now()):
                raise Conflict("group exists", code=ErrorCode.GROUP_EXISTS)
            self.members.forget(req.group_id)
            await txn.upsert_member(req.group_id, caller.account_id, "owner", 0)
        return E.GroupSummary(group_id=req.group_id, role="owner", head_seq=0, handshake_seq=0)

    async def get_group(self, caller: Caller, group_id: bytes) -> E.GroupInfoResponse:
        async with self.storage.read() as txn:
            me = await self.access_member_txn(txn, group_id, caller)
            group = await txn.group(group_id)
            members = await txn.members(group_id)
        assert group is not None
        return E.GroupInfoResponse(
            group_id=group_id,
            head_seq=group.head_seq,
            handshake_seq=group.handshake_seq,
            joined_seq=me.joined_seq,
            my_role=me.role,
            members=tuple(E.MemberInfo(account_id=m.account_id, handle=m.handle, role=m.role)
                          for m in members),
            retention_seconds=group.retention_seconds,
        )  # fmt: skip

    async def do_leave_group(self, caller: Caller, group_id: bytes) -> E.Ok:
        async with self.storage.write() as txn:
            await self.access_member_txn(txn, group_id, caller)
            await txn.delete_member(group_id, caller.account_id)
            self.members.forget(group_id)
            if await txn.count_members(group_id) == 0:
                await txn.delete_group(group_id)
        self.hub.publish([caller.account_id], E.StreamEvent(kind="removed", group_id=group_id))
        return E.Ok()

    async def do_set_role(self, caller: Caller, group_id: bytes, req: E.RoleRequest) -> E.Ok:
        async with self.storage.write() as txn:
            me = await self.access_member_txn(txn, group_id, caller)
            self.check_role(me, "owner")
            target = await txn.member(group_id, req.account_id)
            if target is None:
                raise NotFound("not a member")
            if req.account_id == caller.account_id:
                raise BadRequest("the owner hands over ownership by naming another member")
            await txn.upsert_member(group_id, req.account_id, req.role, target.joined_seq)
            if req.role == "owner":
                await txn.upsert_member(group_id, caller.account_id, "moderator", me.joined_seq)
        return E.Ok()

    async def do_ban(self, caller: Caller, group_id: bytes, req: E.BanRequest) -> E.Ok:
        removed = False
        async with self.storage.write() as txn:
            me = await self.access_member_txn(txn, group_id, caller)
            self.check_role(me, "moderator")
            if req.account_id == caller.account_id:
                raise BadRequest("cannot ban yourself")
            if await txn.account_by_id(req.account_id) is None:
                raise NotFound("no such account")
            target = await txn.member(group_id, req.account_id)
            if req.banned:
                if target is not None:
                    if RANK[target.role] >= RANK[me.role]:
                        raise Forbidden("cannot ban a member of equal or higher role")
                    removed = await txn.delete_member(group_id, req.account_id)
                    self.members.forget(group_id)
                await txn.set_ban(group_id, req.account_id, True)
            else:
                await txn.set_ban(group_id, req.account_id, False)
        if removed:
            self.hub.publish([req.account_id], E.StreamEvent(kind="removed", group_id=group_id))
        return E.Ok()

    async def do_set_retention(
        self, caller: Caller, group_id: bytes, req: E.RetentionRequest
    ) -> E.Ok:
        async with self.storage.write() as txn:
            me = await self.access_member_txn(txn, group_id, caller)
            self.check_role(me, "moderator")
            await txn.set_retention(group_id, req.max_age_seconds)
        return E.Ok()

    # -- messages ---------------------------------------------------------------------

    async def do_post_message(
        self, caller: Caller, group_id: bytes, req: E.PostMessageRequest
    ) -> E.PostMessageResponse:
        """Queue the post for the group commit (``group_commit.py``); the answer
        comes once its batch is durable."""
        handshake = check_post(group_id, req)
        return await self.committer.submit(Post(caller.account_id, group_id, req, handshake))

    async def fetch_messages(
        self, caller: Caller, group_id: bytes, after: int, limit: int
    ) -> E.MessagePage:
        limit = min(limit, self.config.limit("page_messages"))
        async with self.storage.read() as txn:
            me = await self.access_member_txn(txn, group_id, caller)
            rows = await txn.messages_after(group_id, max(after, me.joined_seq), limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = rows[-1].seq if rows else max(after, me.joined_seq)
        return E.MessagePage(
            messages=tuple(E.LoggedMessage(seq=m.seq, message=m.data, received_at=m.received_at)
                           for m in rows),
            next=next_cursor,
            more=more,
        )  # fmt: skip

    async def replay(
        self, caller: Caller, cursors: dict[bytes, int], inbox: int | None
    ) -> list[E.StreamEvent]:
        """What a WebSocket resuming from ``cursors`` missed, then ``ready``.

        Per group at most ``ws_resume_messages`` messages (and about 8 MiB in
        all); beyond that a ``behind`` event tells the client to fetch by HTTP.
        A group the caller is not in answers ``removed`` (whether or not it exists).
        """
        limit = self.config.limit("ws_resume_messages")
        budget = 8 * 1024 * 1024
        events: list[E.StreamEvent] = []
        async with self.storage.read() as txn:
            for group_id, after in cursors.items():
                me = await txn.member(group_id, caller.account_id)
                if me is None:
                    events.append(E.StreamEvent(kind="removed", group_id=group_id))
                    continue
                rows = await txn.messages_after(group_id, max(after, me.joined_seq), limit + 1)
                sent = 0
                for m in rows[:limit]:
                    if budget < len(m.data):
                        break
                    budget -= len(m.data)
                    sent += 1
                    events.append(E.StreamEvent(
                        kind="message", group_id=group_id, seq=m.seq, message=m.data
                    ))  # fmt: skip
                if sent < len(rows):
                    group = await txn.group(group_id)
                    head = group.head_seq if group is not None else 0
                    events.append(E.StreamEvent(kind="behind", group_id=group_id, seq=head))
            if inbox is not None:
                entries = await txn.inbox_after(caller.device_id, inbox, 100)
                if entries:
                    events.append(E.StreamEvent(kind="welcome", seq=entries[-1].inbox_id))
        events.append(E.StreamEvent(kind="ready"))
        return events

    # -- inbox ----------------------------------------------------------------------

    async def fetch_inbox(self, caller: Caller, after: int) -> E.InboxPage:
        async with self.storage.read() as txn:
            rows = await txn.inbox_after(caller.device_id, after, 100)
        return E.InboxPage(entries=tuple(
            E.InboxEntry(inbox_id=r.inbox_id, group_id=r.group_id, commit_seq=r.commit_seq,
                         welcome=r.data)
            for r in rows
        ))  # fmt: skip

    async def do_ack_inbox(self, caller: Caller, req: E.InboxAck) -> E.Ok:
        async with self.storage.write() as txn:
            await txn.delete_inbox_upto(caller.device_id, req.up_to)
        return E.Ok()

    # -- blobs -----------------------------------------------------------------------

    async def download_blob(self, caller: Caller, group_id: bytes, blob_id: bytes) -> bytes:
        async with self.storage.read() as txn:
            await self.access_member_txn(txn, group_id, caller)
            data = await txn.blob(group_id, blob_id)
        if data is None:
            raise NotFound("no such attachment")
        return data

    # -- retention -----------------------------------------------------------------------

    async def do_purge(self) -> int:
        async with self.storage.write() as txn:
            counts = await txn.purge_expired(self.clock.now(), self.config.retention_max_age)
            links = await txn.purge_links(self.clock.now(), self.config.limit("join_request_ttl"),
                                          self.config.limit("dead_link_kept"))  # fmt: skip
        total = counts.messages + counts.blobs + counts.inbox + links.requests + links.declines
        if total:
            await self.storage.checkpoint()
            log.info(
                "retention purge: %d messages, %d attachments, %d welcomes",
                counts.messages, counts.blobs, counts.inbox,
            )  # fmt: skip
        return total
