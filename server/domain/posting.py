"""The rules for appending a post to a group's log, run by the group commit.

:func:`check_post` looks at the request alone (MLS cleartext header, shape)
before it is queued. :func:`sequence_post` runs inside the batch transaction,
synchronously, against a :class:`~cove.server.storage.base.BatchTxn`, and sees
every earlier post of the same batch — so compare-and-set and idempotency
work exactly as with one transaction per post
(``docs/decisions/0002-handshake-compare-and-set.md``): of several commits from
one position exactly one is appended, whether or not they share a batch.

:class:`MemberCache` keeps each group's member accounts (the fan-out list) in
memory; the posts of a batch keep it current, every other change of
membership drops the group's entry, and a failed batch drops all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cove.protocol.errors import DecodeError
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.mls_header import ContentType, WireFormat, peek_mls_header

from ..errors import (
    BadRequest,
    Forbidden,
    GroupNotFound,
    HandshakeConflict,
    InvalidMLSMessage,
    RelayError,
)
from ..storage.base import BatchTxn, DeviceRecord, MemberRecord

RANK = {"member": 0, "moderator": 1, "owner": 2}


def check_role(member: MemberRecord, at_least: str) -> None:
    if RANK[member.role] < RANK[at_least]:
        raise Forbidden(f"needs the {at_least} role")


def check_post(group_id: bytes, req: E.PostMessageRequest) -> bool:
    """Validate the MLS header and the request's shape; True for a handshake message."""
    try:
        header = peek_mls_header(req.message)
    except DecodeError as exc:
        raise InvalidMLSMessage(f"MLS message: {exc}") from None
    if not header.is_framed:
        raise InvalidMLSMessage("only PublicMessage or PrivateMessage go in a group log")
    if header.group_id != group_id:
        raise InvalidMLSMessage("the message's group id is not this group")
    if (
        header.wire_format is WireFormat.PUBLIC_MESSAGE
        and header.content_type is ContentType.APPLICATION
    ):
        raise InvalidMLSMessage("application messages must be PrivateMessage (RFC 9420 §6.2)")
    if header.is_handshake and req.position is None:
        raise BadRequest("a handshake message needs a position")
    if (req.welcome is None) != (req.welcome_devices is None):
        raise BadRequest("welcome and welcome_devices go together")
    if (req.welcome is not None or req.remove is not None) and not header.is_commit:
        raise BadRequest("additions and removals go only with a commit")
    if req.welcome is not None:
        try:
            welcome = peek_mls_header(req.welcome)
        except DecodeError as exc:
            raise InvalidMLSMessage(f"Welcome: {exc}") from None
        if welcome.wire_format is not WireFormat.WELCOME:
            raise InvalidMLSMessage("welcome is not a Welcome message")
    if req.welcome_devices is not None and len(set(req.welcome_devices)) != len(
        req.welcome_devices
    ):
        raise BadRequest("duplicate device in welcome_devices")
    return header.is_handshake


class MemberCache:
    """Group id -> the accounts in its access-control table."""

    def __init__(self, max_groups: int = 10_000) -> None:
        self._groups: dict[bytes, frozenset[bytes]] = {}
        self._max = max_groups

    def accounts(self, txn: BatchTxn, group_id: bytes) -> frozenset[bytes]:
        hit = self._groups.get(group_id)
        if hit is None:
            if len(self._groups) >= self._max:
                self._groups.clear()
            hit = self._groups[group_id] = frozenset(txn.member_accounts(group_id))
        return hit

    def set(self, group_id: bytes, accounts: frozenset[bytes]) -> None:
        self._groups[group_id] = accounts

    def forget(self, group_id: bytes) -> None:
        self._groups.pop(group_id, None)

    def clear(self) -> None:
        self._groups.clear()


@dataclass(frozen=True, slots=True)
class Post:
    """One queued post: who, where, what, and whether it is a handshake message."""

    account_id: bytes
    group_id: bytes
    req: E.PostMessageRequest
    handshake: bool


