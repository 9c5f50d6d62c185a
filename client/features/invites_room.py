"""The moderators' group as a channel: the links, intake key pairs and handled join
requests a group's moderators share (records 53, 54 and 55,
``protocol/app/moderators_records.py``).

Sent by :mod:`.invites_links` (a new intake key pair) and :mod:`.invites_requests`
(an approval or a decline); received here, inside the sync transaction. A record
counts only in the moderators' group of the main group it names and only from a
moderator or owner of that main group, by identity key, in this member's own copy
of the main group; anything else is ignored (not kept).
"""

from __future__ import annotations

from typing import cast

from cove.client.features import Feature, Incoming, register
from cove.client.features import invites_store as S
from cove.client.features.moderation import roster_of
from cove.client.group_state import GroupStates
from cove.client.records import MessageView
from cove.protocol import OsRandom
from cove.protocol.app import AppRecord
from cove.protocol.app.moderators_records import (
    APPROVED,
    IntakeKeyShare,
    LinkShare,
    RequestHandled,
)
from cove.protocol.errors import CoveError
from cove.protocol.invites import INVITE_SUITE, IntakeKeyPair, parse_invite_link
from cove.protocol.mls.group.policy_hook import policed
from cove.protocol.policy import Capability, GroupPolicy, Role, register_record_rule, requires
from cove.protocol.policy import rules as R

__all__ = ["FEATURE", "moderators_group_id"]

MODERATORS_LABEL = b"cove moderators group v1"


def moderators_group_id(group_id: bytes) -> bytes:
    """``SHA-256("cove moderators group v1" || group_id)[:16]``."""
    import hashlib

    return hashlib.sha256(MODERATORS_LABEL + group_id).digest()[:16]


for _cls in (LinkShare, IntakeKeyShare, RequestHandled):
    # inside the moderators' group every member may send them; who counts is decided
    # on receipt against the main group (below)
    register_record_rule(
        _cls.RECORD_TYPE,
        requires(
            Capability.CAN_SEND_MESSAGE, R.RECORD_SENDER_NOT_MEMBER, "share a moderators' note"
        ),
    )


async def _is_moderator(incoming: Incoming, main_group: bytes) -> bool:
    states = GroupStates(OsRandom())
    if not await states.is_active(incoming.txn, main_group):
        return False
    _, group = await states.load(incoming.txn, main_group)
    if not policed(group.extensions):
        return False
    policy = GroupPolicy.from_extensions(group.extensions)
    if policy is None or not incoming.sender_key:
        return False
    if incoming.sender_key not in {m.identity_key for m in roster_of(group)}:
        return False
    return policy.role_of(incoming.sender_key, in_group=True) in (Role.MODERATOR, Role.OWNER)


async def receive(incoming: Incoming) -> MessageView | None:
    record = incoming.record
    assert isinstance(record, LinkShare | IntakeKeyShare | RequestHandled)
    if moderators_group_id(record.group) != incoming.group_id:
        return None
    if not await _is_moderator(incoming, record.group):
        return None
    if isinstance(record, LinkShare):
        try:
            link = parse_invite_link(record.url)
        except CoveError:
            return None
        questions = tuple(q for q in record.questions.split("\n") if 0 < len(q.encode()) <= 500)
        kept = S.KeptLink(
            record.group, link.url, record.mode, questions[:8], record.expires_at,
            record.max_uses, record.created_at,
        )  # fmt: skip
        await S.keep_link(incoming.txn, link.link_id, kept)
    elif isinstance(record, IntakeKeyShare):
        public = INVITE_SUITE.kem_public_key(record.private_key)
        pair = IntakeKeyPair(record.generation, record.private_key, public)
        await S.keep_intake(incoming.txn, record.group, pair)
    else:
        await S.mark_handled(incoming.txn, record.group, S.HandledRequest(
            record.request_id, record.key_package_hash,
            "approved" if record.outcome == APPROVED else "declined", incoming.now,
        ))  # fmt: skip
    return None


FEATURE = register(Feature("invites", (
    cast("type[AppRecord]", LinkShare), cast("type[AppRecord]", IntakeKeyShare),
    cast("type[AppRecord]", RequestHandled),
), receive))  # fmt: skip
