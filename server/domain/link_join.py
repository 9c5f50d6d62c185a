"""An external commit through an open link, sequenced by the group commit.

The joiner is not in the group's access-control table, so her commit cannot go
through ``post_message``. She posts it to ``/v1/links/{link_id}/join`` with the
link's capability: the link id is named by the request's path (the relay never
reads the commit's authenticated data, where the link proof is), the relay
checks the capability before queueing and the link's state again inside the
batch, and then applies the same compare-and-set as any handshake message. If
the commit is appended the link's use is counted and the joiner's account joins
the table (as ``member``, reading after her commit) in the same transaction.

The count is the relay's restriction only: every member's client checks the
link proof and the link's caps in group state (``check_external_join``) and
never relies on the relay's counter.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from cove.protocol.errors import DecodeError
from cove.protocol.wire import envelopes as E
from cove.protocol.wire import link_envelopes as K
from cove.protocol.wire.codes import ErrorCode
from cove.protocol.wire.mls_header import peek_mls_header

from ..errors import BadRequest, Forbidden, HandshakeConflict, InvalidMLSMessage, RelayError
from ..storage.base import BatchTxn
from .link_checks import check_link
from .posting import MemberCache, Post, Sequenced


@dataclass(frozen=True, slots=True)
class LinkJoinPost(Post):
    """A queued external commit: ``group_id`` is the link's, ``capability`` is
    checked again in the batch."""

    link_id: bytes = b""
    capability: bytes = b""

    def __repr__(self) -> str:
        return f"LinkJoinPost(link={self.link_id.hex()})"


def check_link_join(group_id: bytes, link_id: bytes, caller_account: bytes,
                    req: K.LinkJoinPost) -> LinkJoinPost:  # fmt: skip
    """The request alone: an external commit (RFC 9420 §12.4.3.2) of this group."""
    try:
        header = peek_mls_header(req.message)
    except DecodeError as exc:
        raise InvalidMLSMessage(f"MLS message: {exc}") from None
    if not header.is_external_commit:
        raise InvalidMLSMessage("a link join is a PublicMessage commit by a new member")
    if header.group_id is None or not hmac.compare_digest(header.group_id, group_id):
        raise InvalidMLSMessage("the message's group id is not the link's group")
    as_post = E.PostMessageRequest(
        idempotency_key=req.idempotency_key, message=req.message, position=req.position
    )
    return LinkJoinPost(caller_account, group_id, as_post, True, link_id, req.capability)


def sequence_link_join(
    txn: BatchTxn, post: LinkJoinPost, now: int, max_members: int, members: MemberCache
) -> Sequenced:
    """Inside a savepoint of the batch: check the link, the log position and the
    group, append the commit, count the use, admit the account."""
    req, group_id = post.req, post.group_id
    group = txn.group(group_id)
    if group is None:
        raise BadRequest("the link's group is gone")
    earlier = txn.message_by_key(group_id, req.idempotency_key)
    if earlier is not None:  # a retry by a joiner whose first attempt was appended
        if earlier.data != req.message:
            raise RelayError("idempotency key reused", code=ErrorCode.IDEMPOTENCY_MISMATCH)
        return Sequenced(seq=earlier.seq, duplicate=True)
    link = check_link(txn.link(post.link_id), post.capability, now, mode="open", use=True)
    if link.group_id != group_id:
        raise BadRequest("the link's group changed")
    if txn.is_banned(group_id, post.account_id):
        raise RelayError("you are banned from this group", code=ErrorCode.ACCOUNT_BANNED)
    current = members.accounts(txn, group_id)
    joining = post.account_id not in current
    if joining and len(current) + 1 > max_members:
        raise Forbidden("the group is full")
    assert req.position is not None
    if req.position > group.head_seq:
        raise BadRequest("position is beyond the end of the log")
    if group.handshake_seq > req.position:
        raise HandshakeConflict(group.handshake_seq)
    seq = txn.append_message(group, req.idempotency_key, True, now, req.message)
    txn.count_link_use(post.link_id)
    out = Sequenced(seq=seq, duplicate=False, recipients=[a for a in current
                                                          if a != post.account_id])  # fmt: skip
    if joining:
        txn.upsert_member(group_id, post.account_id, "member", seq)
        members.set(group_id, current | {post.account_id})
    return out