@dataclass(slots=True)
class Sequenced:
    """What a sequenced post releases once its batch is durable."""

    seq: int
    duplicate: bool
    recipients: list[bytes] = field(default_factory=list)  # accounts the message goes to
    removed: list[bytes] = field(default_factory=list)
    welcomes: list[tuple[bytes, bytes, int]] = field(default_factory=list)  # acct, device, inbox


def sequence_post(
    txn: BatchTxn, post: Post, now: int, max_members: int, members: MemberCache
) -> Sequenced:
    """Check ``post`` against the log and the access-control table and append it,
    or raise the :class:`~cove.server.errors.RelayError` that refuses it. Runs
    inside a savepoint of the batch transaction."""
    req, group_id = post.req, post.group_id
    me, group, earlier = txn.post_context(group_id, post.account_id, req.idempotency_key)
    if me is None or group is None:
        raise GroupNotFound()
    if earlier is not None:
        if earlier.data != req.message:
            raise RelayError("idempotency key reused", code=ErrorCode.IDEMPOTENCY_MISMATCH)
        return Sequenced(seq=earlier.seq, duplicate=True)
    current = members.accounts(txn, group_id)
    new_accounts, devices = _additions(txn, group_id, me, req, current, max_members)
    to_remove = _removals(txn, group_id, me, req)
    if post.handshake:
        assert req.position is not None
        if req.position > group.head_seq:
            raise BadRequest("position is beyond the end of the log")
        if group.handshake_seq > req.position:
            raise HandshakeConflict(group.handshake_seq)
    seq = txn.append_message(group, req.idempotency_key, post.handshake, now, req.message)
    out = Sequenced(seq=seq, duplicate=False)
    for account_id in new_accounts:
        txn.upsert_member(group_id, account_id, "member", seq)
    if req.welcome is not None:
        for device in devices:
            inbox_id = txn.insert_inbox(device.device_id, group_id, seq, now, req.welcome)
            out.welcomes.append((device.account_id, device.device_id, inbox_id))
    for account_id in to_remove:
        if txn.delete_member(group_id, account_id):
            out.removed.append(account_id)
    # accounts this commit added start after it (joined_seq), like their fetches;
    # the accounts it removed still get it (it tells them they were removed)
    out.recipients = [a for a in current if a not in to_remove] + out.removed
    if new_accounts or out.removed:
        members.set(group_id, (current | set(new_accounts)) - set(out.removed))
    return out


def _additions(
    txn: BatchTxn,
    group_id: bytes,
    me: MemberRecord,
    req: E.PostMessageRequest,
    current: frozenset[bytes],
    max_members: int,
) -> tuple[list[bytes], list[DeviceRecord]]:
    if req.welcome_devices is None:
        return [], []
    devices = txn.devices_by_ids(list(req.welcome_devices))
    if len(devices) != len(req.welcome_devices):
        raise BadRequest("unknown device in welcome_devices")
    new_accounts = sorted({d.account_id for d in devices} - current)
    for account_id in new_accounts:
        if txn.is_banned(group_id, account_id):
            raise RelayError("account is banned from this group", code=ErrorCode.ACCOUNT_BANNED)
        if account_id != me.account_id:
            check_role(me, "moderator")
    if len(current) + len(new_accounts) > max_members:
        raise Forbidden("the group is full")
    return new_accounts, devices


def _removals(
    txn: BatchTxn, group_id: bytes, me: MemberRecord, req: E.PostMessageRequest
) -> list[bytes]:
    if req.remove is None:
        return []
    check_role(me, "moderator")
    out = []
    for account_id in dict.fromkeys(req.remove):
        if account_id == me.account_id:
            raise BadRequest("leave with /leave, not by removing yourself")
        target = txn.member(group_id, account_id)
        if target is None:
            continue
        if RANK[target.role] >= RANK[me.role]:
            raise Forbidden("cannot remove a member of equal or higher role")
        out.append(account_id)
    return out
